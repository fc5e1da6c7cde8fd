/* Pooling (windows, global) and upsampling: the layers that change spatial
 * size without weights. */
#include <string.h>

#include "nn_lower.h"

static const char *const layouts[] = {NULL, "[channels, length]", "[channels, height, width]",
                                      "[channels, depth, height, width]"};

static const char *dims_str(mem_arena *mem, const int64_t *v, int n) {
  char *s = "";
  for (int i = 0; i < n; i++)
    s = mem_printf(mem, "%s%s%lld", s, i ? "x" : "", (long long)v[i]);
  return s;
}

/* Explicit pads: same puts the odd pixel at the end; a pad must stay below
 * the window (ONNX's rule: a window never sees only padding). */
static nn_status pool_pads(nn_layer *c, int nsp, const int64_t *in, const int64_t *k,
                           const int64_t *s, int64_t *pb, int64_t *pe) {
  nn_lower *L = c->L;
  const char *word = nn_arg_word(&c->a, "padding");
  if (!word) {
    if (nn_arg_sides(L->src, &c->a, "padding", nsp, pb, pe))
      return NN_ERR;
    for (int i = 0; i < nsp; i++)
      if (pb[i] >= k[i] || pe[i] >= k[i]) {
        nn_error(L->src, nn_arg_loc(&c->a, "padding"),
                 "%s '%s': padding must be smaller than the window (%s)", c->def->fn.name, c->name,
                 dims_str(L->mem, k, nsp));
        return NN_ERR;
      }
    return NN_OK;
  }
  for (int i = 0; i < nsp; i++) {
    int64_t total = strcmp(word, "same") ? 0 : ((in[i] + s[i] - 1) / s[i] - 1) * s[i] + k[i] - in[i];
    total = total > 0 ? total : 0;
    pb[i] = total / 2;
    pe[i] = total - total / 2;
  }
  return NN_OK;
}

/* MaxPool / AveragePool; the average leaves padding out of its count. */
nn_status nn_lower_pool(nn_layer *c) {
  nn_lower *L = c->L;
  nn_val x = c->in[0];
  int nsp = c->def->nsp;
  if (x.shape.rank != nsp + 1)
    return nn_want_rank(c, 0, nsp + 1, layouts[nsp]);
  int64_t k[3], s[3], pb[3], pe[3], pads[6], span[3];
  const char *stride = nn_arg(&c->a, "stride") ? "stride" : "size";
  if (nn_arg_ints(L->src, &c->a, "size", nsp, k) || nn_arg_ints(L->src, &c->a, stride, nsp, s) ||
      pool_pads(c, nsp, x.shape.d + 1, k, s, pb, pe))
    return NN_ERR;
  nn_shape out = {.rank = nsp + 1, .d = {x.shape.d[0]}};
  for (int i = 0; i < nsp; i++) {
    span[i] = x.shape.d[1 + i] + pb[i] + pe[i];
    pads[i] = pb[i], pads[nsp + i] = pe[i];
    out.d[1 + i] = span[i] < k[i] ? 0 : (span[i] - k[i]) / s[i] + 1;
  }
  for (int i = 0; i < nsp; i++)
    if (out.d[1 + i] < 1) {
      nn_error(L->src, c->in_loc[0], "%s '%s': its %s window does not fit in '%s', which is %s",
               c->def->fn.name, c->name, dims_str(L->mem, k, nsp), c->in_name[0],
               dims_str(L->mem, span, nsp));
      nn_hint(L->src, "use a smaller window, padding=same, or less downsampling before it");
      return NN_ERR;
    }
  ir_tensor *y = nb_op(c, c->def->variant, x.t, NULL);
  nb_ints(c, "kernel_shape", k, nsp);
  nb_ints(c, "strides", s, nsp);
  nb_ints(c, "pads", pads, 2 * nsp);
  if (strcmp(c->def->variant, "AveragePool") == 0)
    nb_int(c, "count_include_pad", 0);
  return nn_set_out(c, y, &out);
}

/* GlobalAveragePool / GlobalMaxPool give [C, 1, ...]; a Flatten makes that
 * [C] unless keepdims, so a dense layer can follow directly. */
nn_status nn_lower_global_pool(nn_layer *c) {
  nn_val x = c->in[0];
  if (x.shape.rank < 2)
    return nn_want_rank(c, 0, 3, "[channels, spatial axes...]");
  ir_tensor *y = nb_op(c, c->def->variant, x.t, NULL);
  nn_shape out = {.rank = 1, .d = {x.shape.d[0]}};
  if (nn_arg_bool(&c->a, "keepdims")) {
    out.rank = x.shape.rank;
    for (int d = 1; d < out.rank; d++)
      out.d[d] = 1;
  } else {
    y = nb_op(c, "Flatten", y, NULL);
    nb_int(c, "axis", 1);
  }
  return nn_set_out(c, y, &out);
}

/* Resize by integer factors: nearest repeats each value (asymmetric, floor,
 * as Keras and PyTorch export it); linear interpolates at half-pixel
 * centres. */
nn_status nn_lower_upsample(nn_layer *c) {
  nn_lower *L = c->L;
  nn_val x = c->in[0];
  int nsp = c->def->nsp;
  if (x.shape.rank != nsp + 1)
    return nn_want_rank(c, 0, nsp + 1, layouts[nsp]);
  int64_t f[3];
  if (nn_arg_ints(L->src, &c->a, "factor", nsp, f))
    return NN_ERR;
  float scales[5] = {1, 1};
  nn_shape out = x.shape;
  for (int i = 0; i < nsp; i++)
    if (f[i] > (1 << 24)) { /* Resize's scales are float32: larger factors are inexact */
      nn_error(L->src, nn_arg_loc(&c->a, "factor"), "%s '%s': a factor is at most %d, not %lld",
               c->def->fn.name, c->name, 1 << 24, (long long)f[i]);
      return NN_ERR;
    }
  for (int i = 0; i < nsp; i++) {
    scales[2 + i] = (float)f[i];
    out.d[1 + i] = nn_sat_mul(out.d[1 + i], f[i]);
  }
  ir_node *n = nb_node(c, "Resize", 3, 1, "resize");
  n->inputs[0] = x.t;
  n->inputs[2] = nb_f32s(c, "scales", scales, nsp + 2);
  bool nearest = strcmp(nn_arg_word(&c->a, "mode"), "nearest") == 0;
  nb_string(c, "mode", nearest ? "nearest" : "linear");
  nb_string(c, "coordinate_transformation_mode", nearest ? "asymmetric" : "half_pixel");
  if (nearest)
    nb_string(c, "nearest_mode", "floor");
  return nn_set_out(c, n->outputs[0], &out);
}
