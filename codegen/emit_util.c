#include <math.h>
#include <stdio.h>
#include <string.h>

#include "emit.h"

void emit_for(emit_ctx *e, const char *var, int64_t n) {
  emit_open(e, "for (int64_t %s = 0; %s < %lld; %s++)", var, var, (long long)n, var);
}

void emit_parallel_for(emit_ctx *e, const char *var, int64_t n, int64_t work_per_iter) {
  if (n > 1 && n * work_per_iter >= EMIT_PARALLEL_WORK)
    emit_line(e, "NN_PARALLEL_FOR");
  emit_for(e, var, n);
}

int emit_loops(emit_ctx *e, const ir_tensor *t, const char *prefix) {
  char var[32];
  for (int i = 0; i < t->rank; i++) {
    snprintf(var, sizeof var, "%s%d", prefix, i);
    emit_for(e, var, t->dims[i]);
  }
  return t->rank;
}

void emit_strides(const ir_tensor *t, int64_t *strides) {
  int64_t s = 1;
  for (int i = t->rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= t->dims[i];
  }
}

const char *emit_bcast_index(emit_ctx *e, const ir_tensor *in, const ir_tensor *out,
                             const char *prefix) {
  int64_t strides[IR_MAX_RANK];
  emit_strides(in, strides);
  char buf[1024];
  size_t len = 0;
  int off = out->rank - in->rank;
  for (int i = 0; i < in->rank; i++) {
    if (in->dims[i] == 1)
      continue;
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s%d", len ? " + " : "", prefix, i + off);
    if (strides[i] != 1)
      len += (size_t)snprintf(buf + len, sizeof buf - len, " * %lld", (long long)strides[i]);
  }
  return mem_strdup(e->g->mem, len ? buf : "0");
}

const char *emit_float(emit_ctx *e, double v) {
  if (isnan(v))
    return "NAN";
  if (isinf(v))
    return v > 0 ? "INFINITY" : "-INFINITY";
  float f = (float)v;
  if (isinf(f)) /* finite double beyond float range */
    return v > 0 ? "INFINITY" : "-INFINITY";
  char buf[64];
  snprintf(buf, sizeof buf, "%.9g", (double)f);
  if (!strpbrk(buf, ".eEn"))
    strcat(buf, ".0");
  strcat(buf, "f");
  return mem_strdup(e->g->mem, buf);
}

const char *emit_literal(emit_ctx *e, ir_dtype t, double v) {
  char buf[64];
  switch (t) {
  case IR_FLOAT:
    return emit_float(e, v);
  case IR_DOUBLE:
    if (isnan(v))
      return "(double)NAN";
    if (isinf(v))
      return v > 0 ? "(double)INFINITY" : "-(double)INFINITY";
    snprintf(buf, sizeof buf, "%.17g", v);
    if (!strpbrk(buf, ".eEn"))
      strcat(buf, ".0");
    return mem_strdup(e->g->mem, buf);
  case IR_INT64:
    if (v <= -9223372036854775807.0)
      return "INT64_MIN";
    if (v >= 9223372036854775807.0)
      return "INT64_MAX";
    snprintf(buf, sizeof buf, "INT64_C(%lld)", (long long)v);
    return mem_strdup(e->g->mem, buf);
  case IR_UINT64:
    snprintf(buf, sizeof buf, "UINT64_C(%llu)", (unsigned long long)v);
    return mem_strdup(e->g->mem, buf);
  default:
    snprintf(buf, sizeof buf, "(%s)%lld", ir_dtype_ctype(t), (long long)v);
    return mem_strdup(e->g->mem, buf);
  }
}

const char *emit_tmp(emit_ctx *e, const char *stem) {
  return mem_printf(e->g->mem, "%s_%d", stem, e->counter++);
}
