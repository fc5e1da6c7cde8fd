/* Pooling gradients, with the forward op's attributes and geometry
 * (pool_geom.h), X first so the geometry reads it as the forward does:
 *
 *   nncc::MaxPoolGrad(X, dY) -> dX      dY goes to the first maximum of its
 *                                       window, recomputed from X
 *   nncc::AveragePoolGrad(X, dY) -> dX  dY / count to each element of its
 *                                       window (count as the forward's,
 *                                       count_include_pad included)
 *
 * X is read for its values (MaxPoolGrad) or only its shape (AveragePoolGrad).
 * The global pools' gradients are these with the whole plane as window. */
#include <stdio.h>

#include "common.h"
#include "grad_rules.h"
#include "pool_geom.h"

static nn_status infer_pool_grad(ir_graph *g, ir_node *n) {
  pool_geom p;
  if (check_arity(g, n, 2, 2) || check_float(g, n, 0) || check_float(g, n, 1))
    return NN_ERR;
  if (!n->inputs[1])
    return diag_node(g->path, n, "input 1 'dY' is missing");
  if (pool_geometry(g, n, &p))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *dy = n->inputs[1];
  bool ok = dy->rank == x->rank && dy->dtype == x->dtype && dy->dims[0] == x->dims[0] &&
            dy->dims[1] == x->dims[1];
  for (int i = 0; ok && i < p.r; i++)
    ok = dy->dims[2 + i] == p.out[i];
  if (!ok) {
    char a[128], b[128];
    return diag_node(g->path, n, "dY %s %s does not match the pooling of X %s %s",
                     ir_dtype_name(dy->dtype), ir_shape_str(dy, a, sizeof a),
                     ir_dtype_name(x->dtype), ir_shape_str(x, b, sizeof b));
  }
  return infer_same_as_input(g, n);
}

/* Opens the loop over output axis i and declares its window start b<i>,
 * its kernel range inside the input [lo<i>, hi<i>) and, for count_pad,
 * n<i>: the taps inside the input and the explicit pads. */
static void open_window_axis(emit_ctx *e, const pool_geom *p, int i, bool count_pad) {
  long long s = p->s[i], d = p->d[i], k = p->k[i], in = p->in[i];
  emit_for(e, mem_printf(e->g->mem, "o%d", i), p->out[i]);
  emit_line(e, "const int64_t b%d = %s;", i,
            emit_affine(e, -p->pb[i], mem_printf(e->g->mem, "o%d", i), s));
  emit_line(e, "const int64_t lo%d = b%d < 0 ? (%lld - b%d) / %lld : 0;", i, i, d - 1, i, d);
  emit_line(e, "const int64_t e%d = (%lld - b%d) / %lld;", i, in + d - 1, i, d);
  emit_line(e, "const int64_t hi%d = e%d < %lld ? e%d : %lld;", i, i, k, i, k);
  if (count_pad) {
    emit_line(e, "const int64_t f%d = (%lld - b%d) / %lld;", i, in + p->pe[i] + d - 1, i, d);
    emit_line(e, "const int64_t n%d = f%d < %lld ? f%d : %lld;", i, i, k, i, k);
  }
}

/* "b0 + k0 * d0) * stride0 + ...": X offset of window tap (k0, k1, ...). */
static const char *tap_offset(emit_ctx *e, const pool_geom *p, const int64_t *xs) {
  char buf[512] = "0";
  size_t len = 0;
  for (int i = 0; i < p->r; i++) {
    const char *v = mem_printf(e->g->mem, "b%d + %s", i,
                               emit_scaled(e, mem_printf(e->g->mem, "k%d", i), p->d[i]));
    len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", len ? " + " : "",
                            emit_affine(e, 0, v, xs[i]));
  }
  return mem_strdup(e->g->mem, buf);
}

static void open_taps(emit_ctx *e, const pool_geom *p) {
  for (int i = 0; i < p->r; i++)
    emit_open(e, "for (int64_t k%d = lo%d; k%d < hi%d; k%d++)", i, i, i, i, i);
}

static void close_n(emit_ctx *e, int n) {
  for (int i = 0; i < n; i++)
    emit_close(e);
}

static void emit_pool_grad(emit_ctx *e, const ir_node *n) {
  pool_geom p = {0};
  if (pool_geometry(e->g, n, &p) || ir_numel(n->outputs[0]) == 0)
    return;
  bool max = strcmp(n->op_type, "MaxPoolGrad") == 0;
  bool count_pad = !max && ir_attr_int(n, "count_include_pad", 0) != 0;
  ir_dtype t = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(t);
  int64_t xs[SP], xplane = 1, yplane = 1, kvol = 1;
  for (int i = p.r - 1; i >= 0; i--) {
    xs[i] = xplane, xplane *= p.in[i];
    yplane *= p.out[i];
    kvol *= p.k[i];
  }
  emit_parallel_for(e, "nc", p.nc, xplane + yplane * kvol);
  if (max)
    emit_line(e, "const %s *restrict x = in0 + nc * %lld;", T, (long long)xplane);
  emit_line(e, "const %s *restrict dy = in1 + nc * %lld;", T, (long long)yplane);
  emit_line(e, "%s *restrict dx = out0 + nc * %lld;", T, (long long)xplane);
  emit_line(e, "memset(dx, 0, %zu);", (size_t)xplane * ir_dtype_size(t));
  emit_line(e, "int64_t oi = 0;");
  for (int i = 0; i < p.r; i++)
    open_window_axis(e, &p, i, count_pad);
  const char *off = tap_offset(e, &p, xs);
  if (max) {
    emit_line(e, "%s best = %s;", T, emit_lowest(e, t));
    emit_line(e, "int64_t at = -1;");
    open_taps(e, &p);
    emit_line(e, "const int64_t j = %s;", off);
    emit_line(e, "const int better = x[j] > best || at < 0; /* selects, not branches */");
    emit_line(e, "best = better ? x[j] : best;");
    emit_line(e, "at = better ? j : at;");
    close_n(e, p.r);
    emit_line(e, "if (at >= 0) dx[at] += dy[oi];");
  } else {
    char cnt[256] = "";
    size_t len = 0;
    for (int i = 0; i < p.r; i++)
      len += (size_t)snprintf(cnt + len, sizeof cnt - len, "%s%s", len ? " * " : "",
                              count_pad ? mem_printf(e->g->mem, "n%d", i)
                                        : mem_printf(e->g->mem, "(hi%d - lo%d)", i, i));
    emit_line(e, "const int64_t cnt = %s;", cnt);
    emit_line(e, "const %s v = cnt > 0 ? dy[oi] / (%s)cnt : 0;", T, T);
    open_taps(e, &p);
    emit_line(e, "dx[%s] += v;", off);
    close_n(e, p.r);
  }
  emit_line(e, "oi++;");
  close_n(e, p.r);
  emit_close(e); /* nc */
}

/* MaxPool, AveragePool and their Global forms: the kernel above with the
 * forward's attributes (a global pool's window is the whole plane). Only
 * output 0 carries a gradient (MaxPool's Indices are integers). */
nn_status grad_pool(ad_ctx *ad, const ir_node *n) {
  ir_tensor *dy = ad_out_grad(ad, n, 0), *x = n->inputs[0];
  if (!dy || !ad_needs_grad(ad, n, 0))
    return NN_OK;
  bool max = strstr(n->op_type, "Max") != NULL;
  ir_tensor *in[2] = {x, dy};
  ir_node *b = ad_begin(ad, "nncc", max ? "MaxPoolGrad" : "AveragePoolGrad", 2, in, 1);
  if (strncmp(n->op_type, "Global", 6) == 0)
    ad_attr_ints(ad, b, "kernel_shape", x->rank - 2, x->dims + 2);
  else
    grad_copy_attrs(ad, b, n);
  ad_give_grad(ad, n, 0, ad_finish(ad, b));
  return NN_OK;
}

const op_def op_family_pool_grad[] = {
    {"MaxPoolGrad", "nncc", infer_pool_grad, NULL, emit_pool_grad, 0},
    {"AveragePoolGrad", "nncc", infer_pool_grad, NULL, emit_pool_grad, 0},
    {NULL},
};
