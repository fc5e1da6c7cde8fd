/* The gradient of Pad: each output element's gradient goes back to the
 * input element it copied (none for the constant; reflect, edge and wrap
 * send several to one), so cropping by negative pads gives zeros.
 *
 *   nncc::PadGrad(dY) -> dX   attributes mode and pads (begin and end for
 *                             every axis, as resolved from the forward) */
#include <stdio.h>

#include "common.h"
#include "grad_rules.h"
#include "pad_params.h"

static nn_status pad_grad_params(ir_graph *g, const ir_node *n, pad_params *pp, int64_t *dims) {
  const ir_tensor *dy = n->inputs[0];
  static const char *const modes[] = {"constant", "reflect", "edge", "wrap"};
  const char *mode = ir_attr_string(n, "mode", "constant");
  int m = 0;
  while (m < 4 && strcmp(mode, modes[m]) != 0)
    m++;
  if (m == 4)
    return diag_node(g->path, n, "mode '%s' is not supported", mode);
  pp->mode = (pad_mode)m;
  const int64_t *pads;
  if (ir_attr_ints(n, "pads", &pads) != 2 * dy->rank)
    return diag_node(g->path, n, "attribute 'pads' must hold %d values", 2 * dy->rank);
  for (int d = 0; d < dy->rank; d++) {
    pp->begin[d] = pads[d];
    pp->end[d] = pads[dy->rank + d];
    dims[d] = dy->dims[d] - pads[d] - pads[dy->rank + d];
    if (dims[d] < 0 || (dims[d] == 0 && dy->dims[d] > 0 && pp->mode != PAD_CONSTANT))
      return diag_node(g->path, n, "pads do not fit axis %d of dY", d);
  }
  return NN_OK;
}

static nn_status infer_pad_grad(ir_graph *g, ir_node *n) {
  pad_params pp;
  int64_t dims[IR_MAX_RANK];
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0) || pad_grad_params(g, n, &pp, dims))
    return NN_ERR;
  ir_set_shape(n->outputs[0], n->inputs[0]->dtype, n->inputs[0]->rank, dims);
  return NN_OK;
}

/* static const int64_t src<d>[]: the input index output index j of axis d
 * reads, times the axis stride, or -1. */
static void emit_source_table(emit_ctx *e, const pad_params *pp, int d, int64_t out, int64_t in,
                              int64_t stride) {
  emit_line(e, "static const int64_t src%d[%lld] = {", d, (long long)out);
  for (int64_t j = 0; j < out; j += 12) {
    char line[512];
    size_t len = 0;
    for (int64_t i = j; i < out && i < j + 12; i++) {
      int64_t s = in ? pad_source(pp->mode, i - pp->begin[d], in) : -1;
      len += (size_t)snprintf(line + len, sizeof line - len, "%lld,",
                              (long long)(s < 0 ? -1 : s * stride));
    }
    emit_line(e, "    %s", line);
  }
  emit_line(e, "};");
}

static void emit_pad_grad(emit_ctx *e, const ir_node *n) {
  const ir_tensor *dy = n->inputs[0], *dx = n->outputs[0];
  pad_params pp;
  int64_t dims[IR_MAX_RANK], xs[IR_MAX_RANK], ys[IR_MAX_RANK];
  if (pad_grad_params(e->g, n, &pp, dims))
    return;
  emit_line(e, "memset(out0, 0, %zu);", ir_bytes(dx));
  if (ir_numel(dy) == 0 || ir_numel(dx) == 0)
    return;
  emit_strides(dx, xs);
  emit_strides(dy, ys);
  char src[512] = "", dst[512] = "";
  size_t ls = 0, ld = 0;
  for (int d = 0; d < dy->rank; d++) {
    emit_source_table(e, &pp, d, dy->dims[d], dx->dims[d], xs[d]);
    ls += (size_t)snprintf(src + ls, sizeof src - ls, "%ss%d", ls ? " + " : "", d);
    ld += (size_t)snprintf(dst + ld, sizeof dst - ld, "%si%d * %lld", ld ? " + " : "", d,
                           (long long)ys[d]);
  }
  for (int d = 0; d < dy->rank; d++) {
    emit_for(e, mem_printf(e->g->mem, "i%d", d), dy->dims[d]);
    emit_line(e, "const int64_t s%d = src%d[i%d];", d, d, d);
    emit_line(e, "if (s%d < 0) continue;", d);
  }
  emit_line(e, "out0[%s] += in0[%s];", dy->rank ? src : "0", dy->rank ? dst : "0");
  for (int d = 0; d < dy->rank; d++)
    emit_close(e);
}

/* Pad: PadGrad with the forward's mode and pads resolved over every axis. */
nn_status grad_pad(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0);
  pad_params pp;
  if (!dy || !ad_needs_grad(ad, n, 0))
    return NN_OK;
  if (pad_params_of(ad_graph(ad), n, &pp))
    return NN_ERR;
  static const char *const modes[] = {"constant", "reflect", "edge", "wrap"};
  int r = dy->rank;
  int64_t pads[2 * IR_MAX_RANK];
  for (int d = 0; d < r; d++) {
    pads[d] = pp.begin[d];
    pads[r + d] = pp.end[d];
  }
  ir_node *b = ad_begin(ad, "nncc", "PadGrad", 1, &dy, 1);
  ad_attr_string(ad, b, "mode", modes[pp.mode]);
  ad_attr_ints(ad, b, "pads", 2 * r, pads);
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

const op_def op_family_pad_grad[] = {
    {"PadGrad", "nncc", infer_pad_grad, NULL, emit_pad_grad, 0},
    {NULL},
};
