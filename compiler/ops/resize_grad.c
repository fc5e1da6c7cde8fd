/* The gradient of Resize and Upsample: each output gradient goes back to
 * the input elements its output read, times their weights, through the
 * forward's own tap tables (resize_taps.h), so every mode and coordinate
 * transform has its exact transpose.
 *
 *   nncc::ResizeGrad(X, roi, scales, sizes, dY) -> dX
 *
 * Inputs before dY are the forward's, read as a Resize of the node's opset
 * (the rule gives the node its forward's opset and attributes); X is read
 * only for its shape; roi, scales and sizes must be constants. */
#include <stdio.h>

#include "common.h"
#include "grad_rules.h"
#include "resize_taps.h"

static nn_status infer_resize_grad(ir_graph *g, ir_node *n) {
  if (n->n_inputs < 2 || !n->inputs[0] || !n->inputs[n->n_inputs - 1] || n->n_outputs != 1)
    return diag_node(g->path, n, "expects X, the forward's other inputs, dY; and one output");
  const ir_tensor *x = n->inputs[0], *dy = n->inputs[n->n_inputs - 1];
  if (check_float(g, n, 0) || check_float(g, n, n->n_inputs - 1))
    return NN_ERR;
  resize_params rp;
  if (resize_params_of(g, n, &rp))
    return NN_ERR;
  bool ok = dy->dtype == x->dtype && dy->rank == x->rank;
  for (int d = 0; ok && d < x->rank; d++)
    ok = dy->dims[d] == rp.out[d];
  if (!ok) {
    char s[128];
    return diag_node(g->path, n, "dY is %s %s; the Resize of X gives another shape",
                     ir_dtype_name(dy->dtype), ir_shape_str(dy, s, sizeof s));
  }
  return infer_same_as_input(g, n);
}

/* Table of axis a as static arrays off<a> (and w<a> when weighted). */
static void emit_grad_tables(emit_ctx *e, const ir_tensor *x, const ir_tensor *dy, int a,
                             const axis_taps *t) {
  int64_t count = dy->dims[a] * t->taps;
  const char *idx = ir_numel(x) <= INT32_MAX ? "int32_t" : "int64_t";
  emit_line(e, "static const %s off%d[%lld] = {", idx, a, (long long)count);
  for (int64_t i = 0; i < count; i += 16) {
    char line[512];
    size_t len = 0;
    for (int64_t j = i; j < count && j < i + 16; j++)
      len += (size_t)snprintf(line + len, sizeof line - len, "%lld,", (long long)t->off[j]);
    emit_line(e, "    %s", line);
  }
  emit_line(e, "};");
  if (t->any_skip) { /* tf_crop_and_resize outputs outside the input read nothing */
    emit_line(e, "static const unsigned char skip%d[%lld] = {", a, (long long)dy->dims[a]);
    for (int64_t i = 0; i < dy->dims[a]; i++)
      emit_line(e, "    %d,", t->skip[i]);
    emit_line(e, "};");
  }
  if (!t->weighted)
    return;
  emit_line(e, "static const %s w%d[%lld] = {", ir_dtype_ctype(x->dtype), a, (long long)count);
  for (int64_t i = 0; i < count; i += 6) {
    char line[512];
    size_t len = 0;
    for (int64_t j = i; j < count && j < i + 6; j++)
      len += (size_t)snprintf(line + len, sizeof line - len, "%s, ",
                              emit_literal(e, x->dtype, t->w[j]));
    emit_line(e, "    %s", line);
  }
  emit_line(e, "};");
}

/* Scatters dy[...] through the taps of the resized axes from `a` on. */
static void emit_scatter(emit_ctx *e, const ir_tensor *dy, const axis_taps *t, int a,
                         const char *src, const char *weight) {
  while (a < dy->rank && t[a].identity)
    a++;
  if (a == dy->rank) {
    emit_line(e, "out0[%s] += %s;", src, weight);
    return;
  }
  emit_open(e, "for (int t%d = 0; t%d < %d; t%d++)", a, a, t[a].taps, a);
  emit_line(e, "const int64_t k%d = i%d * %d + t%d;", a, a, t[a].taps, a);
  const char *off = mem_printf(e->g->mem, "%s + off%d[k%d]", src, a, a);
  const char *w = t[a].weighted ? mem_printf(e->g->mem, "%s * w%d[k%d]", weight, a, a) : weight;
  emit_scatter(e, dy, t, a + 1, off, w);
  emit_close(e);
}

static void emit_resize_grad(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *dy = n->inputs[n->n_inputs - 1];
  resize_params rp;
  if (resize_params_of(e->g, n, &rp))
    NN_BUG("resize parameters changed after inference");
  emit_line(e, "memset(out0, 0, %zu);", ir_bytes(x));
  if (ir_numel(dy) == 0)
    return;
  int64_t xs[IR_MAX_RANK], ys[IR_MAX_RANK];
  emit_strides(x, xs);
  emit_strides(dy, ys);
  axis_taps t[IR_MAX_RANK];
  char src[512] = "0", dst[512] = "0";
  size_t ls = 0, ld = 0;
  for (int a = 0; a < x->rank; a++) {
    t[a] = axis_table(e->g, &rp, a, x->dims[a], xs[a]);
    if (!t[a].identity)
      emit_grad_tables(e, x, dy, a, &t[a]);
    else
      ls += (size_t)snprintf(src + ls, sizeof src - ls, "%si%d * %lld", ls ? " + " : "", a,
                             (long long)xs[a]);
    ld += (size_t)snprintf(dst + ld, sizeof dst - ld, "%si%d * %lld", ld ? " + " : "", a,
                           (long long)ys[a]);
  }
  /* each i0 writes its own slice of dX only when axis 0 is not resized */
  for (int a = 0; a < dy->rank; a++) {
    const char *v = mem_printf(e->g->mem, "i%d", a);
    if (a == 0 && t[0].identity)
      emit_parallel_for(e, v, dy->dims[0], ir_numel(dy) / dy->dims[0] * 4);
    else
      emit_for(e, v, dy->dims[a]);
  }
  for (int a = 0; a < dy->rank; a++)
    if (t[a].any_skip)
      emit_line(e, "if (skip%d[i%d]) continue;", a, a);
  emit_line(e, "const %s g = in%d[%s];", ir_dtype_ctype(dy->dtype), n->n_inputs - 1, dst);
  emit_scatter(e, dy, t, 0, src, "g");
  for (int a = 0; a < dy->rank; a++)
    emit_close(e);
}

/* Resize and Upsample: ResizeGrad with the forward's inputs, attributes and
 * opset; Upsample-7's scales attribute becomes the input of Upsample-9. */
nn_status grad_resize(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  if (!dy || !ad_needs_grad(ad, n, 0))
    return NN_OK;
  ir_graph *g = ad_graph(ad);
  ir_tensor *in[5] = {n->inputs[0]};
  int nf = n->opset >= 11 ? 4 : 2, opset = n->opset; /* forward inputs as the opset places them */
  if (strcmp(n->op_type, "Upsample") == 0 && n->opset < 9) {
    const ir_attr *a = ir_attr_find(n, "scales");
    int64_t len = a ? a->n : 0;
    ir_tensor *sc = ir_tensor_new(g, mem_printf(g->mem, "%s.scales", n->name));
    ir_set_shape(sc, IR_FLOAT, 1, &len);
    float *v = ir_make_weight(g, sc);
    for (int64_t i = 0; i < len; i++)
      v[i] = (float)a->floats[i];
    in[1] = sc;
    opset = 9;
  } else {
    for (int k = 1; k < nf; k++)
      in[k] = ir_in(n, k);
  }
  in[nf] = dy;
  ir_node *b = ad_begin(ad, "nncc", "ResizeGrad", nf + 1, in, 1);
  grad_copy_attrs(ad, b, n);
  b->opset = opset;
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

const op_def op_family_resize_grad[] = {
    /* roi, scales and sizes must be constants, as resize_params_of checks */
    {"ResizeGrad", "nncc", infer_resize_grad, NULL, emit_resize_grad, 0},
    {NULL},
};
