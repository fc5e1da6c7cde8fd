/* Layers that join several inputs: concat, add and multiply. */
#include <string.h>

#include "nn_lower.h"

static nn_status need_two(nn_layer *c) {
  if (c->n_in >= 2)
    return NN_OK;
  nn_error(c->L->src, nn_arg_loc(&c->a, "inputs"), "%s '%s' needs at least two inputs",
           c->def->fn.name, c->name);
  return NN_ERR;
}

/* Concat along one axis of the sample; the others must agree. */
nn_status nn_lower_concat(nn_layer *c) {
  nn_lower *L = c->L;
  if (need_two(c))
    return NN_ERR;
  const nn_shape *s0 = &c->in[0].shape;
  int64_t axis = nn_arg_int(&c->a, "axis"), r = s0->rank;
  if (axis < -r || axis >= r) {
    nn_error(L->src, nn_arg_loc(&c->a, "axis"),
             "concat '%s': axis %lld is out of range for %s (axes 0 to %lld, or -%lld to -1)",
             c->name, (long long)axis, nn_shape_str(L->mem, s0), (long long)r - 1, (long long)r);
    return NN_ERR;
  }
  int a = (int)(axis < 0 ? axis + r : axis);
  nn_shape out = *s0;
  for (int k = 1; k < c->n_in; k++) {
    const nn_shape *s = &c->in[k].shape;
    bool fits = s->rank == r;
    for (int d = 0; fits && d < r; d++)
      fits = d == a || s->d[d] == s0->d[d];
    if (!fits) {
      nn_error(L->src, c->in_loc[k],
               "concat '%s' joins along axis %d, but '%s' is %s and '%s' is %s", c->name, a,
               c->in_name[0], nn_shape_str(L->mem, s0), c->in_name[k], nn_shape_str(L->mem, s));
      nn_hint(L->src, "every axis but %d must match: upsample, pool or crop one of them", a);
      return NN_ERR;
    }
    out.d[a] = nn_sat_add(out.d[a], s->d[a]);
  }
  ir_node *n = nb_node(c, "Concat", c->n_in, 1, "concat");
  for (int k = 0; k < c->n_in; k++)
    n->inputs[k] = c->in[k].t;
  nb_int(c, "axis", a + 1);
  return nn_set_out(c, n->outputs[0], &out);
}

/* add / multiply: a chain of Add or Mul over inputs of one shape. */
nn_status nn_lower_merge(nn_layer *c) {
  nn_lower *L = c->L;
  if (need_two(c))
    return NN_ERR;
  const nn_shape *s0 = &c->in[0].shape;
  for (int k = 1; k < c->n_in; k++) {
    if (nn_shape_eq(&c->in[k].shape, s0))
      continue;
    const nn_shape *s = &c->in[k].shape;
    nn_error(L->src, c->in_loc[k], "%s '%s' needs inputs of one shape; '%s' is %s but '%s' is %s",
             c->def->fn.name, c->name, c->in_name[0], nn_shape_str(L->mem, s0), c->in_name[k],
             nn_shape_str(L->mem, s));
    int64_t st = s->rank == 3 && s0->rank == 3 && s0->d[1] > 0 && s->d[1] % s0->d[1] == 0
                     ? s->d[1] / s0->d[1] : 0;
    if (st > 0 && s->d[2] == st * s0->d[2])
      nn_hint(L->src, "project the shortcut with a 1x1 convolution first, e.g. "
                      "conv2d(%s, %lld, kernel=1, stride=%lld)",
              c->in_name[k], (long long)s0->d[0], (long long)st);
    return NN_ERR;
  }
  ir_tensor *y = c->in[0].t;
  for (int k = 1; k < c->n_in; k++)
    y = nb_op(c, c->def->variant, y, c->in[k].t);
  return nn_set_out(c, y, s0);
}
