/* Layers that move values without arithmetic: flatten, reshape, zero
 * padding and cropping. */
#include "nn_lower.h"

static const char *const layouts[] = {NULL, "[channels, length]", "[channels, height, width]",
                                      "[channels, depth, height, width]"};

nn_status nn_lower_flatten(nn_layer *c) {
  nn_shape out = {.rank = 1, .d = {nn_shape_numel(&c->in[0].shape)}};
  ir_tensor *y = nb_op(c, "Flatten", c->in[0].t, NULL);
  nb_int(c, "axis", 1);
  return nn_set_out(c, y, &out);
}

/* Reshape to [-1, shape...]: the batch stays free (-1) and the file's own
 * -1 is resolved here, so the IR's shape input has no other unknown. */
nn_status nn_lower_reshape(nn_layer *c) {
  nn_lower *L = c->L;
  const nn_value *v = nn_arg(&c->a, "shape");
  int64_t have = nn_shape_numel(&c->in[0].shape), known = 1;
  int wild = -1;
  nn_shape out = {.rank = v->n_items};
  for (int k = 0; k < v->n_items; k++) {
    out.d[k] = v->items[k]->i;
    if (out.d[k] == -1)
      wild = k;
    else
      known = nn_sat_mul(known, out.d[k]);
  }
  if (wild >= 0 && have % known == 0)
    out.d[wild] = have / known;
  if ((wild >= 0 && have % known) || (wild < 0 && known != have)) {
    nn_error(L->src, v->loc, "reshape '%s': '%s' is %s, %lld values, which %s cannot hold",
             c->name, c->in_name[0], nn_shape_str(L->mem, &c->in[0].shape), (long long)have,
             nn_shape_str(L->mem, &out));
    nn_hint(L->src, "the shape is one sample's; the batch dimension is kept as it is");
    return NN_ERR;
  }
  int64_t dims[NN_MAX_RANK + 1] = {-1};
  for (int k = 0; k < out.rank; k++)
    dims[k + 1] = out.d[k];
  ir_tensor *y = nb_op(c, "Reshape", c->in[0].t, nb_i64s(c, "shape", dims, out.rank + 1));
  return nn_set_out(c, y, &out);
}

/* Pad (constant 0) on the spatial axes; ONNX wants every axis's begin,
 * then every axis's end. */
nn_status nn_lower_zero_pad(nn_layer *c) {
  nn_val x = c->in[0];
  int nsp = c->def->nsp, r = nsp + 2;
  if (x.shape.rank != nsp + 1)
    return nn_want_rank(c, 0, nsp + 1, layouts[nsp]);
  int64_t b[3], e[3], pads[10] = {0};
  if (nn_arg_sides(c->L->src, &c->a, "pads", nsp, b, e))
    return NN_ERR;
  nn_shape out = x.shape;
  for (int i = 0; i < nsp; i++) {
    pads[2 + i] = b[i];
    pads[r + 2 + i] = e[i];
    out.d[1 + i] = nn_sat_add(out.d[1 + i], b[i] + e[i]);
  }
  ir_node *n = nb_node(c, "Pad", 2, 1, "pad");
  n->inputs[0] = x.t;
  n->inputs[1] = nb_i64s(c, "pads", pads, 2 * r);
  nb_string(c, "mode", "constant");
  return nn_set_out(c, n->outputs[0], &out);
}

/* Slice of the spatial axes [begin, size - end). */
nn_status nn_lower_crop(nn_layer *c) {
  nn_lower *L = c->L;
  nn_val x = c->in[0];
  int nsp = c->def->nsp;
  if (x.shape.rank != nsp + 1)
    return nn_want_rank(c, 0, nsp + 1, layouts[nsp]);
  int64_t b[3], e[3], starts[3], ends[3], axes[3];
  if (nn_arg_sides(L->src, &c->a, "crops", nsp, b, e))
    return NN_ERR;
  nn_shape out = x.shape;
  for (int i = 0; i < nsp; i++) {
    int64_t size = x.shape.d[1 + i];
    if (b[i] + e[i] >= size) {
      nn_error(L->src, nn_arg_loc(&c->a, "crops"),
               "%s '%s': crops of %lld and %lld leave nothing of axis %d of '%s' (size %lld)",
               c->def->fn.name, c->name, (long long)b[i], (long long)e[i], i + 1, c->in_name[0], (long long)size);
      return NN_ERR;
    }
    starts[i] = b[i];
    ends[i] = size - e[i];
    axes[i] = 2 + i;
    out.d[1 + i] = size - b[i] - e[i];
  }
  ir_node *n = nb_node(c, "Slice", 4, 1, "slice");
  n->inputs[0] = x.t;
  n->inputs[1] = nb_i64s(c, "starts", starts, nsp);
  n->inputs[2] = nb_i64s(c, "ends", ends, nsp);
  n->inputs[3] = nb_i64s(c, "axes", axes, nsp);
  return nn_set_out(c, n->outputs[0], &out);
}
