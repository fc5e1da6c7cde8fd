/* The GEMM micro-kernel as generated C. With GNU C (gcc, clang) the
 * accumulators are vector-extension values, which compilers keep in
 * registers whatever the target (two SSE halves without AVX); elsewhere the
 * same tile is a plain array loop. Loads and stores go through memcpy, so no
 * pointer needs vector alignment. */
#include <math.h>
#include <stdio.h>

#include "gemm_tile.h"

/* "(nn_v8f){x, x, ...}": a broadcast (adding x to a zero vector would not be
 * one: 0 + -0 is +0, so compilers keep the addition). */
static const char *splat(emit_ctx *e, const char *x) {
  char buf[256];
  size_t len = (size_t)snprintf(buf, sizeof buf, "(nn_v8f){%s", x);
  for (int i = 1; i < GT_VEC; i++)
    len += (size_t)snprintf(buf + len, sizeof buf - len, ", %s", x);
  snprintf(buf + len, sizeof buf - len, "}");
  return mem_strdup(e->g->mem, buf);
}

void emit_gemm_tile_types(emit_ctx *e, bool clamps) {
  cb_raw(e->body, "#if defined(__GNUC__)\n");
  emit_line(e, "typedef float nn_v8f __attribute__((vector_size(%d)));", GT_VEC * 4);
  if (clamps)
    emit_line(e, "typedef int32_t nn_v8i __attribute__((vector_size(%d)));", GT_VEC * 4);
  cb_raw(e->body, "#endif\n");
}

/* Clamps each accumulator: a vector compare gives an all-ones mask where the
 * bound wins, and the bits select (NaN compares false and stays). */
static void emit_vector_clamp(emit_ctx *e, const gemm_tile *t) {
  double bound[2] = {t->lo, t->hi};
  const char *op[2] = {"<", ">"};
  if (t->last)
    emit_open(e, "if (%s)", t->last);
  else
    emit_open(e, "%s", "");
  for (int b = 0; b < 2; b++) {
    if (isinf(bound[b]))
      continue;
    emit_line(e, "const nn_v8f q%d = %s;", b, splat(e, emit_float(e, bound[b])));
    for (int r = 0; r < t->mr; r++)
      for (int v = 0; v < t->nv; v++) {
        emit_line(e, "const nn_v8i m%d_%d_%d = c%d_%d %s q%d;", b, r, v, r, v, op[b], b);
        emit_line(e, "c%d_%d = (nn_v8f)(((nn_v8i)c%d_%d & ~m%d_%d_%d) | ((nn_v8i)q%d & m%d_%d_%d));",
                  r, v, r, v, b, r, v, b, b, r, v);
      }
  }
  emit_close(e);
}

/* Partial tiles stage Y through a small array: only `cols` columns are real. */
static void emit_stage_in(emit_ctx *e, const gemm_tile *t, int w) {
  emit_for(e, "r", t->mr);
  emit_open(e, "for (int64_t j = 0; j < %s; j++)", t->cols);
  emit_line(e, "yt[r * %d + j] = %s[r * %lld + j];", w, t->y, (long long)t->ldy);
  emit_close(e);
  emit_close(e);
}

static void emit_stage_out(emit_ctx *e, const gemm_tile *t, int w) {
  emit_for(e, "r", t->mr);
  emit_open(e, "for (int64_t j = 0; j < %s; j++)", t->cols);
  emit_line(e, "%s[r * %lld + j] = yt[r * %d + j];", t->y, (long long)t->ldy, w);
  emit_close(e);
  emit_close(e);
}

/* Where accumulator (r, v) loads from and stores to. */
static const char *acc_home(emit_ctx *e, const gemm_tile *t, int r, int v, int w) {
  if (t->cols)
    return mem_printf(e->g->mem, "yt + %d", r * w + v * GT_VEC);
  return mem_printf(e->g->mem, "%s + %lld", t->y, (long long)(r * t->ldy + v * GT_VEC));
}

static void emit_vector_tile(emit_ctx *e, const gemm_tile *t, int w) {
  for (int r = 0; r < t->mr; r++)
    for (int v = 0; v < t->nv; v++)
      emit_line(e, "nn_v8f c%d_%d;", r, v);
  const char *bias0 = t->bias ? NULL : "(nn_v8f){0}";
  if (t->first)
    emit_open(e, "if (%s)", t->first);
  else
    emit_open(e, "%s", "");
  for (int r = 0; r < t->mr; r++)
    for (int v = 0; v < t->nv; v++)
      emit_line(e, "c%d_%d = %s;", r, v,
                bias0 ? bias0 : splat(e, mem_printf(e->g->mem, "%s[%d]", t->bias, r)));
  emit_close(e);
  if (t->first) {
    emit_open(e, "else");
    for (int r = 0; r < t->mr; r++)
      for (int v = 0; v < t->nv; v++)
        emit_line(e, "memcpy(&c%d_%d, %s, sizeof c%d_%d);", r, v, acc_home(e, t, r, v, w), r, v);
    emit_close(e);
  }
  emit_open(e, "for (int64_t k = 0; k < %s; k++)", t->kc);
  emit_line(e, "const float *restrict bk = %s + k * %lld;", t->b, (long long)t->ldb);
  for (int v = 0; v < t->nv; v++) {
    emit_line(e, "nn_v8f b%d;", v);
    emit_line(e, "memcpy(&b%d, bk + %d, sizeof b%d);", v, v * GT_VEC, v);
  }
  for (int r = 0; r < t->mr; r++) {
    emit_line(e, "const float s%d = %s[%s];", r, t->a, emit_affine(e, r * t->lda, "k", 1));
    emit_line(e, "const nn_v8f a%d = %s;", r, splat(e, mem_printf(e->g->mem, "s%d", r)));
    for (int v = 0; v < t->nv; v++)
      emit_line(e, "c%d_%d += a%d * b%d;", r, v, r, v);
  }
  emit_close(e);
  if (t->clamp)
    emit_vector_clamp(e, t);
  for (int r = 0; r < t->mr; r++)
    for (int v = 0; v < t->nv; v++)
      emit_line(e, "memcpy(%s, &c%d_%d, sizeof c%d_%d);", acc_home(e, t, r, v, w), r, v, r, v);
}

static void emit_plain_tile(emit_ctx *e, const gemm_tile *t, int w) {
  const char *home = t->cols ? "yt" : t->y;
  long long ld = t->cols ? w : (long long)t->ldy;
  emit_line(e, "float c[%d][%d];", t->mr, w);
  emit_for(e, "r", t->mr);
  emit_for(e, "j", w);
  if (t->first)
    emit_line(e, "c[r][j] = %s ? %s : %s[r * %lld + j];", t->first,
              t->bias ? mem_printf(e->g->mem, "%s[r]", t->bias) : "0.0f", home, ld);
  else
    emit_line(e, "c[r][j] = %s;", t->bias ? mem_printf(e->g->mem, "%s[r]", t->bias) : "0.0f");
  emit_close(e);
  emit_close(e);
  emit_open(e, "for (int64_t k = 0; k < %s; k++)", t->kc);
  emit_for(e, "r", t->mr);
  emit_line(e, "const float a = %s[r * %lld + k];", t->a, (long long)t->lda);
  emit_for(e, "j", w);
  emit_line(e, "c[r][j] += a * %s[k * %lld + j];", t->b, (long long)t->ldb);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_for(e, "r", t->mr);
  emit_for(e, "j", w);
  if (t->clamp) {
    emit_line(e, "float v = c[r][j];");
    if (!isinf(t->lo))
      emit_line(e, "v = %s(v < %s) ? %s : v;", t->last ? mem_printf(e->g->mem, "(%s) && ", t->last) : "",
                emit_float(e, t->lo), emit_float(e, t->lo));
    if (!isinf(t->hi))
      emit_line(e, "v = %s(v > %s) ? %s : v;", t->last ? mem_printf(e->g->mem, "(%s) && ", t->last) : "",
                emit_float(e, t->hi), emit_float(e, t->hi));
    emit_line(e, "%s[r * %lld + j] = v;", home, ld);
  } else {
    emit_line(e, "%s[r * %lld + j] = c[r][j];", home, ld);
  }
  emit_close(e);
  emit_close(e);
}

void emit_gemm_tile(emit_ctx *e, const gemm_tile *t) {
  int w = t->nv * GT_VEC;
  emit_open(e, "%s", "");
  if (t->cols) {
    emit_line(e, "float yt[%d] = {0}; /* columns past `cols` are computed, never kept */", t->mr * w);
    if (t->first)
      emit_open(e, "if (!(%s))", t->first);
    else
      emit_open(e, "%s", "");
    emit_stage_in(e, t, w);
    emit_close(e);
  }
  cb_raw(e->body, "#if defined(__GNUC__)\n");
  emit_vector_tile(e, t, w);
  cb_raw(e->body, "#else\n");
  emit_plain_tile(e, t, w);
  cb_raw(e->body, "#endif\n");
  if (t->cols)
    emit_stage_out(e, t, w);
  emit_close(e);
}
