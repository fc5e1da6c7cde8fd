/* TensorScatter (opset 24): writes an update into a KV cache along the
 * sequence axis, at a per-batch write index; the result is the whole cache.
 * Viewed as [batch, outer, max_seq, inner] around that axis. */
#include "common.h"

static nn_status cache_axis(ir_graph *g, const ir_node *n, int *axis) {
  const ir_tensor *cache = n->inputs[0];
  if (cache->rank < 2)
    return diag_node(g->path, n, "the cache needs a batch and a sequence axis; it has rank %d",
                     cache->rank);
  if (norm_axis(g, n, ir_attr_int(n, "axis", -2), cache->rank, axis))
    return NN_ERR;
  if (*axis == 0)
    return diag_node(g->path, n, "axis 0 is the batch axis; the sequence axis must follow it");
  return NN_OK;
}

static nn_status infer_tensor_scatter(ir_graph *g, ir_node *n) {
  int axis;
  if (check_arity(g, n, 2, 3) || cache_axis(g, n, &axis))
    return NN_ERR;
  const ir_tensor *cache = n->inputs[0], *upd = n->inputs[1], *idx = ir_in(n, 2);
  const char *mode = ir_attr_string(n, "mode", "linear");
  if (strcmp(mode, "linear") && strcmp(mode, "circular"))
    return diag_node(g->path, n, "mode '%s' is neither linear nor circular", mode);
  if (upd->dtype != cache->dtype || upd->rank != cache->rank)
    return diag_node(g->path, n, "the update must have the cache's dtype and rank");
  for (int d = 0; d < cache->rank; d++)
    if (d == axis ? upd->dims[d] > cache->dims[d] : upd->dims[d] != cache->dims[d])
      return diag_node(g->path, n, "update dimension %d is %lld; the cache's is %lld", d,
                       (long long)upd->dims[d], (long long)cache->dims[d]);
  if (idx && (idx->dtype != IR_INT64 || idx->rank != 1 || idx->dims[0] != cache->dims[0]))
    return diag_node(g->path, n, "write_indices must be int64 [%lld]", (long long)cache->dims[0]);
  ir_set_shape(n->outputs[0], cache->dtype, cache->rank, cache->dims);
  return NN_OK;
}

static void emit_tensor_scatter(emit_ctx *e, const ir_node *n) {
  int axis;
  if (cache_axis(e->g, n, &axis) || ir_numel(n->outputs[0]) == 0)
    return;
  const ir_tensor *cache = n->inputs[0], *upd = n->inputs[1];
  int64_t batch = cache->dims[0], outer = 1, inner = 1, max_seq = cache->dims[axis];
  int64_t seq = upd->dims[axis];
  for (int d = 1; d < axis; d++)
    outer *= cache->dims[d];
  for (int d = axis + 1; d < cache->rank; d++)
    inner *= cache->dims[d];
  bool circular = strcmp(ir_attr_string(n, "mode", "linear"), "circular") == 0;
  size_t esize = ir_dtype_size(cache->dtype);
  emit_line(e, "memcpy(out0, in0, %zu);", ir_bytes(cache));
  if (seq == 0)
    return;
  emit_for(e, "b", batch);
  emit_line(e, "const int64_t at = %s;", ir_in(n, 2) ? "in2[b]" : "0");
  emit_for(e, "o", outer);
  emit_for(e, "s", seq);
  /* A run-time index past the cache skips the write (circular mode wraps). */
  if (circular)
    emit_line(e, "const int64_t p = ((at + s) %% %lld + %lld) %% %lld;", (long long)max_seq,
              (long long)max_seq, (long long)max_seq);
  else
    emit_line(e, "const int64_t p = at + s;");
  emit_open(e, "if (p >= 0 && p < %lld)", (long long)max_seq);
  emit_line(e, "memcpy(out0 + ((b * %lld + o) * %lld + p) * %lld, in1 + ((b * %lld + o) * %lld + s) * "
               "%lld, %zu);", (long long)outer, (long long)max_seq, (long long)inner,
            (long long)outer, (long long)seq, (long long)inner, (size_t)inner * esize);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

const op_def op_family_kv_cache[] = {
    {"TensorScatter", "", infer_tensor_scatter, NULL, emit_tensor_scatter, 0},
    {NULL},
};
