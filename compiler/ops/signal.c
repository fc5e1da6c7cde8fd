/* Signal processing: DFT and STFT, the window generators (Hann, Hamming,
 * Blackman) and MelWeightMatrix. The generators' inputs are compile-time
 * constants, so their values are computed here, once, for both folding and
 * the generated tables. */
#include <stdio.h>

#include "common.h"
#include "half.h"

#define PI 3.14159265358979323846

/* ---- tables computed at compile time ---- */

/* Output dtype of a generator: output_datatype, float by default. */
static nn_status generator_dtype(ir_graph *g, const ir_node *n, ir_dtype *t) {
  int64_t v = ir_attr_int(n, "output_datatype", IR_FLOAT);
  if (v == IR_FLOAT || v == IR_DOUBLE || v == IR_FLOAT16 || v == IR_BFLOAT16 || v == IR_INT8 || v == IR_UINT8 || v == IR_INT16 ||
      v == IR_UINT16 || v == IR_INT32 || v == IR_UINT32 || v == IR_INT64 || v == IR_UINT64) {
    *t = (ir_dtype)v;
    return NN_OK;
  }
  return diag_node(g->path, n, "output_datatype %lld is not supported (float types and integer "
                   "types are)", (long long)v);
}

/* static const T table[] = {values}; then copied into out0. */
static void emit_table(emit_ctx *e, ir_dtype t, const double *v, int64_t count) {
  if (count == 0)
    return;
  emit_line(e, "static const %s table[%lld] = {", ir_dtype_ctype(t), (long long)count);
  char line[1024];
  size_t len = 0;
  for (int64_t i = 0; i < count; i++) {
    double x = v[i];
    const char *lit;
    if (t == IR_FLOAT16 || t == IR_BFLOAT16) { /* stored as bit patterns */
      uint16_t bits = t == IR_FLOAT16 ? float_to_half((float)x) : float_to_bfloat16((float)x);
      lit = mem_printf(e->g->mem, "0x%04x", bits);
    } else {
      if (t != IR_FLOAT && t != IR_DOUBLE) /* as a cast in C: toward zero */
        x = x != x ? 0 : x < 0 ? -floor(-x) : floor(x);
      lit = emit_literal(e, t, x);
    }
    len += (size_t)snprintf(line + len, sizeof line - len, "%s,", lit);
    if (len > 80 || i + 1 == count) {
      emit_line(e, "    %s", line);
      len = 0;
    } else {
      line[len++] = ' ';
      line[len] = '\0';
    }
  }
  emit_line(e, "};");
  emit_line(e, "memcpy(out0, table, sizeof table);");
}

static void fold_table(ir_graph *g, ir_tensor *y, const double *v) {
  ir_make_weight(g, y);
  for (int64_t i = 0; i < ir_numel(y); i++)
    store_double(y->dtype, y->data, i, v[i]);
}

/* ---- HannWindow, HammingWindow, BlackmanWindow ---- */

static int64_t window_size(ir_graph *g, const ir_node *n) {
  int64_t size;
  int k = const_input_ints(g, n, 0, "size", &size, 1);
  if (k < 0)
    return -1;
  if (k != 1 || size < 0) {
    diag_node(g->path, n, "input 0 'size' must be one non-negative integer");
    return -1;
  }
  return size;
}

static nn_status infer_window(ir_graph *g, ir_node *n) {
  ir_dtype t = IR_FLOAT;
  if (check_arity(g, n, 1, 1) || generator_dtype(g, n, &t))
    return NN_ERR;
  int64_t size = window_size(g, n);
  if (size < 0)
    return NN_ERR;
  ir_set_shape(n->outputs[0], t, 1, &size);
  return NN_OK;
}

/* The window's values in double; periodic windows divide by N, symmetric
 * ones by N - 1. */
static double *window_values(ir_graph *g, const ir_node *n) {
  int64_t size = n->outputs[0]->dims[0];
  double *v = mem_alloc(g->mem, (size_t)(size ? size : 1) * sizeof *v);
  double span = (double)(ir_attr_int(n, "periodic", 1) ? size : size - 1);
  for (int64_t i = 0; i < size; i++) {
    double a = 2 * PI * (double)i / span;
    switch (n->op_type[1]) {
    case 'a': /* Hann, Hamming */
      v[i] = n->op_type[2] == 'n' ? 0.5 - 0.5 * cos(a) : 25.0 / 46.0 - 21.0 / 46.0 * cos(a);
      break;
    default: /* Blackman */
      v[i] = 0.42 - 0.5 * cos(a) + 0.08 * cos(2 * a);
    }
  }
  return v;
}

static nn_status fold_window(ir_graph *g, ir_node *n) {
  fold_table(g, n->outputs[0], window_values(g, n));
  return NN_OK;
}

static void emit_window(emit_ctx *e, const ir_node *n) {
  emit_table(e, n->outputs[0]->dtype, window_values(e->g, n), n->outputs[0]->dims[0]);
}

/* ---- MelWeightMatrix ---- */

typedef struct mel_args {
  int64_t bins, dft_length, rate;
  float lo, hi;
} mel_args;

static nn_status mel_read(ir_graph *g, const ir_node *n, mel_args *m) {
  int64_t v[3];
  const char *names[3] = {"num_mel_bins", "dft_length", "sample_rate"};
  for (int k = 0; k < 3; k++) {
    int c = const_input_ints(g, n, k, names[k], &v[k], 1);
    if (c < 0)
      return NN_ERR;
    if (c != 1 || v[k] <= 0)
      return diag_node(g->path, n, "input %d '%s' must be one positive integer", k, names[k]);
  }
  for (int k = 3; k < 5; k++) {
    if (require_constant(g, n, k, k == 3 ? "lower_edge_hertz" : "upper_edge_hertz"))
      return NN_ERR;
    if (ir_numel(n->inputs[k]) != 1)
      return diag_node(g->path, n, "input %d must be a scalar", k);
  }
  *m = (mel_args){v[0], v[1], v[2], (float)ir_weight_float(n->inputs[3], 0),
                  (float)ir_weight_float(n->inputs[4], 0)};
  return NN_OK;
}

static nn_status infer_mel(ir_graph *g, ir_node *n) {
  ir_dtype t = IR_FLOAT;
  mel_args m;
  if (check_arity(g, n, 5, 5) || generator_dtype(g, n, &t) || mel_read(g, n, &m))
    return NN_ERR;
  for (int k = 0; k < 5; k++)
    if (!n->inputs[k])
      return diag_node(g->path, n, "input %d is required", k);
  int64_t dims[2] = {m.dft_length / 2 + 1, m.bins};
  ir_set_shape(n->outputs[0], t, 2, dims);
  return NN_OK;
}

/* Triangular filters between mel-spaced edges, each edge rounded down to a
 * DFT bin. The edges' mel values are float32, as the reference computes. */
static double *mel_values(ir_graph *g, const ir_node *n) {
  mel_args m;
  mel_read(g, n, &m);
  int64_t rows = m.dft_length / 2 + 1, cols = m.bins;
  double *out = mem_alloc(g->mem, (size_t)(rows * cols) * sizeof *out);
  memset(out, 0, (size_t)(rows * cols) * sizeof *out);
  int64_t *edge = mem_alloc(g->mem, (size_t)(cols + 2) * sizeof *edge);
  float lo = 2595.0f * log10f(1.0f + m.lo / 700.0f), hi = 2595.0f * log10f(1.0f + m.hi / 700.0f);
  float step = (hi - lo) / (float)(cols + 2);
  for (int64_t i = 0; i < cols + 2; i++) {
    double hz = 700.0 * (pow(10.0, ((double)i * step + lo) / 2595.0) - 1.0);
    edge[i] = (int64_t)floor((double)(m.dft_length + 1) * hz / (double)m.rate);
  }
  for (int64_t i = 0; i < cols; i++) {
    int64_t l = edge[i], c = edge[i + 1], h = edge[i + 2];
    for (int64_t j = l; j <= c; j++)
      if (j >= 0 && j < rows)
        out[j * cols + i] = c == l ? 1.0 : (double)(j - l) / (double)(c - l);
    for (int64_t j = c; j < h; j++)
      if (j >= 0 && j < rows)
        out[j * cols + i] = (double)(h - j) / (double)(h - c);
  }
  return out;
}

static nn_status fold_mel(ir_graph *g, ir_node *n) {
  fold_table(g, n->outputs[0], mel_values(g, n));
  return NN_OK;
}

static void emit_mel(emit_ctx *e, const ir_node *n) {
  emit_table(e, n->outputs[0]->dtype, mel_values(e->g, n), ir_numel(n->outputs[0]));
}

/* ---- DFT ---- */

/* A DFT's view of its input [outer, len, inner, 1 or 2] along the axis. */
typedef struct dft_geom {
  int axis;
  int64_t outer, len, inner, out_len, dft_len;
  bool complex_in, inverse;
} dft_geom;

static nn_status dft_geometry(ir_graph *g, const ir_node *n, dft_geom *p) {
  const ir_tensor *x = n->inputs[0];
  if (x->rank < 2 || (x->dims[x->rank - 1] != 1 && x->dims[x->rank - 1] != 2))
    return diag_node(g->path, n, "input must end in a dimension of 1 (real) or 2 (complex)");
  int64_t axis = ir_attr_int(n, "axis", 1), v[1];
  if (n->opset >= 20) {
    int k = const_input_ints(g, n, 2, "axis", v, 1);
    if (k < 0)
      return NN_ERR;
    axis = k ? v[0] : -2;
  }
  if (norm_axis(g, n, axis, x->rank, &p->axis))
    return NN_ERR;
  if (p->axis == x->rank - 1)
    return diag_node(g->path, n, "axis %lld is the real/imaginary dimension", (long long)axis);
  p->len = x->dims[p->axis];
  p->dft_len = p->len;
  int k = const_input_ints(g, n, 1, "dft_length", v, 1);
  if (k < 0)
    return NN_ERR;
  if (k) {
    if (v[0] < 1)
      return diag_node(g->path, n, "dft_length must be positive, not %lld", (long long)v[0]);
    p->dft_len = v[0];
  }
  p->outer = p->inner = 1;
  for (int d = 0; d < x->rank - 1; d++)
    if (d < p->axis)
      p->outer *= x->dims[d];
    else if (d > p->axis)
      p->inner *= x->dims[d];
  p->complex_in = x->dims[x->rank - 1] == 2;
  p->inverse = ir_attr_int(n, "inverse", 0) != 0;
  p->out_len = ir_attr_int(n, "onesided", 0) ? p->dft_len / 2 + 1 : p->dft_len;
  return NN_OK;
}

static nn_status infer_dft(ir_graph *g, ir_node *n) {
  dft_geom p;
  if (check_arity(g, n, 1, 3) || check_float(g, n, 0) || dft_geometry(g, n, &p))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  int64_t dims[IR_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  dims[p.axis] = p.out_len;
  dims[x->rank - 1] = 2;
  ir_set_shape(n->outputs[0], x->dtype, x->rank, dims);
  return NN_OK;
}

/* cos and sin of 2 pi j / len, reduced to a quarter turn first so that
 * multiples of a quarter come out exactly 0 and +-1. */
static void twiddle(int64_t j, int64_t len, double *c, double *s) {
  int64_t quarter = 4 * j / len, rest = 4 * j - quarter * len;
  double a = PI / 2 * (double)rest / (double)len, c0 = cos(a), s0 = sin(a);
  double cq[4] = {c0, -s0, -c0, s0}, sq[4] = {s0, c0, -s0, -c0};
  *c = cq[quarter];
  *s = sq[quarter];
}

/* cos and sin of 2 pi j / len for j < len, as static tables in double. */
static void emit_twiddles(emit_ctx *e, int64_t len) {
  double *c = mem_alloc(e->g->mem, (size_t)len * sizeof *c), *sn = mem_alloc(e->g->mem, (size_t)len * sizeof *sn);
  for (int64_t j = 0; j < len; j++)
    twiddle(j, len, &c[j], &sn[j]);
  for (int pass = 0; pass < 2; pass++) {
    emit_line(e, "static const double %s[%lld] = {", pass ? "sn" : "cs", (long long)len);
    char line[1024];
    size_t l = 0;
    for (int64_t j = 0; j < len; j++) {
      l += (size_t)snprintf(line + l, sizeof line - l, "%s, ", emit_literal(e, IR_DOUBLE, pass ? sn[j] : c[j]));
      if (l > 80 || j + 1 == len) {
        emit_line(e, "    %s", line);
        l = 0;
      }
    }
    emit_line(e, "};");
  }
}

/* One transform along a run: y[k] = sum_m x[m] * w[m] * e^(-+2 pi i k m / L)
 * over the first `count` inputs (zero padding beyond), as the direct
 * O(L * count) sum with exact twiddles from the table: any length, and any
 * number of outputs (onesided keeps L / 2 + 1). Powers of two whose whole
 * output is kept take emit_fft_loop instead.
 * xr/xi/w: C expressions of m; yk: the output element pair of k. */
typedef struct dft_loop {
  int64_t dft_len, count, out_len;
  bool inverse;
  const char *xr, *xi, *w, *yk;
  ir_dtype t;
} dft_loop;

static void emit_dft_loop(emit_ctx *e, const dft_loop *d) {
  emit_for(e, "k", d->out_len);
  emit_line(e, "double re = 0, im = 0;");
  emit_line(e, "int64_t j = 0;");
  emit_for(e, "m", d->count);
  emit_line(e, "const double xr = %s%s, xi = %s%s;", d->xr, d->w ? d->w : "", d->xi ? d->xi : "0",
            d->xi && d->w ? d->w : "");
  if (d->inverse) {
    emit_line(e, "re += xr * cs[j] - xi * sn[j];");
    emit_line(e, "im += xi * cs[j] + xr * sn[j];");
  } else {
    emit_line(e, "re += xr * cs[j] + xi * sn[j];");
    emit_line(e, "im += xi * cs[j] - xr * sn[j];");
  }
  emit_line(e, "j += k;");
  emit_line(e, "if (j >= %lld) j -= %lld;", (long long)d->dft_len, (long long)d->dft_len);
  emit_close(e);
  const char *T = ir_dtype_ctype(d->t);
  const char *scale = d->inverse ? mem_printf(e->g->mem, " / %lld.0", (long long)d->dft_len) : "";
  emit_line(e, "%s[0] = (%s)(re%s);", d->yk, T, scale);
  emit_line(e, "%s[1] = (%s)(im%s);", d->yk, T, scale);
  emit_close(e);
}

/* The same transform for a power-of-two length whose whole output is kept:
 * radix-2 decimation in time, in place in the output run (element stride
 * `stride`), O(L log L). Inputs go in bit-reversed order, then each pass
 * merges pairs of half-length transforms with one twiddle per pair. */
static void emit_fft_loop(emit_ctx *e, const dft_loop *d, int64_t stride) {
  long long L = (long long)d->dft_len, S = (long long)stride;
  int bits = 0;
  while ((1LL << bits) < L)
    bits++;
  emit_line(e, "static const uint32_t rev[%lld] = {", L);
  char line[1024];
  size_t l = 0;
  for (long long m = 0; m < L; m++) {
    long long r = 0;
    for (int b = 0; b < bits; b++)
      r |= ((m >> b) & 1) << (bits - 1 - b);
    l += (size_t)snprintf(line + l, sizeof line - l, "%lld, ", r);
    if (l > 80 || m + 1 == L) {
      emit_line(e, "    %s", line);
      l = 0;
    }
  }
  emit_line(e, "};");
  const char *T = ir_dtype_ctype(d->t);
  emit_for(e, "m", d->dft_len);
  emit_line(e, "%s *v = y + rev[m] * %lld;", T, S);
  const char *in = d->count < d->dft_len ? mem_printf(e->g->mem, "m < %lld ? ", (long long)d->count) : NULL;
  emit_line(e, "v[0] = %s(%s)(%s%s)%s;", in ? in : "", T, d->xr, d->w ? d->w : "", in ? " : 0" : "");
  if (d->xi)
    emit_line(e, "v[1] = %s(%s)(%s%s)%s;", in ? in : "", T, d->xi, d->w ? d->w : "", in ? " : 0" : "");
  else
    emit_line(e, "v[1] = 0;");
  emit_close(e);
  emit_open(e, "for (int64_t h = 1; h < %lld; h *= 2)", L);
  emit_line(e, "const int64_t t = %lld / (2 * h);", L);
  emit_open(e, "for (int64_t s = 0; s < %lld; s += 2 * h)", L);
  emit_open(e, "for (int64_t j = 0; j < h; j++)");
  /* w = e^(-+2 pi i j / 2h) = cs[j t] -+ i sn[j t] */
  emit_line(e, "const double c = cs[j * t], sw = %ssn[j * t];", d->inverse ? "" : "-");
  emit_line(e, "%s *a = y + (s + j) * %lld, *b = a + h * %lld;", T, S, S);
  emit_line(e, "const double br = b[0] * c - b[1] * sw, bi = b[0] * sw + b[1] * c;");
  emit_line(e, "b[0] = (%s)(a[0] - br);", T);
  emit_line(e, "b[1] = (%s)(a[1] - bi);", T);
  emit_line(e, "a[0] = (%s)(a[0] + br);", T);
  emit_line(e, "a[1] = (%s)(a[1] + bi);", T);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  if (d->inverse) {
    emit_for(e, "k", d->dft_len);
    emit_line(e, "y[k * %lld] /= %s;", S, emit_literal(e, d->t, (double)L));
    emit_line(e, "y[k * %lld + 1] /= %s;", S, emit_literal(e, d->t, (double)L));
    emit_close(e);
  }
}

static void emit_dft(emit_ctx *e, const ir_node *n) {
  dft_geom p;
  const ir_tensor *y = n->outputs[0];
  if (dft_geometry(e->g, n, &p) || ir_numel(y) == 0)
    return;
  int64_t count = p.len < p.dft_len ? p.len : p.dft_len, ch = p.complex_in ? 2 : 1;
  /* a k * m below dft_len reduces with one subtraction per step */
  NN_ASSERT(p.out_len <= p.dft_len);
  emit_twiddles(e, p.dft_len);
  emit_parallel_for(e, "o", p.outer, p.inner * p.out_len * count * 4);
  emit_for(e, "i", p.inner);
  emit_line(e, "const %s *x = in0 + (o * %lld * %lld + i) * %lld;", ir_dtype_ctype(y->dtype),
            (long long)p.len, (long long)p.inner, (long long)ch);
  emit_line(e, "%s *y = out0 + (o * %lld * %lld + i) * 2;", ir_dtype_ctype(y->dtype),
            (long long)p.out_len, (long long)p.inner);
  long long step = (long long)(p.inner * ch);
  dft_loop d = {p.dft_len, count, p.out_len, p.inverse,
                mem_printf(e->g->mem, "(double)x[m * %lld]", step),
                p.complex_in ? mem_printf(e->g->mem, "(double)x[m * %lld + 1]", step) : NULL, NULL,
                mem_printf(e->g->mem, "(y + k * %lld)", (long long)(p.inner * 2)), y->dtype};
  if (p.dft_len >= 4 && (p.dft_len & (p.dft_len - 1)) == 0 && p.out_len == p.dft_len)
    emit_fft_loop(e, &d, p.inner * 2);
  else
    emit_dft_loop(e, &d);
  emit_close(e);
  emit_close(e);
}

/* ---- STFT ---- */

typedef struct stft_geom {
  int64_t batch, len, step, frame, frames, bins;
  bool complex_in;
} stft_geom;

static nn_status stft_geometry(ir_graph *g, const ir_node *n, stft_geom *p) {
  const ir_tensor *x = n->inputs[0], *w = ir_in(n, 2);
  if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
    return diag_node(g->path, n, "signal must be [batch, length, 1 or 2]");
  int64_t v;
  int k = const_input_ints(g, n, 1, "frame_step", &v, 1);
  if (k < 0)
    return NN_ERR;
  if (k != 1 || v < 1)
    return diag_node(g->path, n, "frame_step must be one positive integer");
  *p = (stft_geom){.batch = x->dims[0], .len = x->dims[1], .step = v, .frame = x->dims[1],
                   .complex_in = x->dims[2] == 2};
  if (w) {
    if (w->rank != 1)
      return diag_node(g->path, n, "window must be 1-D");
    p->frame = w->dims[0];
  }
  k = const_input_ints(g, n, 3, "frame_length", &v, 1);
  if (k < 0)
    return NN_ERR;
  if (k) {
    if (w && v != p->frame)
      return diag_node(g->path, n, "frame_length %lld differs from the window's length %lld",
                       (long long)v, (long long)p->frame);
    p->frame = v;
  }
  if (p->frame < 1 || p->frame > p->len)
    return diag_node(g->path, n, "frame length %lld must be between 1 and the signal length %lld",
                     (long long)p->frame, (long long)p->len);
  p->frames = 1 + (p->len - p->frame) / p->step;
  p->bins = ir_attr_int(n, "onesided", 1) ? p->frame / 2 + 1 : p->frame;
  return NN_OK;
}

static nn_status infer_stft(ir_graph *g, ir_node *n) {
  stft_geom p;
  if (check_arity(g, n, 2, 4) || check_float(g, n, 0) || stft_geometry(g, n, &p))
    return NN_ERR;
  if (ir_in(n, 2) && n->inputs[2]->dtype != n->inputs[0]->dtype)
    return diag_node(g->path, n, "window has dtype %s but signal %s", ir_dtype_name(n->inputs[2]->dtype),
                     ir_dtype_name(n->inputs[0]->dtype));
  int64_t dims[4] = {p.batch, p.frames, p.bins, 2};
  ir_set_shape(n->outputs[0], n->inputs[0]->dtype, 4, dims);
  return NN_OK;
}

static void emit_stft(emit_ctx *e, const ir_node *n) {
  stft_geom p;
  const ir_tensor *y = n->outputs[0];
  if (stft_geometry(e->g, n, &p) || ir_numel(y) == 0)
    return;
  int64_t ch = p.complex_in ? 2 : 1;
  emit_twiddles(e, p.frame);
  emit_parallel_for(e, "bf", p.batch * p.frames, p.bins * p.frame * 4);
  emit_line(e, "const int64_t b = bf / %lld, f = bf %% %lld;", (long long)p.frames, (long long)p.frames);
  emit_line(e, "const %s *x = in0 + (b * %lld + f * %lld) * %lld;", ir_dtype_ctype(y->dtype),
            (long long)p.len, (long long)p.step, (long long)ch);
  emit_line(e, "%s *y = out0 + bf * %lld;", ir_dtype_ctype(y->dtype), (long long)(p.bins * 2));
  dft_loop d = {p.frame, p.frame, p.bins, false,
                mem_printf(e->g->mem, "(double)x[m * %lld]", (long long)ch),
                p.complex_in ? "(double)x[m * 2 + 1]" : NULL,
                ir_in(n, 2) ? " * (double)in2[m]" : NULL, "(y + k * 2)", y->dtype};
  emit_dft_loop(e, &d);
  emit_close(e);
}

const op_def op_family_signal[] = {
    {"DFT", "", infer_dft, NULL, emit_dft, 0, OP_CONST(1) | OP_CONST(2)},
    {"STFT", "", infer_stft, NULL, emit_stft, 0, OP_CONST(1) | OP_CONST(3)},
    {"HannWindow", "", infer_window, fold_window, emit_window, 0, OP_CONST(0)},
    {"HammingWindow", "", infer_window, fold_window, emit_window, 0, OP_CONST(0)},
    {"BlackmanWindow", "", infer_window, fold_window, emit_window, 0, OP_CONST(0)},
    {"MelWeightMatrix", "", infer_mel, fold_mel, emit_mel, 0,
     OP_CONST(0) | OP_CONST(1) | OP_CONST(2) | OP_CONST(3) | OP_CONST(4)},
    {NULL},
};
