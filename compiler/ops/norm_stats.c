/* The shared normalisation kernel (see norm_stats.h). Statistics are two-pass
 * (mean, then the mean of squared deviations) with double accumulators, so
 * float inputs lose nothing to cancellation and double inputs stay exact
 * enough for finite-difference gradient checks. */
#include <stdio.h>

#include "norm_stats.h"

/* Appends dim (size, strides) to a class list, merging it into the previous
 * run of that class when every stride continues the run. */
static void add_dim(norm_dim *list, int *n, int n_strides, const norm_dim *d) {
  if (d->size == 1)
    return;
  if (*n > 0) {
    norm_dim *last = &list[*n - 1];
    bool merge = true;
    for (int w = 0; w < n_strides; w++)
      merge = merge && last->stride[w] == d->stride[w] * d->size;
    if (merge) {
      last->size *= d->size;
      for (int w = 0; w < n_strides; w++)
        last->stride[w] = d->stride[w];
      return;
    }
  }
  list[(*n)++] = *d;
}

void norm_view_build(norm_view *v, int rank, const int64_t *dims, const bool *reduced,
                     int n_params, const int64_t (*pstride)[NORM_MAX_DIMS]) {
  NN_ASSERT(rank <= NORM_MAX_DIMS && n_params <= NORM_MAX_PARAMS);
  memset(v, 0, sizeof *v);
  v->rows = v->len = 1;
  int64_t xstride = 1, strides[NORM_MAX_DIMS];
  for (int d = rank - 1; d >= 0; d--)
    strides[d] = xstride, xstride *= dims[d];
  for (int d = 0; d < rank; d++) {
    norm_dim nd = {.size = dims[d], .stride = {strides[d]}};
    for (int p = 0; p < n_params; p++)
      nd.stride[1 + p] = pstride[p][d];
    if (reduced[d]) {
      add_dim(v->red, &v->n_red, 1 + NORM_MAX_PARAMS, &nd);
      v->len *= dims[d];
    } else {
      add_dim(v->kept, &v->n_kept, 1 + NORM_MAX_PARAMS, &nd);
      v->rows *= dims[d];
    }
  }
}

void norm_bcast_strides(const ir_tensor *p, int rank, const int64_t *dims, int64_t *stride) {
  int off = rank - p->rank;
  int64_t run = 1;
  for (int d = rank - 1; d >= 0; d--) {
    int k = d - off;
    bool varies = k >= 0 && p->dims[k] != 1 && dims[d] != 1;
    stride[d] = varies ? run : 0;
    if (k >= 0)
      run *= p->dims[k];
  }
}

/* Offset of element `var` of a class, for tensor `which` (0: X): a sum of
 * "var / below % size * stride" terms, C's left-to-right evaluation giving
 * the grouping; the outermost run needs no %. Runs that continue each other
 * in this tensor (not necessarily in the others) count as one. "0" when
 * nothing varies. */
static const char *offset_expr(emit_ctx *e, const norm_dim *d, int n, int which, const char *var) {
  int64_t size[NORM_MAX_DIMS], stride[NORM_MAX_DIMS];
  int m = 0;
  for (int k = 0; k < n; k++) {
    if (m > 0 && stride[m - 1] == d[k].stride[which] * d[k].size) {
      size[m - 1] *= d[k].size;
      stride[m - 1] = d[k].stride[which];
    } else {
      size[m] = d[k].size, stride[m++] = d[k].stride[which];
    }
  }
  char buf[512];
  size_t at = 0;
  int64_t below = 1;
  for (int k = m - 1; k >= 0; k--) {
    if (stride[k] != 0) {
      at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", at ? " + " : "", var);
      if (below > 1)
        at += (size_t)snprintf(buf + at, sizeof buf - at, " / %lld", (long long)below);
      if (k > 0)
        at += (size_t)snprintf(buf + at, sizeof buf - at, " %% %lld", (long long)size[k]);
      if (stride[k] != 1)
        at += (size_t)snprintf(buf + at, sizeof buf - at, " * %lld", (long long)stride[k]);
    }
    below *= size[k];
    NN_ASSERT(at < sizeof buf);
  }
  return at ? mem_strdup(e->g->mem, buf) : "0";
}

/* Declares <name>r, group r's offset in tensor `which`, and returns the C
 * text of element j's full offset in it. */
static const char *elem_offset(emit_ctx *e, const norm_view *v, int which, const char *name) {
  const char *row = offset_expr(e, v->kept, v->n_kept, which, "r");
  const char *col = offset_expr(e, v->red, v->n_red, which, "j");
  if (!strcmp(row, "0"))
    return col;
  emit_line(e, "const int64_t %sr = %s;", name, row);
  return strcmp(col, "0") ? mem_printf(e->g->mem, "%sr + %s", name, col)
                          : mem_printf(e->g->mem, "%sr", name);
}

void emit_normalize(emit_ctx *e, const ir_node *n, const norm_view *v, const norm_spec *s) {
  const ir_tensor *x = n->inputs[0];
  if (ir_numel(x) == 0)
    return;
  const char *T = ir_dtype_ctype(x->dtype);
  emit_parallel_for(e, "r", v->rows, v->len * 4);
  const char *xi = elem_offset(e, v, 0, "x");
  const char *si = s->scale_in >= 0 ? elem_offset(e, v, 1, "s") : NULL;
  const char *bi = s->bias_in >= 0 ? elem_offset(e, v, 2, "b") : NULL;
  if (s->center) {
    emit_line(e, "double sum = 0;");
    emit_for(e, "j", v->len);
    emit_line(e, "sum += in0[%s];", xi);
    emit_close(e);
    emit_line(e, "const double mean = sum / %lld;", (long long)v->len);
  } else {
    emit_line(e, "const double mean = 0;");
  }
  emit_line(e, "double sq = 0;");
  emit_for(e, "j", v->len);
  emit_line(e, "const double d = in0[%s] - mean;", xi);
  emit_line(e, "sq += d * d;");
  emit_close(e);
  emit_line(e, "const double var = sq / %lld;", (long long)v->len);
  if (s->eps_after_sqrt)
    emit_line(e, "const double inv = 1.0 / (sqrt(var) + %.17g);", s->eps);
  else
    emit_line(e, "const double inv = 1.0 / sqrt(var + %.17g);", s->eps);
  if (s->mean_out >= 0)
    emit_line(e, "out%d[r] = (%s)mean;", s->mean_out,
              ir_dtype_ctype(n->outputs[s->mean_out]->dtype));
  if (s->inv_out >= 0)
    emit_line(e, "out%d[r] = (%s)inv;", s->inv_out, ir_dtype_ctype(n->outputs[s->inv_out]->dtype));
  if (s->per_group)
    s->per_group(e, n);
  emit_for(e, "j", v->len);
  char expr[256];
  int at = snprintf(expr, sizeof expr, "(in0[%s] - mean) * inv", xi);
  if (si)
    at += snprintf(expr + at, sizeof expr - (size_t)at, " * in%d[%s]", s->scale_in, si);
  if (bi)
    at += snprintf(expr + at, sizeof expr - (size_t)at, " + in%d[%s]", s->bias_in, bi);
  NN_ASSERT((size_t)at < sizeof expr);
  emit_line(e, "out0[%s] = (%s)(%s);", xi, T, expr);
  emit_close(e);
  emit_close(e);
}

void emit_lp_normalize(emit_ctx *e, const ir_node *n, const norm_view *v, int p) {
  const ir_tensor *x = n->inputs[0];
  if (ir_numel(x) == 0)
    return;
  const char *T = ir_dtype_ctype(x->dtype);
  emit_parallel_for(e, "r", v->rows, v->len * 3);
  const char *xi = elem_offset(e, v, 0, "x");
  emit_line(e, "double sum = 0;");
  emit_for(e, "j", v->len);
  emit_line(e, "const double a = in0[%s];", xi);
  emit_line(e, p == 1 ? "sum += fabs(a);" : "sum += a * a;");
  emit_close(e);
  emit_line(e, "const double norm = %s;", p == 1 ? "sum" : "sqrt(sum)");
  emit_for(e, "j", v->len);
  emit_line(e, "out0[%s] = (%s)(in0[%s] / norm);", xi, T, xi);
  emit_close(e);
  emit_close(e);
}
