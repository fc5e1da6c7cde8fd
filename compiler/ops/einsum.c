/* Einsum: any equation, explicit ("ij,jk->ik") or implicit ("ij,jk"), with
 * repeated labels (diagonals), summed labels and a broadcasting ellipsis.
 * The equation is parsed into labels with sizes; the kernel is one loop per
 * output label, one per summed label inside, and a product of the inputs
 * read at label-linear offsets (a repeated label adds both strides). It is
 * direct rather than fast: MatMul-shaped equations are better written as MatMul. */
#include <ctype.h>
#include <stdio.h>

#include "common.h"

#define EIN_LETTERS 52                        /* a-z, A-Z */
#define EIN_LABELS (EIN_LETTERS + IR_MAX_RANK) /* letters, then the ellipsis dims */
#define EIN_MAX_INPUTS 8

typedef struct einsum_plan {
  int64_t size[EIN_LABELS];
  bool used[EIN_LABELS];
  int ell_rank;                               /* dims the ellipsis stands for */
  int n_out, out[IR_MAX_RANK];                /* output labels, in order */
  int n_sum, sum[EIN_LABELS];                 /* labels summed over */
  int label[EIN_MAX_INPUTS][IR_MAX_RANK];     /* the label of each input dim */
} einsum_plan;

static int letter_id(char c) {
  return islower((unsigned char)c) ? c - 'a' : 26 + (c - 'A');
}

/* A letter label as the equation writes it, for messages. */
static char label_char(int id) {
  return (char)(id < 26 ? 'a' + id : 'A' + id - 26);
}

/* Reads one term (letters and at most one "...") into ids; ell marks where the
 * ellipsis sits (-1: none). Returns the letter count, or -1 when malformed. */
static int read_term(const char **p, const char *stop, int *ids, int *ell) {
  int count = 0;
  *ell = -1;
  for (const char *s = *p; s < stop; s++) {
    if (*s == ' ')
      continue;
    if (*s == '.') {
      if (*ell >= 0 || stop - s < 3 || s[1] != '.' || s[2] != '.')
        return -1;
      *ell = count;
      s += 2;
    } else if (isalpha((unsigned char)*s) && count < IR_MAX_RANK) {
      ids[count++] = letter_id(*s);
    } else {
      return -1;
    }
  }
  *p = stop;
  return count;
}

/* Gives input k's dims their labels and the labels their sizes. */
static nn_status bind_input(ir_graph *g, const ir_node *n, einsum_plan *pl, int k,
                            const int *ids, int letters, int ell) {
  const ir_tensor *t = n->inputs[k];
  int er = ell < 0 ? 0 : t->rank - letters;
  if (er < 0 || (ell < 0 && letters != t->rank))
    return diag_node(g->path, n, "term %d of the equation has %d labels but input %d has rank %d",
                     k, letters, k, t->rank);
  if (ell >= 0 && pl->ell_rank >= 0 && er != pl->ell_rank)
    return diag_node(g->path, n, "the ellipsis stands for %d dims in input %d but %d before", er,
                     k, pl->ell_rank);
  if (ell >= 0)
    pl->ell_rank = er;
  for (int d = 0, li = 0; d < t->rank; d++) {
    bool in_ell = ell >= 0 && d >= ell && d < ell + er;
    int id = in_ell ? EIN_LETTERS + (d - ell) : ids[li++];
    pl->label[k][d] = id;
    int64_t have = pl->used[id] ? pl->size[id] : 1, want = t->dims[d];
    if (pl->used[id] && have != want && !(in_ell && (have == 1 || want == 1))) {
      if (in_ell)
        return diag_node(g->path, n, "ellipsis dim %d of input %d has size %lld, which does not "
                         "broadcast with %lld elsewhere", d, k, (long long)want, (long long)have);
      return diag_node(g->path, n, "label '%c' has size %lld in input %d (dim %d) but %lld "
                       "elsewhere", label_char(id), (long long)want, k, d, (long long)have);
    }
    pl->size[id] = want > have || !pl->used[id] ? want : have;
    pl->used[id] = true;
  }
  return NN_OK;
}

/* Implicit output: the ellipsis dims, then the letters used exactly once, in
 * ASCII order (upper case first). */
static void implicit_output(einsum_plan *pl, const int *count) {
  pl->n_out = 0;
  for (int k = 0; k < pl->ell_rank; k++)
    pl->out[pl->n_out++] = EIN_LETTERS + k;
  for (int id = 26; id < EIN_LETTERS; id++)
    if (count[id] == 1 && pl->n_out < IR_MAX_RANK)
      pl->out[pl->n_out++] = id;
  for (int id = 0; id < 26; id++)
    if (count[id] == 1 && pl->n_out < IR_MAX_RANK)
      pl->out[pl->n_out++] = id;
}

static nn_status parse_output(ir_graph *g, const ir_node *n, einsum_plan *pl, const char *rhs,
                              const char *end) {
  int ids[IR_MAX_RANK], ell, letters = read_term(&rhs, end, ids, &ell);
  if (letters < 0 || letters + (ell >= 0 ? pl->ell_rank : 0) > IR_MAX_RANK)
    return diag_node(g->path, n, "malformed output term in the equation");
  if (ell >= 0 && pl->ell_rank < 0)
    return diag_node(g->path, n, "the output has an ellipsis but no input does");
  pl->n_out = 0;
  for (int i = 0; i < letters; i++) {
    if (i == ell)
      for (int k = 0; k < pl->ell_rank; k++)
        pl->out[pl->n_out++] = EIN_LETTERS + k;
    if (!pl->used[ids[i]])
      return diag_node(g->path, n, "output label '%c' is not in any input", label_char(ids[i]));
    for (int j = 0; j < i; j++)
      if (ids[j] == ids[i])
        return diag_node(g->path, n, "output label '%c' appears twice", label_char(ids[i]));
    pl->out[pl->n_out++] = ids[i];
  }
  if (ell == letters)
    for (int k = 0; k < pl->ell_rank; k++)
      pl->out[pl->n_out++] = EIN_LETTERS + k;
  if (pl->ell_rank > 0 && ell < 0)
    return diag_node(g->path, n, "the inputs have an ellipsis but the output has none");
  return NN_OK;
}

static nn_status einsum_parse(ir_graph *g, const ir_node *n, einsum_plan *pl) {
  const char *eq = ir_attr_string(n, "equation", NULL);
  if (!eq)
    return diag_node(g->path, n, "attribute 'equation' is missing");
  if (n->n_inputs > EIN_MAX_INPUTS)
    return diag_node(g->path, n, "has %d inputs; nncc's Einsum takes at most %d", n->n_inputs,
                     EIN_MAX_INPUTS);
  memset(pl, 0, sizeof *pl);
  pl->ell_rank = -1;
  const char *arrow = strstr(eq, "->"), *lhs_end = arrow ? arrow : eq + strlen(eq), *p = eq;
  int count[EIN_LETTERS] = {0};
  for (int k = 0; k < n->n_inputs; k++) {
    const char *comma = memchr(p, ',', (size_t)(lhs_end - p));
    const char *stop = comma && k < n->n_inputs - 1 ? comma : lhs_end;
    int ids[IR_MAX_RANK], ell, letters = read_term(&p, stop, ids, &ell);
    if (letters < 0)
      return diag_node(g->path, n, "malformed term %d in equation '%s'", k, eq);
    if (!n->inputs[k])
      return diag_node(g->path, n, "input %d is missing", k);
    if (bind_input(g, n, pl, k, ids, letters, ell))
      return NN_ERR;
    for (int i = 0; i < letters; i++)
      count[ids[i]]++;
    if (k < n->n_inputs - 1) {
      if (p >= lhs_end)
        return diag_node(g->path, n, "equation '%s' has fewer terms than the %d inputs", eq,
                         n->n_inputs);
      p++; /* the comma */
    }
  }
  if (p != lhs_end)
    return diag_node(g->path, n, "equation '%s' has more terms than the %d inputs", eq,
                     n->n_inputs);
  if (pl->ell_rank < 0)
    pl->ell_rank = 0;
  if (arrow) {
    if (parse_output(g, n, pl, arrow + 2, arrow + strlen(arrow)))
      return NN_ERR;
  } else {
    implicit_output(pl, count);
  }
  bool in_out[EIN_LABELS] = {false};
  for (int i = 0; i < pl->n_out; i++)
    in_out[pl->out[i]] = true;
  for (int id = 0; id < EIN_LABELS; id++)
    if (pl->used[id] && !in_out[id])
      pl->sum[pl->n_sum++] = id;
  return NN_OK;
}

static nn_status infer_einsum(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1 << 10))
    return NN_ERR;
  einsum_plan pl;
  if (einsum_parse(g, n, &pl))
    return NN_ERR;
  ir_dtype t = n->inputs[0]->dtype;
  if (t == IR_BOOL || t == IR_FLOAT16 || t == IR_BFLOAT16)
    return diag_node(g->path, n, "input 0 has dtype %s; Einsum takes float, double or integers",
                     ir_dtype_name(t));
  for (int k = 1; k < n->n_inputs; k++)
    if (n->inputs[k]->dtype != t)
      return diag_node(g->path, n, "input %d has dtype %s but input 0 has %s", k,
                       ir_dtype_name(n->inputs[k]->dtype), ir_dtype_name(t));
  int64_t dims[IR_MAX_RANK];
  for (int i = 0; i < pl.n_out; i++)
    dims[i] = pl.size[pl.out[i]];
  ir_set_shape(n->outputs[0], t, pl.n_out, dims);
  return NN_OK;
}

/* C name of a label's loop variable: l_a, l_B, or e0.. for ellipsis dims. */
static const char *label_var(emit_ctx *e, int id) {
  if (id >= EIN_LETTERS)
    return mem_printf(e->g->mem, "e%d", id - EIN_LETTERS);
  return mem_printf(e->g->mem, "l_%c", label_char(id));
}

/* Offset of input k's element at the current label values; a dim of size 1
 * under a larger ellipsis label broadcasts (stride 0). */
static const char *input_offset(emit_ctx *e, const ir_node *n, const einsum_plan *pl, int k) {
  const ir_tensor *t = n->inputs[k];
  int64_t strides[IR_MAX_RANK];
  emit_strides(t, strides);
  char buf[512];
  size_t at = 0;
  for (int d = 0; d < t->rank; d++) {
    if (t->dims[d] == 1)
      continue;
    at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", at ? " + " : "",
                           emit_scaled(e, label_var(e, pl->label[k][d]), strides[d]));
    NN_ASSERT(at < sizeof buf);
  }
  return at ? mem_strdup(e->g->mem, buf) : "0";
}

static void emit_einsum(emit_ctx *e, const ir_node *n) {
  const ir_tensor *y = n->outputs[0];
  if (ir_numel(y) == 0)
    return;
  einsum_plan pl;
  einsum_parse(e->g, n, &pl);
  bool fl = y->dtype == IR_FLOAT || y->dtype == IR_DOUBLE;
  int64_t inner = 1;
  for (int i = 0; i < pl.n_sum; i++)
    inner *= pl.size[pl.sum[i]];
  int64_t ystrides[IR_MAX_RANK];
  emit_strides(y, ystrides);
  char yidx[512] = "0";
  size_t at = 0;
  for (int i = 0; i < pl.n_out; i++) {
    int64_t rest = ir_numel(y) / pl.size[pl.out[i]];
    if (i == 0)
      emit_parallel_for(e, label_var(e, pl.out[i]), pl.size[pl.out[i]], rest * inner * n->n_inputs);
    else
      emit_for(e, label_var(e, pl.out[i]), pl.size[pl.out[i]]);
    at += (size_t)snprintf(yidx + at, sizeof yidx - at, "%s%s", at ? " + " : "",
                           emit_scaled(e, label_var(e, pl.out[i]), ystrides[i]));
  }
  /* Floats sum in double; integers in their own type, wrapping as the runtime's do. */
  emit_line(e, "%s acc = 0;", fl ? "double" : ir_dtype_ctype(y->dtype));
  for (int i = 0; i < pl.n_sum; i++)
    emit_for(e, label_var(e, pl.sum[i]), pl.size[pl.sum[i]]);
  char prod[1024];
  size_t pat = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    pat += (size_t)snprintf(prod + pat, sizeof prod - pat, "%s%sin%d[%s]", k ? " * " : "",
                            fl && k == 0 ? "(double)" : "", k, input_offset(e, n, &pl, k));
    NN_ASSERT(pat < sizeof prod);
  }
  emit_line(e, "acc += %s;", prod);
  for (int i = 0; i < pl.n_sum; i++)
    emit_close(e);
  emit_line(e, "out0[%s] = (%s)acc;", yidx, ir_dtype_ctype(y->dtype));
  for (int i = 0; i < pl.n_out; i++)
    emit_close(e);
}

const op_def op_family_einsum[] = {
    {"Einsum", "", infer_einsum, NULL, emit_einsum, 0},
    {NULL},
};
