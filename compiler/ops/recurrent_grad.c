/* Backpropagation through time for RNN, GRU and LSTM (layout 0, the default
 * activations, every direction, both GRU reset placements).
 *
 *   nncc::RecurrentGrad(X, W, R, B, initial_h, initial_c, dY, dY_h, dY_c)
 *       -> (dX, dW, dR, dB, d_initial_h, d_initial_c, work)
 *
 * attributes: kind ("RNN", "GRU", "LSTM"), direction, hidden_size,
 * linear_before_reset. Absent optional inputs are zeros. The kernel first
 * runs the forward again, keeping every step's state and gate activations
 * in `work` (an arena tensor), then walks the steps backwards, summing the
 * weight gradients over time and batch. Shapes and gate order are ONNX's. */
#include <stdio.h>

#include "common.h"
#include "grad_rules.h"

enum { G_X, G_W, G_R, G_B, G_H0, G_C0, G_DY, G_DYH, G_DYC };

typedef struct {
  int kind; /* 0 RNN, 1 GRU, 2 LSTM */
  int G;
  int64_t S, B, I, H, D;
  bool lbr; /* GRU: linear_before_reset */
  const char *dir;
} bptt_geo;

static nn_status bptt_geometry(ir_graph *g, const ir_node *n, bptt_geo *r) {
  static const char *const kinds[] = {"RNN", "GRU", "LSTM"};
  const char *kind = ir_attr_string(n, "kind", "");
  r->kind = -1;
  for (int k = 0; k < 3; k++)
    if (strcmp(kind, kinds[k]) == 0)
      r->kind = k;
  if (r->kind < 0)
    return diag_node(g->path, n, "attribute 'kind' must be RNN, GRU or LSTM");
  r->G = r->kind == 0 ? 1 : r->kind == 1 ? 3 : 4;
  r->dir = ir_attr_string(n, "direction", "forward");
  r->D = strcmp(r->dir, "bidirectional") == 0 ? 2 : 1;
  r->lbr = ir_attr_int(n, "linear_before_reset", 0) != 0;
  const ir_tensor *x = n->n_inputs == 9 ? n->inputs[G_X] : NULL;
  if (!x || x->rank != 3 || !n->inputs[G_W] || !n->inputs[G_R])
    return diag_node(g->path, n, "expects 9 inputs, X [S, B, I], W and R present");
  r->S = x->dims[0];
  r->B = x->dims[1];
  r->I = x->dims[2];
  r->H = ir_attr_int(n, "hidden_size", 0);
  int64_t gh = r->G * r->H;
  const int64_t want[9][3] = {{0}, {r->D, gh, r->I}, {r->D, gh, r->H}, {r->D, 2 * gh, 0},
                              {r->D, r->B, r->H}, {r->D, r->B, r->H}, {0},
                              {r->D, r->B, r->H}, {r->D, r->B, r->H}};
  for (int k = 1; k < 9; k++) {
    const ir_tensor *t = n->inputs[k];
    if (!t || k == G_DY)
      continue;
    bool ok = t->dtype == x->dtype && t->rank == (k == G_B ? 2 : 3);
    for (int d = 0; ok && d < t->rank; d++)
      ok = t->dims[d] == want[k][d];
    if (!ok)
      return diag_node(g->path, n, "input %d does not fit S=%lld B=%lld I=%lld H=%lld D=%lld", k,
                       (long long)r->S, (long long)r->B, (long long)r->I, (long long)r->H,
                       (long long)r->D);
  }
  const ir_tensor *dy = n->inputs[G_DY];
  if (dy && (dy->rank != 4 || dy->dims[0] != r->S || dy->dims[1] != r->D ||
             dy->dims[2] != r->B || dy->dims[3] != r->H || dy->dtype != x->dtype))
    return diag_node(g->path, n, "dY must be [S, D, B, H]");
  if (r->H <= 0 || (r->kind != 2 && (n->inputs[G_C0] || n->inputs[G_DYC])))
    return diag_node(g->path, n, "needs hidden_size, and cell states only for LSTM");
  return NN_OK;
}

/* Elements of `work` per direction: states (and LSTM cells, GRU's recurrent
 * h-gate terms) and gates per step, then the carried dh and dc. */
static int64_t work_per_dir(const bptt_geo *r) {
  int64_t sbh = r->S * r->B * r->H;
  return sbh * (r->G + 1 + (r->kind == 2) + (r->kind == 1)) + 2 * r->B * r->H;
}

static nn_status infer_bptt(ir_graph *g, ir_node *n) {
  bptt_geo r;
  if (n->n_outputs != 7 || check_float(g, n, 0) || bptt_geometry(g, n, &r))
    return n->n_outputs != 7 ? diag_node(g->path, n, "has %d outputs, expected 7", n->n_outputs)
                             : NN_ERR;
  for (int k = 0; k < 6; k++) { /* each gradient is shaped as its input */
    const ir_tensor *like = k == 4 || k == 5 ? n->inputs[G_DYH] : n->inputs[k];
    int64_t dims[3] = {r.D, r.B, r.H};
    if (n->outputs[k])
      ir_set_shape(n->outputs[k], n->inputs[0]->dtype, like && k < 4 ? like->rank : 3,
                   like && k < 4 ? like->dims : dims);
  }
  if (n->outputs[3] && !n->inputs[G_B]) {
    int64_t dims[2] = {r.D, 2 * r.G * r.H};
    ir_set_shape(n->outputs[3], n->inputs[0]->dtype, 2, dims);
  }
  int64_t wsize = r.D * work_per_dir(&r);
  ir_set_shape(n->outputs[6], n->inputs[0]->dtype, 1, &wsize);
  return NN_OK;
}

#define L(...) emit_line(e, __VA_ARGS__)

/* The forward again for direction d, into work: hs, cs (LSTM), gates, hr (GRU lbr). */
static void emit_recompute(emit_ctx *e, const ir_node *n, const bptt_geo *r, int d, bool rev,
                           const char *T, const char *ex, const char *th) {
  long long S = r->S, B = r->B, I = r->I, H = r->H, GH = r->G * r->H;
  L("for (int64_t s = 0; s < %lld; s++) {", S);
  L("  const int64_t t = %s;", rev ? mem_printf(e->g->mem, "%lld - s", S - 1) : "s");
  L("  for (int64_t b = 0; b < %lld; b++) {", B);
  L("    const %s *xt = in0 + (t * %lld + b) * %lld;", T, B, I);
  L("    const %s *hp = s ? hs + ((s - 1) * %lld + b) * %lld : %s;", T, B, H,
    n->inputs[G_H0] ? mem_printf(e->g->mem, "in4 + (%d * %lld + b) * %lld", d, B, H) : "zero");
  L("    %s *hn = hs + (s * %lld + b) * %lld, *a = gs + (s * %lld + b) * %lld;", T, B, H, B, GH);
  L("    for (int64_t j = 0; j < %lld; j++) {", GH);
  L("      %s v = %s;", T, n->inputs[G_B] ? mem_printf(e->g->mem, "bw[j]") : "0");
  L("      for (int64_t i = 0; i < %lld; i++) v += xt[i] * w[j * %lld + i];", I, I);
  if (r->kind == 1) { /* GRU: the h gate's recurrent term depends on r */
    L("      if (j >= %lld) { a[j] = v; continue; }", 2 * H);
  }
  L("      %s u = %s;", T, n->inputs[G_B] ? "br[j]" : "0");
  L("      for (int64_t k = 0; k < %lld; k++) u += hp[k] * rr[j * %lld + k];", H, H);
  L("      a[j] = v + u;");
  L("    }");
  if (r->kind == 0) {
    L("    for (int64_t k = 0; k < %lld; k++) hn[k] = a[k] = %s(a[k]);", H, th);
  } else if (r->kind == 2) { /* i, o, f, c */
    L("    %s *cn = cs + (s * %lld + b) * %lld;", T, B, H);
    L("    const %s *cp = s ? cs + ((s - 1) * %lld + b) * %lld : %s;", T, B, H,
      n->inputs[G_C0] ? mem_printf(e->g->mem, "in5 + (%d * %lld + b) * %lld", d, B, H) : "zero");
    L("    for (int64_t k = 0; k < %lld; k++) {", H);
    L("      for (int q = 0; q < 3; q++) a[q * %lld + k] = 1 / (1 + %s(-a[q * %lld + k]));", H, ex, H);
    L("      a[%lld + k] = %s(a[%lld + k]);", 3 * H, th, 3 * H);
    L("      cn[k] = a[%lld + k] * cp[k] + a[k] * a[%lld + k];", 2 * H, 3 * H);
    L("      hn[k] = a[%lld + k] * %s(cn[k]);", H, th);
    L("    }");
  } else { /* z, r, h */
    if (r->lbr)
      L("    %s *hr = hx + (s * %lld + b) * %lld;", T, B, H);
    L("    for (int64_t k = 0; k < %lld; k++) a[k] = 1 / (1 + %s(-a[k])), "
      "a[%lld + k] = 1 / (1 + %s(-a[%lld + k]));", H, ex, H, ex, H);
    L("    for (int64_t k = 0; k < %lld; k++) {", H);
    L("      const int64_t j = %lld + k;", 2 * H);
    L("      %s u = %s;", T, n->inputs[G_B] ? "br[j]" : "0");
    if (r->lbr) {
      L("      for (int64_t m = 0; m < %lld; m++) u += hp[m] * rr[j * %lld + m];", H, H);
      L("      hr[k] = u;");
      L("      a[j] = %s(a[j] + a[%lld + k] * u);", th, H);
    } else {
      L("      for (int64_t m = 0; m < %lld; m++) u += a[%lld + m] * hp[m] * rr[j * %lld + m];", H,
        H, H);
      L("      a[j] = %s(a[j] + u);", th);
    }
    L("    }");
    L("    for (int64_t k = 0; k < %lld; k++) hn[k] = (1 - a[k]) * a[%lld + k] + a[k] * hp[k];", H,
      2 * H);
  }
  L("  }");
  L("}");
}

/* The backward walk of direction d: gradients of the pre-activations into
 * da, then the sums into dW, dR, dB, dX and the carried dh (and dc). */
static void emit_backward(emit_ctx *e, const ir_node *n, const bptt_geo *r, int d, bool rev,
                          const char *T, const char *th) {
  long long S = r->S, B = r->B, I = r->I, H = r->H, GH = r->G * r->H, D = r->D;
  L("for (int64_t b = 0; b < %lld; b++)", B);
  L("  for (int64_t k = 0; k < %lld; k++) {", H);
  L("    dh[b * %lld + k] = %s;", H,
    n->inputs[G_DYH] ? mem_printf(e->g->mem, "in7[(%d * %lld + b) * %lld + k]", d, B, H) : "0");
  L("    dc[b * %lld + k] = %s;", H,
    n->inputs[G_DYC] ? mem_printf(e->g->mem, "in8[(%d * %lld + b) * %lld + k]", d, B, H) : "0");
  L("  }");
  L("for (int64_t s = %lld; s >= 0; s--) {", S - 1);
  L("  const int64_t t = %s;", rev ? mem_printf(e->g->mem, "%lld - s", S - 1) : "s");
  L("  for (int64_t b = 0; b < %lld; b++) {", B);
  L("    const %s *xt = in0 + (t * %lld + b) * %lld;", T, B, I);
  L("    const %s *hp = s ? hs + ((s - 1) * %lld + b) * %lld : %s;", T, B, H,
    n->inputs[G_H0] ? mem_printf(e->g->mem, "in4 + (%d * %lld + b) * %lld", d, B, H) : "zero");
  L("    const %s *hn = hs + (s * %lld + b) * %lld, *a = gs + (s * %lld + b) * %lld;", T, B, H, B, GH);
  L("    (void)hn; (void)a;");
  L("    %s *g = dh + b * %lld, *gc = dc + b * %lld;", T, H, H);
  L("    (void)gc;");
  if (n->inputs[G_DY])
    L("    for (int64_t k = 0; k < %lld; k++) g[k] += in6[((t * %lld + %d) * %lld + b) * %lld + k];",
      H, D, d, B, H);
  L("    %s da[%lld], dhp[%lld];", T, GH, H);
  L("    for (int64_t k = 0; k < %lld; k++) dhp[k] = 0;", H);
  if (r->kind == 0) {
    L("    for (int64_t k = 0; k < %lld; k++) da[k] = g[k] * (1 - hn[k] * hn[k]);", H);
  } else if (r->kind == 2) {
    L("    const %s *cn = cs + (s * %lld + b) * %lld;", T, B, H);
    L("    const %s *cp = s ? cs + ((s - 1) * %lld + b) * %lld : %s;", T, B, H,
      n->inputs[G_C0] ? mem_printf(e->g->mem, "in5 + (%d * %lld + b) * %lld", d, B, H) : "zero");
    L("    for (int64_t k = 0; k < %lld; k++) {", H);
    L("      const %s i = a[k], o = a[%lld + k], f = a[%lld + k], c = a[%lld + k], tc = %s(cn[k]);",
      T, H, 2 * H, 3 * H, th);
    L("      const %s dcell = gc[k] + g[k] * o * (1 - tc * tc);", T);
    L("      da[k] = dcell * c * i * (1 - i);");
    L("      da[%lld + k] = g[k] * tc * o * (1 - o);", H);
    L("      da[%lld + k] = dcell * cp[k] * f * (1 - f);", 2 * H);
    L("      da[%lld + k] = dcell * i * (1 - c * c);", 3 * H);
    L("      gc[k] = dcell * f;");
    L("    }");
  } else {
    if (r->lbr)
      L("    const %s *hr = hx + (s * %lld + b) * %lld;", T, B, H);
    L("    for (int64_t k = 0; k < %lld; k++) {", H);
    L("      const %s z = a[k], hh = a[%lld + k];", T, 2 * H);
    L("      dhp[k] = g[k] * z;");
    L("      da[k] = g[k] * (hp[k] - hh) * z * (1 - z);");
    L("      da[%lld + k] = g[k] * (1 - z) * (1 - hh * hh);", 2 * H);
    L("    }");
    /* the h gate's recurrent part: dr, dR_h, dRb_h and the direct dh_prev */
    L("    for (int64_t k = 0; k < %lld; k++) da[%lld + k] = 0;", H, H);
    L("    for (int64_t k = 0; k < %lld; k++) {", H);
    L("      const int64_t j = %lld + k;", 2 * H);
    if (r->lbr) {
      L("      const %s dhr = da[j] * a[%lld + k];", T, H);
      L("      da[%lld + k] = da[j] * hr[k] * a[%lld + k] * (1 - a[%lld + k]);", H, H, H);
      L("      if (dbr) dbr[j] += dhr;");
      L("      for (int64_t m = 0; m < %lld; m++) {", H);
      L("        dr[j * %lld + m] += dhr * hp[m];", H);
      L("        dhp[m] += dhr * rr[j * %lld + m];", H);
      L("      }");
    } else {
      L("      if (dbr) dbr[j] += da[j];");
      L("      for (int64_t m = 0; m < %lld; m++) {", H);
      L("        const %s rm = a[%lld + m];", T, H);
      L("        dr[j * %lld + m] += da[j] * rm * hp[m];", H);
      L("        const %s drh = da[j] * rr[j * %lld + m];", T, H);
      L("        da[%lld + m] += drh * hp[m] * rm * (1 - rm);", H);
      L("        dhp[m] += drh * rm;");
      L("      }");
    }
    L("    }");
  }
  (void)th;
  /* input-side sums over every gate; recurrent sums over the gates whose
   * pre-activation takes h * R directly (all but GRU's h gate) */
  long long GR = r->kind == 1 ? 2 * H : GH;
  L("    %s *dxt = out0 + (t * %lld + b) * %lld;", T, B, I);
  L("    for (int64_t j = 0; j < %lld; j++) {", GH);
  L("      const %s v = da[j];", T);
  L("      if (dbw) dbw[j] += v;");
  L("      for (int64_t i = 0; i < %lld; i++) {", I);
  L("        dw[j * %lld + i] += v * xt[i];", I);
  L("        dxt[i] += v * w[j * %lld + i];", I);
  L("      }");
  L("      if (j >= %lld) continue;", GR);
  L("      if (dbr) dbr[j] += v;");
  L("      for (int64_t m = 0; m < %lld; m++) {", H);
  L("        dr[j * %lld + m] += v * hp[m];", H);
  L("        dhp[m] += v * rr[j * %lld + m];", H);
  L("      }");
  L("    }");
  L("    for (int64_t k = 0; k < %lld; k++) g[k] = dhp[k];", H);
  L("  }");
  L("}");
  L("for (int64_t q = 0; q < %lld; q++) {", B * H);
  L("  out4[%lld + q] = dh[q];", d * B * H);
  if (r->kind == 2)
    L("  out5[%lld + q] = dc[q];", d * B * H);
  L("}");
}

static void emit_bptt(emit_ctx *e, const ir_node *n) {
  bptt_geo r;
  if (bptt_geometry(e->g, n, &r))
    return;
  ir_dtype dt = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(dt), *ex = math_fn(e, "exp", dt), *th = math_fn(e, "tanh", dt);
  long long S = r.S, B = r.B, I = r.I, H = r.H, GH = r.G * r.H, wp = work_per_dir(&r);
  long long sbh = S * B * H;
  for (int k = 0; k < 6; k++)
    if (n->outputs[k])
      L("memset(out%d, 0, %zu);", k, ir_bytes(n->outputs[k]));
  L("static const %s zero[%lld];", T, H);
  L("(void)zero;");
  for (int d = 0; d < r.D; d++) {
    bool rev = strcmp(r.dir, "reverse") == 0 || d == 1;
    L("{ /* direction %d%s */", d, rev ? ", backwards in time" : "");
    L("%s *hs = out6 + %lld, *gs = hs + %lld;", T, d * wp, sbh);
    L("%s *cs = gs + %lld, *hx = cs + %lld;", T, S * B * GH, r.kind == 2 ? sbh : 0);
    L("(void)cs; (void)hx;");
    L("const %s *w = in1 + %lld, *rr = in2 + %lld;", T, d * GH * I, d * GH * H);
    if (n->inputs[G_B])
      L("const %s *bw = in3 + %lld, *br = bw + %lld;", T, d * 2 * GH, GH);
    L("%s *dw = out1 + %lld, *dr = out2 + %lld;", T, d * GH * I, d * GH * H);
    L("%s *dbw = %s, *dbr = %s;", T, n->outputs[3] ? mem_printf(e->g->mem, "out3 + %lld", d * 2 * GH) : "0",
      n->outputs[3] ? mem_printf(e->g->mem, "out3 + %lld", d * 2 * GH + GH) : "0");
    L("%s *dh = out6 + %lld, *dc = dh + %lld;", T, (d + 1) * wp - 2 * B * H, B * H);
    L("(void)dc;");
    emit_recompute(e, n, &r, d, rev, T, ex, th);
    emit_backward(e, n, &r, d, rev, T, th);
    L("}");
  }
}

/* RNN, GRU, LSTM: RecurrentGrad, for the attributes it covers. */
nn_status grad_recurrent(ad_ctx *ad, const ir_node *n) {
  ir_graph *g = ad_graph(ad);
  ir_tensor *dy = ad_out_grad(ad, n, 0), *dyh = ad_out_grad(ad, n, 1), *dyc = ad_out_grad(ad, n, 2);
  if (!dy && !dyh && !dyc)
    return NN_OK;
  const char *why = ir_attr_find(n, "activations") ? "activations other than the defaults"
                    : ir_attr_find(n, "clip")      ? "clip"
                    : ir_attr_int(n, "layout", 0)  ? "layout 1"
                    : ir_attr_int(n, "input_forget", 0) ? "input_forget"
                    : ir_in(n, 4)                  ? "sequence_lens"
                    : ir_in(n, 7)                  ? "peepholes"
                                                   : NULL;
  if (why)
    return diag_node(g->path, n, "training through %s with %s is not supported yet", n->op_type,
                     why);
  ir_tensor *in[9] = {n->inputs[0], n->inputs[1], n->inputs[2], ir_in(n, 3), ir_in(n, 5),
                      ir_in(n, 6), dy, dyh, dyc};
  ir_node *b = ad_begin(ad, "nncc", "RecurrentGrad", 9, in, 7);
  ad_attr_string(ad, b, "kind", n->op_type);
  ad_attr_string(ad, b, "direction", ir_attr_string(n, "direction", "forward"));
  ad_attr_int(ad, b, "hidden_size", ir_attr_int(n, "hidden_size", 0));
  ad_attr_int(ad, b, "linear_before_reset", ir_attr_int(n, "linear_before_reset", 0));
  if (strcmp(n->op_type, "LSTM") != 0)
    b->outputs[5] = NULL;
  ad_finish(ad, b);
  static const int give[6] = {0, 1, 2, 3, 5, 6}; /* forward input of each gradient output */
  for (int k = 0; k < 6; k++)
    if (b->outputs[k] && ir_in(n, give[k]))
      ad_give_grad(ad, n, give[k], b->outputs[k]);
  return NN_OK;
}

const op_def op_family_recurrent_grad[] = {
    {"RecurrentGrad", "nncc", infer_bptt, NULL, emit_bptt, 0},
    {NULL},
};
