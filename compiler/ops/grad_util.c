/* Small helpers of the gradient rules in grad_rules.h. */
#include "grad_rules.h"

#include <string.h>

void grad_copy_attrs(ad_ctx *ad, ir_node *b, const ir_node *n) {
  ir_graph *g = ad_graph(ad);
  ir_attr *attrs = mem_alloc(g->mem, sizeof *attrs * (size_t)(b->n_attrs + n->n_attrs + 1));
  if (b->n_attrs)
    memcpy(attrs, b->attrs, sizeof *attrs * (size_t)b->n_attrs);
  if (n->n_attrs) /* the values stay shared: the IR never frees or edits them */
    memcpy(attrs + b->n_attrs, n->attrs, sizeof *attrs * (size_t)n->n_attrs);
  b->attrs = attrs;
  b->n_attrs += n->n_attrs;
}

ir_tensor *grad_channel_sum(ad_ctx *ad, ir_tensor *dy) {
  int64_t axes[IR_MAX_RANK];
  int na = 0;
  for (int d = 0; d < dy->rank; d++)
    if (d != 1)
      axes[na++] = d;
  ir_tensor *in[2] = {dy, ad_ints(ad, na, axes)};
  ir_node *b = ad_begin(ad, "", "ReduceSum", 2, in, 1);
  ad_attr_int(ad, b, "keepdims", 0);
  return ad_finish(ad, b);
}
