/* The recurrent family: RNN, GRU and LSTM. Each direction runs in its own
 * block. X * W^T plus the biases, for a chunk of time steps, is one product
 * up front; the recurrence then adds H * R^T one batch row at a time (rows
 * are independent, so they may run on threads) and applies the gate
 * equations. Every size is a literal; only sequence_lens is read at run
 * time: a row past its length holds its state and writes zeros to Y. */
#include <ctype.h>
#include <stdio.h>

#include "common.h"
#include "grad_rules.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

/* Elements of precomputed X * W^T kept on the stack: the chunk of time
 * steps is the longest that fits (and divides the sequence). */
#define RNN_XW_CAP 32768

enum { K_RNN, K_GRU, K_LSTM };
enum { IN_X, IN_W, IN_R, IN_B, IN_LENS, IN_H0, IN_C0, IN_P };
enum { OUT_Y, OUT_YH, OUT_YC };

typedef enum {
  A_RELU, A_TANH, A_SIGMOID, A_AFFINE, A_LEAKYRELU, A_THRESHOLDEDRELU, A_SCALEDTANH,
  A_HARDSIGMOID, A_ELU, A_SOFTSIGN, A_SOFTPLUS, A_COUNT
} act_kind;

/* Defaults are those of the ONNX operators of the same name. */
static const struct {
  const char *name;
  bool has_alpha, has_beta;
  double alpha, beta;
} act_info[A_COUNT] = {
    [A_RELU] = {"Relu", false, false, 0, 0},
    [A_TANH] = {"Tanh", false, false, 0, 0},
    [A_SIGMOID] = {"Sigmoid", false, false, 0, 0},
    [A_AFFINE] = {"Affine", true, true, 1.0, 0.0},
    [A_LEAKYRELU] = {"LeakyRelu", true, false, 0.01, 0},
    [A_THRESHOLDEDRELU] = {"ThresholdedRelu", true, false, 1.0, 0},
    [A_SCALEDTANH] = {"ScaledTanh", true, true, 1.0, 1.0},
    [A_HARDSIGMOID] = {"HardSigmoid", true, true, 0.2, 0.5},
    [A_ELU] = {"Elu", true, false, 1.0, 0},
    [A_SOFTSIGN] = {"Softsign", false, false, 0, 0},
    [A_SOFTPLUS] = {"Softplus", false, false, 0, 0},
};

typedef struct {
  act_kind kind;
  double alpha, beta;
} rnn_act;

#define RNN_MAX_ACTS 6 /* LSTM's f, g, h for two directions */

/* Everything about one node, read from its attributes and input shapes. */
typedef struct {
  int kind;
  int G;                   /* gates: 1, 3 or 4 */
  int nact;                /* activations per direction: 1, 2 or 3 */
  int64_t S, B, I, H, D;
  bool layout1;            /* X is [B, S, I] and states [B, D, H] */
  bool reverse;            /* the one direction runs backwards */
  ir_dtype t;
  rnn_act act[RNN_MAX_ACTS];
  bool has_clip;
  double clip;
  bool input_forget, lbr;  /* LSTM's coupled gates, GRU's linear_before_reset */
} rnn_desc;

static bool same_name(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
      return false;
  return *a == *b;
}

static void default_acts(rnn_desc *d) {
  static const act_kind dflt[3][3] = {{A_TANH}, {A_SIGMOID, A_TANH}, {A_SIGMOID, A_TANH, A_TANH}};
  for (int i = 0; i < d->nact * d->D; i++)
    d->act[i] = (rnn_act){dflt[d->kind][i % d->nact], 0, 0};
}

/* activation_alpha/beta: onnxruntime's RNN reads value i for activation i;
 * its GRU and LSTM, as the spec words it, hand values out in order to the
 * activations that take one. */
static void act_params(const ir_node *n, rnn_desc *d, int na) {
  const ir_attr *al = ir_attr_find(n, "activation_alpha"), *be = ir_attr_find(n, "activation_beta");
  int ai = 0, bi = 0;
  for (int i = 0; i < na; i++) {
    rnn_act *a = &d->act[i];
    a->alpha = act_info[a->kind].alpha;
    a->beta = act_info[a->kind].beta;
    if (d->kind == K_RNN)
      ai = bi = i;
    if (act_info[a->kind].has_alpha && al && ai < al->n)
      a->alpha = al->floats[ai++];
    if (act_info[a->kind].has_beta && be && bi < be->n)
      a->beta = be->floats[bi++];
  }
}

static nn_status parse_acts(ir_graph *g, const ir_node *n, rnn_desc *d) {
  const ir_attr *a = ir_attr_find(n, "activations");
  int na = (int)(d->nact * d->D);
  if (!a || a->n == 0) {
    default_acts(d);
    act_params(n, d, na);
    return NN_OK;
  }
  if (a->type != IR_ATTR_STRINGS || a->n != na)
    return diag_node(g->path, n, "'activations' must list %d functions (%d per direction)", na,
                     d->nact);
  for (int i = 0; i < na; i++) {
    int k = 0;
    while (k < A_COUNT && !same_name(a->strings[i], act_info[k].name))
      k++;
    if (k == A_COUNT)
      return diag_node(g->path, n, "unsupported activation '%s'", a->strings[i]);
    d->act[i].kind = (act_kind)k;
  }
  act_params(n, d, na);
  return NN_OK;
}

static nn_status parse_direction(ir_graph *g, const ir_node *n, rnn_desc *d) {
  const char *dir = ir_attr_string(n, "direction", "forward");
  d->D = 1;
  d->reverse = strcmp(dir, "reverse") == 0;
  if (strcmp(dir, "bidirectional") == 0)
    d->D = 2;
  else if (!d->reverse && strcmp(dir, "forward") != 0)
    return diag_node(g->path, n, "direction '%s' is not forward, reverse or bidirectional", dir);
  return NN_OK;
}

/* Checks that input k, when present, has the given dtype and dims. */
static nn_status check_input(ir_graph *g, const ir_node *n, int k, const char *what, ir_dtype t,
                             int rank, const int64_t *dims) {
  const ir_tensor *x = ir_in(n, k);
  if (!x)
    return NN_OK;
  if (x->dtype != t)
    return diag_node(g->path, n, "input %d '%s' has dtype %s, expected %s", k, what,
                     ir_dtype_name(x->dtype), ir_dtype_name(t));
  bool ok = x->rank == rank;
  for (int i = 0; ok && i < rank; i++)
    ok = x->dims[i] == dims[i];
  if (ok)
    return NN_OK;
  char have[128], want[128] = "[";
  size_t len = 1;
  for (int i = 0; i < rank; i++)
    len += (size_t)snprintf(want + len, sizeof want - len, "%s%lld", i ? "," : "",
                            (long long)dims[i]);
  snprintf(want + len, sizeof want - len, "]");
  return diag_node(g->path, n, "input %d '%s' has shape %s, expected %s", k, what,
                   ir_shape_str(x, have, sizeof have), want);
}

static nn_status parse_sizes(ir_graph *g, const ir_node *n, rnn_desc *d) {
  const ir_tensor *X = n->inputs[IN_X], *W = ir_in(n, IN_W), *R = ir_in(n, IN_R);
  if (!W || !R)
    return diag_node(g->path, n, "inputs W and R are required");
  if (X->rank != 3 || W->rank != 3 || R->rank != 3)
    return diag_node(g->path, n, "X, W and R must be 3-D, have ranks %d, %d and %d", X->rank,
                     W->rank, R->rank);
  int64_t layout = n->opset >= 14 ? ir_attr_int(n, "layout", 0) : 0;
  if (layout != 0 && layout != 1)
    return diag_node(g->path, n, "layout must be 0 or 1, is %lld", (long long)layout);
  d->layout1 = layout == 1;
  d->S = X->dims[d->layout1 ? 1 : 0];
  d->B = X->dims[d->layout1 ? 0 : 1];
  d->I = X->dims[2];
  d->H = ir_attr_int(n, "hidden_size", R->dims[2]);
  if (d->H != R->dims[2] || d->H < 0)
    return diag_node(g->path, n, "hidden_size %lld does not match R's last dimension %lld",
                     (long long)d->H, (long long)R->dims[2]);
  return NN_OK;
}

static nn_status check_inputs(ir_graph *g, const ir_node *n, const rnn_desc *d) {
  int64_t GH = d->G * d->H;
  int64_t w[3] = {d->D, GH, d->I}, r[3] = {d->D, GH, d->H}, b[2] = {d->D, 2 * GH};
  int64_t st[3] = {d->D, d->B, d->H}, p[2] = {d->D, 3 * d->H};
  if (d->layout1)
    st[0] = d->B, st[1] = d->D;
  const ir_tensor *L = ir_in(n, IN_LENS);
  if (L && (L->dtype != IR_INT32 && L->dtype != IR_INT64))
    return diag_node(g->path, n, "input 4 'sequence_lens' must be int32, is %s",
                     ir_dtype_name(L->dtype));
  if (check_input(g, n, IN_W, "W", d->t, 3, w) || check_input(g, n, IN_R, "R", d->t, 3, r) ||
      check_input(g, n, IN_B, "B", d->t, 2, b) ||
      check_input(g, n, IN_LENS, "sequence_lens", L ? L->dtype : IR_INT32, 1, &d->B) ||
      check_input(g, n, IN_H0, "initial_h", d->t, 3, st))
    return NN_ERR;
  if (d->kind == K_LSTM &&
      (check_input(g, n, IN_C0, "initial_c", d->t, 3, st) ||
       check_input(g, n, IN_P, "P", d->t, 2, p)))
    return NN_ERR;
  return NN_OK;
}

static nn_status parse_attrs(ir_graph *g, const ir_node *n, rnn_desc *d) {
  const ir_attr *c = ir_attr_find(n, "clip");
  d->has_clip = c != NULL;
  d->clip = ir_attr_float(n, "clip", 0);
  if (d->has_clip && !(d->clip > 0))
    return diag_node(g->path, n, "clip must be positive, is %g", d->clip);
  d->input_forget = d->kind == K_LSTM && ir_attr_int(n, "input_forget", 0) != 0;
  d->lbr = d->kind == K_GRU && ir_attr_int(n, "linear_before_reset", 0) != 0;
  return parse_acts(g, n, d);
}

/* Fills d from n, reporting any problem. */
static nn_status rnn_parse(ir_graph *g, const ir_node *n, rnn_desc *d) {
  static const int gates[3] = {1, 3, 4}, nacts[3] = {1, 2, 3}, max_in[3] = {6, 6, 8};
  memset(d, 0, sizeof *d);
  d->kind = strcmp(n->op_type, "RNN") == 0 ? K_RNN : strcmp(n->op_type, "GRU") == 0 ? K_GRU
                                                                                      : K_LSTM;
  d->G = gates[d->kind];
  d->nact = nacts[d->kind];
  if (n->n_inputs < 3 || n->n_inputs > max_in[d->kind] || !n->inputs[IN_X])
    return diag_node(g->path, n, "expects 3 to %d inputs, has %d", max_in[d->kind], n->n_inputs);
  if (n->n_outputs > (d->kind == K_LSTM ? 3 : 2))
    return diag_node(g->path, n, "has %d outputs, at most %d are allowed", n->n_outputs,
                     d->kind == K_LSTM ? 3 : 2);
  if (check_float(g, n, IN_X))
    return NN_ERR;
  d->t = n->inputs[IN_X]->dtype;
  if (parse_direction(g, n, d) || parse_sizes(g, n, d) || check_inputs(g, n, d))
    return NN_ERR;
  return parse_attrs(g, n, d);
}

static nn_status infer_rnn(ir_graph *g, ir_node *n) {
  rnn_desc d;
  if (rnn_parse(g, n, &d))
    return NN_ERR;
  int64_t y[4] = {d.S, d.D, d.B, d.H}, st[3] = {d.D, d.B, d.H};
  if (d.layout1) {
    y[0] = d.B, y[1] = d.S, y[2] = d.D;
    st[0] = d.B, st[1] = d.D;
  }
  if (ir_out(n, OUT_Y))
    ir_set_shape(n->outputs[OUT_Y], d.t, 4, y);
  for (int k = OUT_YH; k <= OUT_YC; k++)
    if (ir_out(n, k))
      ir_set_shape(n->outputs[k], d.t, 3, st);
  return NN_OK;
}

/* ---- emission ---- */

static const char *lit(emit_ctx *e, const rnn_desc *d, double v) {
  return emit_literal(e, d->t, v);
}

/* The activation applied to variable x, as a C expression. */
static const char *act_expr(emit_ctx *e, const rnn_desc *d, rnn_act a, const char *x) {
  const char *al = lit(e, d, a.alpha), *be = lit(e, d, a.beta), *one = lit(e, d, 1);
  const char *zero = lit(e, d, 0);
  switch (a.kind) {
  case A_RELU: return FMT("(%s > %s ? %s : %s)", x, zero, x, zero);
  case A_TANH: return FMT("%s(%s)", math_fn(e, "tanh", d->t), x);
  case A_SIGMOID: return FMT("%s / (%s + %s(-%s))", one, one, math_fn(e, "exp", d->t), x);
  case A_AFFINE: return FMT("(%s * %s + %s)", al, x, be);
  case A_LEAKYRELU: return FMT("(%s >= %s ? %s : %s * %s)", x, zero, x, al, x);
  case A_THRESHOLDEDRELU: return FMT("(%s > %s ? %s : %s)", x, al, x, zero);
  case A_SCALEDTANH: return FMT("%s * %s(%s * %s)", al, math_fn(e, "tanh", d->t), be, x);
  case A_HARDSIGMOID:
    return FMT("%s(%s(%s * %s + %s, %s), %s)", math_fn(e, "fmin", d->t), math_fn(e, "fmax", d->t),
               al, x, be, zero, one);
  case A_ELU:
    return FMT("(%s >= %s ? %s : %s * (%s(%s) - %s))", x, zero, x, al, math_fn(e, "exp", d->t), x,
               one);
  case A_SOFTSIGN: return FMT("(%s / (%s + %s(%s)))", x, one, math_fn(e, "fabs", d->t), x);
  case A_SOFTPLUS: /* log(1 + e^x) without overflow for large x */
    return FMT("(%s > %s ? %s + %s(%s(-%s)) : %s(%s(%s)))", x, zero, x, math_fn(e, "log1p", d->t),
               math_fn(e, "exp", d->t), x, math_fn(e, "log1p", d->t), math_fn(e, "exp", d->t), x);
  case A_COUNT: break;
  }
  NN_BUG("act_expr: unknown activation");
}

/* Declares `name` = act(clip(pre)). */
static void emit_gate(emit_ctx *e, const rnn_desc *d, const char *name, const char *pre, rnn_act a) {
  const char *ct = ir_dtype_ctype(d->t);
  emit_line(e, "%s %s = %s;", ct, name, pre);
  if (d->has_clip) {
    const char *c = lit(e, d, d->clip);
    emit_line(e, "%s = %s < -%s ? -%s : %s > %s ? %s : %s;", name, name, c, c, name, c, c, name);
  }
  emit_line(e, "%s = %s;", name, act_expr(e, d, a, name));
}

/* "v1 * c1 + v2 * c2 + off" as C text, leaving out zero terms and "* 1";
 * v2 may be NULL. */
static const char *lin(emit_ctx *e, const char *v1, int64_t c1, const char *v2, int64_t c2,
                       int64_t off) {
  const char *s = c1 ? emit_scaled(e, v1, c1) : NULL;
  if (v2 && c2)
    s = s ? FMT("%s + %s", s, emit_scaled(e, v2, c2)) : emit_scaled(e, v2, c2);
  if (off)
    s = s ? FMT("%s + %lld", s, (long long)off) : FMT("%lld", (long long)off);
  return s ? s : "0";
}

/* Offsets (in elements) of row b at time t of direction dir in Y, and in a
 * state tensor (initial_h, Y_h...). t and b are C expressions. */
static const char *y_off(emit_ctx *e, const rnn_desc *d, int dir, const char *t, const char *b) {
  if (d->layout1)
    return lin(e, b, d->S * d->D * d->H, t, d->D * d->H, dir * d->H);
  return lin(e, t, d->D * d->B * d->H, b, d->H, dir * d->B * d->H);
}

static const char *state_off(emit_ctx *e, const rnn_desc *d, int dir, const char *b) {
  if (d->layout1)
    return lin(e, b, d->D * d->H, NULL, 0, dir * d->H);
  return lin(e, b, d->H, NULL, 0, dir * d->B * d->H);
}

/* Copies a state between the local array `local` and tensor `ext`
 * (to_local: ext -> local). */
static void emit_state_copy(emit_ctx *e, const rnn_desc *d, int dir, const char *local,
                            const char *ext, bool to_local) {
  size_t row = (size_t)d->H * ir_dtype_size(d->t);
  if (!d->layout1) { /* one run: the direction's [B, H] block */
    const char *x = FMT("%s + %lld", ext, (long long)(dir * d->B * d->H));
    emit_line(e, "memcpy(%s, %s, %zu);", to_local ? local : x, to_local ? x : local,
              row * (size_t)d->B);
    return;
  }
  emit_for(e, "b", d->B);
  const char *l = FMT("%s + b * %lld", local, (long long)d->H);
  const char *x = FMT("%s + %s", ext, state_off(e, d, dir, "b"));
  emit_line(e, "memcpy(%s, %s, %zu);", to_local ? l : x, to_local ? x : l, row);
  emit_close(e);
}

/* The bias added to xw column j (both W's and R's, except GRU's Rbh under
 * linear_before_reset, which the step adds inside r * (...)). */
static const char *xw_bias(emit_ctx *e, const ir_node *n, const rnn_desc *d, int dir) {
  if (!ir_in(n, IN_B))
    return lit(e, d, 0);
  int64_t GH = d->G * d->H, off = dir * 2 * GH;
  if (d->lbr)
    return FMT("in3[%s] + (j < %lld ? in3[%s] : %s)", lin(e, "j", 1, NULL, 0, off),
               (long long)(2 * d->H), lin(e, "j", 1, NULL, 0, off + GH), lit(e, d, 0));
  return FMT("in3[%s] + in3[%s]", lin(e, "j", 1, NULL, 0, off),
             lin(e, "j", 1, NULL, 0, off + GH));
}

/* xw[r][j] = X(t0 + r / B, r % B) . W[dir][j] + bias, r over tc * B rows. */
static void emit_xw(emit_ctx *e, const ir_node *n, const rnn_desc *d, int dir, int64_t tc) {
  const char *ct = ir_dtype_ctype(d->t);
  int64_t GH = d->G * d->H;
  emit_parallel_for(e, "r", tc * d->B, 2 * GH * d->I + 1);
  /* layout 0 holds a chunk's rows in order */
  const char *x = d->layout1 ? lin(e, FMT("(r %% %lld)", (long long)d->B), d->S * d->I,
                                   FMT("(t0 + r / %lld)", (long long)d->B), d->I, 0)
                             : lin(e, "t0", d->B * d->I, "r", d->I, 0);
  emit_line(e, "const %s *restrict x = in0 + %s;", ct, x);
  emit_for(e, "j", GH);
  emit_line(e, "const %s *restrict w = in1 + %s;", ct, lin(e, "j", d->I, NULL, 0, dir * GH * d->I));
  emit_line(e, "%s acc = %s;", ct, xw_bias(e, n, d, dir));
  emit_simd_sum(e, "acc");
  emit_for(e, "k", d->I);
  emit_line(e, "acc += x[k] * w[k];");
  emit_close(e);
  emit_line(e, "xw[r * %lld + j] = acc;", (long long)GH);
  emit_close(e);
  emit_close(e);
}

/* hr[j] = v . R[dir][j] for j in [j0, j1): v is this row's state (or r * h). */
static void emit_hr(emit_ctx *e, const rnn_desc *d, int dir, const char *v, int64_t j0,
                    int64_t j1) {
  const char *ct = ir_dtype_ctype(d->t);
  emit_open(e, "for (int64_t j = %lld; j < %lld; j++)", (long long)j0, (long long)j1);
  emit_line(e, "const %s *restrict rw = in2 + %s;", ct,
            lin(e, "j", d->H, NULL, 0, dir * d->G * d->H * d->H));
  emit_line(e, "%s acc = %s;", ct, lit(e, d, 0));
  emit_simd_sum(e, "acc");
  emit_for(e, "k", d->H);
  emit_line(e, "acc += %s[k] * rw[k];", v);
  emit_close(e);
  emit_line(e, "hr[j] = acc;");
  emit_close(e);
}

/* Stores the new state value hn of element j: the state, and Y if wanted. */
static void emit_store_h(emit_ctx *e, const ir_node *n, const rnn_desc *d, const char *hn) {
  emit_line(e, "const %s hn = %s;", ir_dtype_ctype(d->t), hn);
  emit_line(e, "hb[j] = hn;");
  if (ir_out(n, OUT_Y))
    emit_line(e, "yb[j] = hn;");
}

static void emit_rnn_cell(emit_ctx *e, const ir_node *n, const rnn_desc *d, int dir) {
  emit_hr(e, d, dir, "hb", 0, d->H);
  emit_for(e, "j", d->H);
  emit_gate(e, d, "a", "g[j] + hr[j]", d->act[dir]);
  emit_store_h(e, n, d, "a");
  emit_close(e);
}

/* Peephole term "+ in7[..] * c" for gate k (P is [i, o, f]), or "". */
static const char *peep(emit_ctx *e, const ir_node *n, const rnn_desc *d, int dir, int k,
                        const char *c) {
  if (!ir_in(n, IN_P))
    return "";
  return FMT(" + in7[%s] * %s", lin(e, "j", 1, NULL, 0, (dir * 3 + k) * d->H), c);
}

/* Gates in W's order i, o, f, c; activations f, g, h. */
static void emit_lstm_cell(emit_ctx *e, const ir_node *n, const rnn_desc *d, int dir) {
  const rnn_act *a = &d->act[dir * 3];
  int64_t H = d->H;
  emit_hr(e, d, dir, "hb", 0, 4 * H);
  emit_for(e, "j", H);
  emit_gate(e, d, "gi", FMT("g[j] + hr[j]%s", peep(e, n, d, dir, 0, "cb[j]")), a[0]);
  if (d->input_forget)
    emit_line(e, "const %s gf = %s - gi;", ir_dtype_ctype(d->t), lit(e, d, 1));
  else
    emit_gate(e, d, "gf", FMT("g[j + %lld] + hr[j + %lld]%s", (long long)(2 * H),
                              (long long)(2 * H), peep(e, n, d, dir, 2, "cb[j]")), a[0]);
  emit_gate(e, d, "gc", FMT("g[j + %lld] + hr[j + %lld]", (long long)(3 * H), (long long)(3 * H)),
            a[1]);
  emit_line(e, "const %s cn = gf * cb[j] + gi * gc;", ir_dtype_ctype(d->t));
  emit_gate(e, d, "go", FMT("g[j + %lld] + hr[j + %lld]%s", (long long)H, (long long)H,
                            peep(e, n, d, dir, 1, "cn")), a[0]);
  emit_line(e, "cb[j] = cn;");
  emit_store_h(e, n, d, FMT("go * %s", act_expr(e, d, a[2], "cn")));
  emit_close(e);
}

/* Gates in W's order z, r, h; activations f, g. Without linear_before_reset
 * the h gate needs (r * H) * Rh^T, so z and r come first. */
static void emit_gru_cell(emit_ctx *e, const ir_node *n, const rnn_desc *d, int dir) {
  const rnn_act *a = &d->act[dir * 2];
  const char *ct = ir_dtype_ctype(d->t);
  int64_t H = d->H;
  emit_hr(e, d, dir, "hb", 0, d->lbr ? 3 * H : 2 * H);
  if (!d->lbr)
    emit_line(e, "%s rh[%lld];", ct, (long long)H);
  emit_for(e, "j", H);
  emit_gate(e, d, "gz", "g[j] + hr[j]", a[0]);
  emit_gate(e, d, "gr", FMT("g[j + %lld] + hr[j + %lld]", (long long)H, (long long)H), a[0]);
  emit_line(e, "hr[j] = gz;");
  if (d->lbr) {
    const char *rb =
        ir_in(n, IN_B) ? FMT(" + in3[%s]", lin(e, "j", 1, NULL, 0, (dir * 6 + 5) * H)) : "";
    emit_line(e, "hr[j + %lld] = gr * (hr[j + %lld]%s);", (long long)H, (long long)(2 * H), rb);
  } else {
    emit_line(e, "rh[j] = gr * hb[j];");
  }
  emit_close(e);
  if (!d->lbr)
    emit_hr(e, d, dir, "rh", 2 * H, 3 * H);
  emit_for(e, "j", H);
  emit_gate(e, d, "gh", FMT("g[j + %lld] + hr[j + %lld]", (long long)(2 * H),
                            (long long)(d->lbr ? H : 2 * H)), a[1]);
  emit_store_h(e, n, d, FMT("(%s - hr[j]) * gh + hr[j] * hb[j]", lit(e, d, 1)));
  emit_close(e);
}

/* One time step t, local index s in the chunk: every batch row. */
static void emit_step(emit_ctx *e, const ir_node *n, const rnn_desc *d, int dir) {
  const char *ct = ir_dtype_ctype(d->t);
  int64_t GH = d->G * d->H;
  emit_parallel_for(e, "b", d->B, 2 * GH * d->H + 1);
  if (ir_out(n, OUT_Y))
    emit_line(e, "%s *restrict yb = out0 + %s;", ct, y_off(e, d, dir, "t", "b"));
  if (ir_in(n, IN_LENS)) { /* past its length a row holds its state */
    emit_open(e, "if (t >= in4[b])");
    if (ir_out(n, OUT_Y))
      emit_line(e, "memset(yb, 0, %zu);", (size_t)d->H * ir_dtype_size(d->t));
    emit_line(e, "continue;");
    emit_close(e);
  }
  emit_line(e, "%s *restrict hb = h + b * %lld;", ct, (long long)d->H);
  if (d->kind == K_LSTM)
    emit_line(e, "%s *restrict cb = c + b * %lld;", ct, (long long)d->H);
  emit_line(e, "const %s *restrict g = xw + (s * %lld + b) * %lld;", ct, (long long)d->B,
            (long long)GH);
  emit_line(e, "%s hr[%lld];", ct, (long long)GH);
  if (d->kind == K_RNN)
    emit_rnn_cell(e, n, d, dir);
  else if (d->kind == K_GRU)
    emit_gru_cell(e, n, d, dir);
  else
    emit_lstm_cell(e, n, d, dir);
  emit_close(e);
}

/* The longest chunk of time steps whose xw fits RNN_XW_CAP and divides S. */
static int64_t chunk_steps(const rnn_desc *d) {
  int64_t row = d->B * d->G * d->H, best = 1;
  for (int64_t tc = 1; tc <= d->S; tc++)
    if (d->S % tc == 0 && tc * row <= RNN_XW_CAP)
      best = tc;
  return best;
}

/* Opens a loop of var from 0 to n - 1 in steps of `step`, or backwards;
 * one iteration is a plain block. */
static void emit_steps(emit_ctx *e, const char *var, int64_t n, int64_t step, bool rev) {
  if (n == step) {
    emit_open(e, "%s", "");
    emit_line(e, "const int64_t %s = 0;", var);
  } else if (!rev && step == 1) {
    emit_for(e, var, n);
  } else if (rev && step == 1) {
    emit_open(e, "for (int64_t %s = %lld; %s >= 0; %s--)", var, (long long)(n - 1), var, var);
  } else if (rev) {
    emit_open(e, "for (int64_t %s = %lld; %s >= 0; %s -= %lld)", var, (long long)(n - step), var,
              var, (long long)step);
  } else {
    emit_open(e, "for (int64_t %s = 0; %s < %lld; %s += %lld)", var, var, (long long)n, var,
              (long long)step);
  }
}

/* Chunks of tc steps, in time order for this direction, each starting with
 * its X * W^T. */
static void emit_time_loop(emit_ctx *e, const ir_node *n, const rnn_desc *d, int dir, bool rev) {
  int64_t tc = chunk_steps(d);
  emit_line(e, "%s xw[%lld];", ir_dtype_ctype(d->t), (long long)(tc * d->B * d->G * d->H));
  emit_steps(e, "t0", d->S, tc, rev);
  emit_xw(e, n, d, dir, tc);
  emit_steps(e, "s", tc, 1, rev);
  if (ir_out(n, OUT_Y) || ir_in(n, IN_LENS))
    emit_line(e, "const int64_t t = t0 + s;");
  emit_step(e, n, d, dir);
  emit_close(e);
  emit_close(e);
}

static void emit_direction(emit_ctx *e, const ir_node *n, const rnn_desc *d, int dir) {
  const char *ct = ir_dtype_ctype(d->t);
  bool rev = d->D == 2 ? dir == 1 : d->reverse;
  int64_t BH = d->B * d->H;
  emit_open(e, "/* %s */", rev ? "reverse" : "forward");
  emit_line(e, "%s h[%lld];", ct, (long long)BH);
  if (ir_in(n, IN_H0))
    emit_state_copy(e, d, dir, "h", "in5", true);
  else
    emit_line(e, "memset(h, 0, sizeof h);");
  if (d->kind == K_LSTM) {
    emit_line(e, "%s c[%lld];", ct, (long long)BH);
    if (ir_in(n, IN_C0))
      emit_state_copy(e, d, dir, "c", "in6", true);
    else
      emit_line(e, "memset(c, 0, sizeof c);");
  }
  if (d->S > 0)
    emit_time_loop(e, n, d, dir, rev);
  if (ir_out(n, OUT_YH))
    emit_state_copy(e, d, dir, "h", "out1", false);
  if (ir_out(n, OUT_YC))
    emit_state_copy(e, d, dir, "c", "out2", false);
  emit_close(e);
}

static void emit_rnn(emit_ctx *e, const ir_node *n) {
  rnn_desc d;
  NN_ASSERT(rnn_parse(e->g, n, &d) == NN_OK);
  if (d.B * d.H == 0) /* every output is empty */
    return;
  for (int dir = 0; dir < d.D; dir++)
    emit_direction(e, n, &d, dir);
}

const op_def op_family_recurrent[] = {
    {"RNN", "", infer_rnn, NULL, emit_rnn, 0, .grad = grad_recurrent},
    {"GRU", "", infer_rnn, NULL, emit_rnn, 0, .grad = grad_recurrent},
    {"LSTM", "", infer_rnn, NULL, emit_rnn, 0, .grad = grad_recurrent},
    {NULL},
};
