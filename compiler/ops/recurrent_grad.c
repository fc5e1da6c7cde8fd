/* Backpropagation through time for RNN, GRU and LSTM (the default
 * activations; every direction, both layouts, both GRU reset placements,
 * clip, sequence_lens and LSTM peepholes).
 *
 *   nncc::RecurrentGrad(X, W, R, B, initial_h, initial_c, dY, dY_h, dY_c
 *                       [, sequence_lens, P])
 *       -> (dX, dW, dR, dB, d_initial_h, d_initial_c, work [, dP])
 *
 * attributes: kind ("RNN", "GRU", "LSTM"), direction, hidden_size,
 * linear_before_reset, layout, clip (absent: none). Absent optional inputs
 * are zeros. Shapes and gate order are ONNX's.
 *
 * Each direction takes three phases, the first two one sample per thread
 * (a sample's recurrence is independent of the others):
 *   1. the forward again, keeping every step's state, cell and gate
 *      activations in `work` (an arena tensor);
 *   2. back through time: each step's gradients of the gate pre-activations
 *      (dA, written over that step's activations), dX, and the carried dh/dc;
 *   3. the weight gradients, sums over steps and samples of dA times the
 *      step's input and state (a product over the whole batch), one block
 *      of weight rows per thread, so no two threads write the same sum.
 * A sample's steps at or past its sequence length change nothing (their dA
 * is zero), as the forward holds the state there and writes zeros to Y. */
#include <ctype.h>
#include <stdio.h>

#include "common.h"
#include "grad_rules.h"

enum { G_X, G_W, G_R, G_B, G_H0, G_C0, G_DY, G_DYH, G_DYC, G_LENS, G_P };
enum { O_DX, O_DW, O_DR, O_DB, O_DH0, O_DC0, O_WORK, O_DP };

typedef struct {
  int kind; /* 0 RNN, 1 GRU, 2 LSTM */
  int G;
  int64_t S, B, I, H, D;
  bool lbr;     /* GRU: linear_before_reset */
  bool layout1; /* X [B, S, I], Y [B, S, D, H], states [B, D, H] */
  bool clip;
  double clip_at;
  const char *dir;
} bptt_geo;

/* The dims input k must have (outputs take their input's); returns the rank. */
static int want_dims(const bptt_geo *r, int k, int64_t *dims) {
  int64_t GH = r->G * r->H;
  int64_t st[3] = {r->D, r->B, r->H};
  if (r->layout1)
    st[0] = r->B, st[1] = r->D;
  switch (k) {
  case G_X:
    dims[0] = r->layout1 ? r->B : r->S, dims[1] = r->layout1 ? r->S : r->B, dims[2] = r->I;
    return 3;
  case G_W: dims[0] = r->D, dims[1] = GH, dims[2] = r->I; return 3;
  case G_R: dims[0] = r->D, dims[1] = GH, dims[2] = r->H; return 3;
  case G_B: dims[0] = r->D, dims[1] = 2 * GH; return 2;
  case G_DY:
    if (r->layout1)
      dims[0] = r->B, dims[1] = r->S, dims[2] = r->D, dims[3] = r->H;
    else
      dims[0] = r->S, dims[1] = r->D, dims[2] = r->B, dims[3] = r->H;
    return 4;
  case G_LENS: dims[0] = r->B; return 1;
  case G_P: dims[0] = r->D, dims[1] = 3 * r->H; return 2;
  default: memcpy(dims, st, sizeof st); return 3; /* states */
  }
}

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
  r->layout1 = ir_attr_int(n, "layout", 0) != 0;
  r->clip = ir_attr_find(n, "clip") != NULL;
  r->clip_at = ir_attr_float(n, "clip", 0);
  if (r->clip && !(r->clip_at > 0))
    return diag_node(g->path, n, "clip must be positive, is %g", r->clip_at);
  const ir_tensor *x = n->n_inputs >= 9 && n->n_inputs <= 11 ? n->inputs[G_X] : NULL;
  if (!x || x->rank != 3 || !n->inputs[G_W] || !n->inputs[G_R])
    return diag_node(g->path, n, "expects 9 to 11 inputs, X (3-D), W and R present");
  r->S = x->dims[r->layout1 ? 1 : 0];
  r->B = x->dims[r->layout1 ? 0 : 1];
  r->I = x->dims[2];
  r->H = ir_attr_int(n, "hidden_size", 0);
  if (r->H <= 0 || (r->kind != 2 && (n->inputs[G_C0] || n->inputs[G_DYC] || ir_in(n, G_P))))
    return diag_node(g->path, n, "needs hidden_size, and cell states and peepholes only for LSTM");
  for (int k = 1; k < n->n_inputs; k++) {
    const ir_tensor *t = n->inputs[k];
    int64_t dims[4];
    int rank = want_dims(r, k, dims);
    if (!t)
      continue;
    bool ok = t->rank == rank &&
              (k == G_LENS ? t->dtype == IR_INT32 || t->dtype == IR_INT64 : t->dtype == x->dtype);
    for (int d = 0; ok && d < rank; d++)
      ok = t->dims[d] == dims[d];
    if (!ok)
      return diag_node(g->path, n, "input %d does not fit S=%lld B=%lld I=%lld H=%lld D=%lld%s", k,
                       (long long)r->S, (long long)r->B, (long long)r->I, (long long)r->H,
                       (long long)r->D, r->layout1 ? " (layout 1)" : "");
  }
  return NN_OK;
}

/* Elements of `work` per direction: states, gates, LSTM cells, GRU's h-gate
 * terms, clip masks per step, then the carried dh and dc. */
static int64_t work_per_dir(const bptt_geo *r) {
  int64_t sbh = r->S * r->B * r->H;
  return sbh * (r->G + 1 + (r->kind == 2) + (r->kind == 1)) + (r->clip ? sbh * r->G : 0) +
         2 * r->B * r->H;
}

static nn_status infer_bptt(ir_graph *g, ir_node *n) {
  bptt_geo r;
  if (n->n_outputs < 7 || n->n_outputs > 8)
    return diag_node(g->path, n, "has %d outputs, expected 7 or 8", n->n_outputs);
  if (check_float(g, n, 0) || bptt_geometry(g, n, &r))
    return NN_ERR;
  static const int like[8] = {G_X, G_W, G_R, G_B, G_H0, G_C0, -1, G_P};
  for (int k = 0; k < n->n_outputs; k++) { /* each gradient is shaped as its input */
    int64_t dims[4];
    if (k != O_WORK && n->outputs[k])
      ir_set_shape(n->outputs[k], n->inputs[0]->dtype, want_dims(&r, like[k], dims), dims);
  }
  int64_t wsize = r.D * work_per_dir(&r);
  ir_set_shape(n->outputs[O_WORK], n->inputs[0]->dtype, 1, &wsize);
  return NN_OK;
}

/* ---- emission ---- */

#define L(...) emit_line(e, __VA_ARGS__)
#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

/* What the emitters of one direction share. */
typedef struct {
  emit_ctx *e;
  const ir_node *n;
  const bptt_geo *r;
  int d;      /* direction */
  bool rev;   /* walks time backwards */
  const char *T, *ex, *th;
} bptt_em;

/* Offsets (elements) of sample b at time t in X, in Y (dY), and in a state
 * tensor (initial_h, dY_h...), for either layout. t and b are C names. */
static const char *x_off(const bptt_em *m, const char *t, const char *b) {
  const bptt_geo *r = m->r;
  emit_ctx *e = m->e;
  if (r->layout1)
    return FMT("(%s * %lld + %s) * %lld", b, (long long)r->S, t, (long long)r->I);
  return FMT("(%s * %lld + %s) * %lld", t, (long long)r->B, b, (long long)r->I);
}

static const char *y_off(const bptt_em *m, const char *t, const char *b) {
  const bptt_geo *r = m->r;
  emit_ctx *e = m->e;
  if (r->layout1)
    return FMT("((%s * %lld + %s) * %lld + %d) * %lld", b, (long long)r->S, t, (long long)r->D,
               m->d, (long long)r->H);
  return FMT("((%s * %lld + %d) * %lld + %s) * %lld", t, (long long)r->D, m->d, (long long)r->B,
             b, (long long)r->H);
}

static const char *st_off(const bptt_em *m, const char *b) {
  const bptt_geo *r = m->r;
  emit_ctx *e = m->e;
  if (r->layout1)
    return FMT("(%s * %lld + %d) * %lld", b, (long long)r->D, m->d, (long long)r->H);
  return FMT("(%d * %lld + %s) * %lld", m->d, (long long)r->B, b, (long long)r->H);
}

/* `const int64_t t = ...;` for processing step s. */
static void emit_time(const bptt_em *m) {
  emit_ctx *e = m->e;
  if (m->rev)
    L("const int64_t t = %lld - s;", (long long)(m->r->S - 1));
  else
    L("const int64_t t = s;");
}

/* Rows (or samples) the hot loops take together, so each load of a shared
 * operand serves several of them: 4, 2 or 1, whichever divides n. */
static int unroll(int64_t n) { return n % 4 == 0 ? 4 : n % 2 == 0 ? 2 : 1; }

/* u copies of pattern, '#' replaced by 0, 1..., joined by sep:
 * ("v# += x * w#[i]", 2, "; ") -> "v0 += x * w0[i]; v1 += x * w1[i]". */
static const char *copies(emit_ctx *e, const char *pattern, int u, const char *sep) {
  const char *out = "";
  for (int q = 0; q < u; q++) {
    char *one = FMT("%s%s", q ? sep : "", pattern);
    for (char *c = one; *c; c++)
      if (*c == '#')
        *c = (char)('0' + q);
    out = FMT("%s%s", out, one);
  }
  return out;
}

/* hp (and cp): the state before step s of sample b. */
static void emit_prev(const bptt_em *m) {
  emit_ctx *e = m->e;
  const bptt_geo *r = m->r;
  long long B = r->B, H = r->H;
  const char *h0 = m->n->inputs[G_H0] ? FMT("in4 + %s", st_off(m, "b")) : "zero";
  L("const %s *hp = s ? hs + ((s - 1) * %lld + b) * %lld : %s;", m->T, B, H, h0);
  if (r->kind == 2) {
    const char *c0 = m->n->inputs[G_C0] ? FMT("in5 + %s", st_off(m, "b")) : "zero";
    L("const %s *cp = s ? cs + ((s - 1) * %lld + b) * %lld : %s;", m->T, B, H, c0);
    L("(void)cp;");
  }
  L("(void)hp;");
}

/* dst = f(clip(pre)), f "sig" or "tanh"; with clip, the mask element mk
 * says whether pre was inside the bounds (the gradient passes only there). */
static void emit_act(const bptt_em *m, const char *dst, const char *mk, const char *pre,
                     const char *f) {
  emit_ctx *e = m->e;
  const char *v = pre;
  if (m->r->clip) {
    const char *c = emit_literal(e, m->n->inputs[0]->dtype, m->r->clip_at);
    L("{ %s p = %s;", m->T, pre);
    L("  %s = p >= -%s && p <= %s;", mk, c, c);
    L("  p = p < -%s ? -%s : p > %s ? %s : p;", c, c, c, c);
    v = "p";
  }
  if (strcmp(f, "sig") == 0)
    L("%s%s = 1 / (1 + %s(-(%s)));", m->r->clip ? "  " : "", dst, m->ex, v);
  else
    L("%s%s = %s(%s);", m->r->clip ? "  " : "", dst, m->th, v);
  if (m->r->clip)
    L("}");
}

/* The peephole term "+ P[gate q] * c" (P is [i, o, f]), or "". */
static const char *peep(const bptt_em *m, int q, const char *c) {
  emit_ctx *e = m->e;
  if (!ir_in(m->n, G_P))
    return "";
  return FMT(" + in10[%lld + k] * %s", (long long)((m->d * 3 + q) * m->r->H), c);
}

/* Phase 1: the forward of direction d again, one sample per thread. */
static void emit_recompute(const bptt_em *m) {
  emit_ctx *e = m->e;
  const bptt_geo *r = m->r;
  const ir_node *n = m->n;
  const char *T = m->T;
  long long S = r->S, B = r->B, I = r->I, H = r->H, GH = r->G * r->H;
  emit_parallel_for(e, "b", B, S * GH * (I + H) * 2);
  if (ir_in(n, G_LENS))
    L("const int64_t len = in9[b];");
  L("for (int64_t s = 0; s < %lld; s++) {", S);
  emit_time(m);
  emit_prev(m);
  L("%s *hn = hs + (s * %lld + b) * %lld, *a = gs + (s * %lld + b) * %lld;", T, B, H, B, GH);
  L("%s *mk = %s;", T, r->clip ? FMT("cm + (s * %lld + b) * %lld", B, GH) : "0");
  L("(void)mk;");
  if (r->kind == 2)
    L("%s *cn = cs + (s * %lld + b) * %lld;", T, B, H);
  if (ir_in(n, G_LENS)) { /* past its length the sample holds its state */
    L("if (t >= len) {");
    L("  memcpy(hn, hp, %zu);", (size_t)H * ir_dtype_size(n->inputs[0]->dtype));
    if (r->kind == 2)
      L("  memcpy(cn, cp, %zu);", (size_t)H * ir_dtype_size(n->inputs[0]->dtype));
    L("  continue;");
    L("}");
  }
  L("const %s *xt = in0 + %s;", T, x_off(m, "t", "b"));
  int u = unroll(H); /* rows of W and R at once, never across two gates */
  L("for (int64_t j = 0; j < %lld; j += %d) {", GH, u);
  L("  const %s %s;", T, copies(e, FMT("*w# = w + (j + #) * %lld", I), u, ", "));
  L("  const %s %s;", T, copies(e, FMT("*r# = rr + (j + #) * %lld", H), u, ", "));
  L("  %s %s;", T, copies(e, n->inputs[G_B] ? "v# = bw[j + #]" : "v# = 0", u, ", "));
  emit_simd_sum(e, copies(e, "v#", u, ", "));
  L("  for (int64_t i = 0; i < %lld; i++) { %s; }", I, copies(e, "v# += xt[i] * w#[i]", u, "; "));
  if (r->kind == 1) /* GRU: the h gate's recurrent term depends on r */
    L("  if (j >= %lld) { %s; continue; }", 2 * H, copies(e, "a[j + #] = v#", u, "; "));
  L("  %s %s;", T, copies(e, n->inputs[G_B] ? "u# = br[j + #]" : "u# = 0", u, ", "));
  emit_simd_sum(e, copies(e, "u#", u, ", "));
  L("  for (int64_t k = 0; k < %lld; k++) { %s; }", H, copies(e, "u# += hp[k] * r#[k]", u, "; "));
  L("  %s;", copies(e, "a[j + #] = v# + u#", u, "; "));
  L("}");
  L("for (int64_t k = 0; k < %lld; k++) {", H);
  if (r->kind == 0) {
    emit_act(m, "a[k]", "mk[k]", "a[k]", "tanh");
    L("hn[k] = a[k];");
  } else if (r->kind == 2) { /* i, o, f, c */
    emit_act(m, "a[k]", "mk[k]", FMT("a[k]%s", peep(m, 0, "cp[k]")), "sig");
    emit_act(m, FMT("a[%lld + k]", 2 * H), FMT("mk[%lld + k]", 2 * H),
             FMT("a[%lld + k]%s", 2 * H, peep(m, 2, "cp[k]")), "sig");
    emit_act(m, FMT("a[%lld + k]", 3 * H), FMT("mk[%lld + k]", 3 * H), FMT("a[%lld + k]", 3 * H),
             "tanh");
    L("cn[k] = a[%lld + k] * cp[k] + a[k] * a[%lld + k];", 2 * H, 3 * H);
    emit_act(m, FMT("a[%lld + k]", H), FMT("mk[%lld + k]", H),
             FMT("a[%lld + k]%s", H, peep(m, 1, "cn[k]")), "sig");
    L("hn[k] = a[%lld + k] * %s(cn[k]);", H, m->th);
  } else { /* z, r */
    emit_act(m, "a[k]", "mk[k]", "a[k]", "sig");
    emit_act(m, FMT("a[%lld + k]", H), FMT("mk[%lld + k]", H), FMT("a[%lld + k]", H), "sig");
  }
  L("}");
  if (r->kind == 1) { /* GRU's h gate, then the state */
    if (r->lbr)
      L("%s *hr = hx + (s * %lld + b) * %lld;", T, B, H);
    L("for (int64_t k = 0; k < %lld; k++) {", H);
    L("  const int64_t j = %lld + k;", 2 * H);
    L("  %s u = %s;", T, n->inputs[G_B] ? "br[j]" : "0");
    emit_simd_sum(e, "u");
    if (r->lbr) {
      L("  for (int64_t q = 0; q < %lld; q++) u += hp[q] * rr[j * %lld + q];", H, H);
      L("  hr[k] = u;");
      emit_act(m, "a[j]", "mk[j]", FMT("a[j] + a[%lld + k] * u", H), "tanh");
    } else {
      L("  for (int64_t q = 0; q < %lld; q++) u += a[%lld + q] * hp[q] * rr[j * %lld + q];", H, H,
        H);
      emit_act(m, "a[j]", "mk[j]", "a[j] + u", "tanh");
    }
    L("}");
    L("for (int64_t k = 0; k < %lld; k++) hn[k] = (1 - a[k]) * a[%lld + k] + a[k] * hp[k];", H,
      2 * H);
  }
  L("}");
  emit_close(e);
}

/* da (the pre-activation gradients of step s) from g (dh) and gc (dc),
 * with dhp holding the direct part of the previous state's gradient. */
static void emit_cell_grad(const bptt_em *m) {
  emit_ctx *e = m->e;
  const bptt_geo *r = m->r;
  long long H = r->H;
  const char *T = m->T;
  const char *k_mask = r->clip ? " * mk[k]" : "";
  L("for (int64_t k = 0; k < %lld; k++) dhp[k] = 0;", H);
  if (r->kind == 0) {
    L("for (int64_t k = 0; k < %lld; k++) da[k] = g[k] * (1 - hn[k] * hn[k])%s;", H, k_mask);
    return;
  }
  if (r->kind == 2) {
    bool p = ir_in(m->n, G_P) != NULL;
    L("for (int64_t k = 0; k < %lld; k++) {", H);
    L("  const %s i = a[k], o = a[%lld + k], f = a[%lld + k], c = a[%lld + k], tc = %s(cn[k]);",
      T, H, 2 * H, 3 * H, m->th);
    L("  const %s dao = g[k] * tc * o * (1 - o)%s;", T,
      r->clip ? FMT(" * mk[%lld + k]", H) : "");
    L("  const %s dcell = gc[k] + g[k] * o * (1 - tc * tc)%s;", T, peep(m, 1, "dao"));
    L("  da[k] = dcell * c * i * (1 - i)%s;", k_mask);
    L("  da[%lld + k] = dao;", H);
    L("  da[%lld + k] = dcell * cp[k] * f * (1 - f)%s;", 2 * H,
      r->clip ? FMT(" * mk[%lld + k]", 2 * H) : "");
    L("  da[%lld + k] = dcell * i * (1 - c * c)%s;", 3 * H,
      r->clip ? FMT(" * mk[%lld + k]", 3 * H) : "");
    L("  gc[k] = dcell * f%s%s;", p ? peep(m, 0, "da[k]") : "",
      p ? peep(m, 2, FMT("da[%lld + k]", 2 * H)) : "");
    L("}");
    return;
  }
  /* GRU: z, r, h */
  L("for (int64_t k = 0; k < %lld; k++) {", H);
  L("  const %s z = a[k], hh = a[%lld + k];", T, 2 * H);
  L("  dhp[k] = g[k] * z;");
  L("  da[k] = g[k] * (hp[k] - hh) * z * (1 - z)%s;", k_mask);
  L("  da[%lld + k] = g[k] * (1 - z) * (1 - hh * hh)%s;", 2 * H,
    r->clip ? FMT(" * mk[%lld + k]", 2 * H) : "");
  L("}");
  const char *r_mask = r->clip ? FMT(" * mk[%lld + k]", H) : "";
  if (r->lbr) { /* hr = u (the recurrent term r scales) becomes dA_h of the h gate */
    L("for (int64_t k = 0; k < %lld; k++) {", H);
    L("  const %s rg = a[%lld + k], dhh = da[%lld + k];", T, H, 2 * H);
    L("  da[%lld + k] = dhh * hr[k] * rg * (1 - rg)%s;", H, r_mask);
    L("  hr[k] = dhh * rg;");
    L("}");
  } else { /* the h gate read (r * hp) R_h^T: hr becomes r * hp, its input */
    L("for (int64_t k = 0; k < %lld; k++) {", H);
    L("  %s v = 0;", T);
    L("  for (int64_t j = 0; j < %lld; j++) v += da[%lld + j] * rr[(%lld + j) * %lld + k];", H,
      2 * H, 2 * H, H);
    L("  const %s rg = a[%lld + k];", T, H);
    L("  da[%lld + k] = v * hp[k] * rg * (1 - rg)%s;", H, r_mask);
    L("  dhp[k] += v * rg;");
    L("  hr[k] = rg * hp[k];");
    L("}");
  }
}

/* Phase 2: back through time, one sample per thread: dA over the gates in
 * gs (and GRU's h-gate dA_h or r * hp in hx), dX, and d_initial_h/c. */
static void emit_backward(const bptt_em *m) {
  emit_ctx *e = m->e;
  const bptt_geo *r = m->r;
  const ir_node *n = m->n;
  const char *T = m->T;
  long long S = r->S, B = r->B, I = r->I, H = r->H, GH = r->G * r->H;
  emit_parallel_for(e, "b", B, S * GH * (I + H) * 2);
  L("%s *g = dh + b * %lld, *gc = dc + b * %lld;", T, H, H);
  L("(void)gc;");
  L("for (int64_t k = 0; k < %lld; k++) {", H);
  L("  g[k] = %s;", n->inputs[G_DYH] ? FMT("in7[%s + k]", st_off(m, "b")) : "0");
  L("  gc[k] = %s;", n->inputs[G_DYC] ? FMT("in8[%s + k]", st_off(m, "b")) : "0");
  L("}");
  if (ir_in(n, G_LENS))
    L("const int64_t len = in9[b];");
  L("for (int64_t s = %lld; s >= 0; s--) {", S - 1);
  emit_time(m);
  L("%s *a = gs + (s * %lld + b) * %lld;", T, B, GH);
  if (r->kind == 1)
    L("%s *hr = hx + (s * %lld + b) * %lld;", T, B, H);
  if (ir_in(n, G_LENS)) { /* no gradient flows through a held step */
    L("if (t >= len) {");
    L("  memset(a, 0, %zu);", (size_t)GH * ir_dtype_size(n->inputs[0]->dtype));
    if (r->kind == 1)
      L("  memset(hr, 0, %zu);", (size_t)H * ir_dtype_size(n->inputs[0]->dtype));
    L("  continue;");
    L("}");
  }
  emit_prev(m);
  L("const %s *hn = hs + (s * %lld + b) * %lld;", T, B, H);
  L("(void)hn;");
  if (r->clip)
    L("const %s *mk = cm + (s * %lld + b) * %lld;", T, B, GH);
  if (r->kind == 2)
    L("const %s *cn = cs + (s * %lld + b) * %lld;", T, B, H);
  if (n->inputs[G_DY])
    L("for (int64_t k = 0; k < %lld; k++) g[k] += in6[%s + k];", H, y_off(m, "t", "b"));
  L("%s da[%lld], dhp[%lld];", T, GH, H);
  emit_cell_grad(m);
  /* dX = dA W; the previous state's gradient adds dA_h R */
  int u = unroll(H);
  L("%s *dxt = out0 + %s;", T, x_off(m, "t", "b"));
  L("for (int64_t j = 0; j < %lld; j += %d) {", GH, u);
  L("  const %s %s;", T, copies(e, FMT("*w# = w + (j + #) * %lld", I), u, ", "));
  L("  const %s %s;", T, copies(e, "v# = da[j + #]", u, ", "));
  emit_simd(e);
  L("  for (int64_t i = 0; i < %lld; i++) dxt[i] += %s;", I, copies(e, "v# * w#[i]", u, " + "));
  L("}");
  /* GRU's h rows: dA_h (lbr) in hr; without lbr they went into dhp above */
  long long rows = r->kind == 1 && !r->lbr ? 2 * H : GH;
  const char *dah = "da";
  if (r->kind == 1 && r->lbr) {
    L("%s dah[%lld];", T, GH);
    L("memcpy(dah, da, %zu);", (size_t)(2 * H) * ir_dtype_size(n->inputs[0]->dtype));
    L("memcpy(dah + %lld, hr, %zu);", 2 * H, (size_t)H * ir_dtype_size(n->inputs[0]->dtype));
    dah = "dah";
  }
  L("for (int64_t j = 0; j < %lld; j += %d) {", rows, u);
  L("  const %s %s;", T, copies(e, FMT("*r# = rr + (j + #) * %lld", H), u, ", "));
  L("  const %s %s;", T, copies(e, FMT("v# = %s[j + #]", dah), u, ", "));
  emit_simd(e);
  L("  for (int64_t k = 0; k < %lld; k++) dhp[k] += %s;", H, copies(e, "v# * r#[k]", u, " + "));
  L("}");
  L("memcpy(a, da, sizeof da);");
  L("memcpy(g, dhp, sizeof dhp);");
  L("}");
  L("for (int64_t k = 0; k < %lld; k++) {", H);
  L("  out4[%s + k] = g[k];", st_off(m, "b"));
  if (r->kind == 2 && n->outputs[O_DC0])
    L("  out5[%s + k] = gc[k];", st_off(m, "b"));
  L("}");
  emit_close(e);
}

/* The largest of 8, 4, 2, 1 dividing H: weight rows per block, so a block
 * never straddles two gates. */
static int64_t row_block(const bptt_geo *r) {
  int64_t jb = 8;
  while (r->H % jb)
    jb /= 2;
  return jb;
}

/* Phase 3: dW, dR, dB as sums over steps and samples, one block of rows
 * per thread; then dP. */
static void emit_weight_grads(const bptt_em *m) {
  emit_ctx *e = m->e;
  const bptt_geo *r = m->r;
  const ir_node *n = m->n;
  const char *T = m->T;
  long long S = r->S, B = r->B, I = r->I, H = r->H, GH = r->G * r->H, JB = row_block(r);
  bool gru = r->kind == 1;
  emit_parallel_for(e, "jb", GH / JB, S * B * JB * (I + H) * 2);
  L("const int64_t j0 = jb * %lld;", JB);
  if (gru) /* GRU's h gate: dA_h (lbr) or the input r * hp (not lbr) live in hx */
    L("const int hgate = j0 >= %lld;", 2 * H);
  int u = unroll(B); /* samples at once: one load and store of a weight row serves them */
  const char *h0 = n->inputs[G_H0] ? FMT("in4 + %s", st_off(m, "(b + #)")) : "zero";
  L("for (int64_t s = 0; s < %lld; s++) {", S);
  emit_time(m);
  L("for (int64_t b = 0; b < %lld; b += %d) {", B, u);
  L("const %s %s;", T, copies(e, FMT("*x# = in0 + %s", x_off(m, "t", "(b + #)")), u, ", "));
  L("const %s %s;", T, copies(e, FMT("*h# = s ? hs + ((s - 1) * %lld + b + #) * %lld : %s", B, H,
                                     h0), u, ", "));
  L("const %s %s;", T, copies(e, FMT("*a# = gs + (s * %lld + b + #) * %lld", B, GH), u, ", "));
  if (gru) {
    L("const %s %s;", T, copies(e, FMT("*q# = hx + (s * %lld + b + #) * %lld", B, H), u, ", "));
    if (!r->lbr) /* the h rows read r * hp */
      L("if (hgate) { %s; }", copies(e, "h# = q#", u, "; "));
  }
  L("for (int64_t j = j0; j < j0 + %lld; j++) {", JB);
  L("  %s %s;", T, copies(e, "v# = a#[j]", u, ", "));
  L("  if (dbw) dbw[j] += %s;", copies(e, "v#", u, " + "));
  emit_simd(e);
  L("  for (int64_t i = 0; i < %lld; i++) dw[j * %lld + i] += %s;", I, I,
    copies(e, "v# * x#[i]", u, " + "));
  if (gru && r->lbr) /* the h rows' dA_h */
    L("  if (hgate) { %s; }", copies(e, FMT("v# = q#[j - %lld]", 2 * H), u, "; "));
  L("  if (dbr) dbr[j] += %s;", copies(e, "v#", u, " + "));
  emit_simd(e);
  L("  for (int64_t k = 0; k < %lld; k++) dr[j * %lld + k] += %s;", H, H,
    copies(e, "v# * h#[k]", u, " + "));
  L("}");
  L("}");
  L("}");
  emit_close(e);
  if (!ir_in(n, G_P) || !n->outputs[O_DP])
    return;
  /* dP: i and f read the previous cell, o the new one */
  long long off = m->d * 3 * H;
  emit_parallel_for(e, "k", H, S * B * 6);
  L("for (int64_t s = 0; s < %lld; s++)", S);
  L("  for (int64_t b = 0; b < %lld; b++) {", B);
  emit_prev(m);
  L("    const %s *cn = cs + (s * %lld + b) * %lld, *da = gs + (s * %lld + b) * %lld;", T, B, H,
    B, GH);
  L("    out7[%lld + k] += da[k] * cp[k];", off);
  L("    out7[%lld + k] += da[%lld + k] * cn[k];", off + H, H);
  L("    out7[%lld + k] += da[%lld + k] * cp[k];", off + 2 * H, 2 * H);
  L("  }");
  emit_close(e);
}

static void emit_bptt(emit_ctx *e, const ir_node *n) {
  bptt_geo r;
  if (bptt_geometry(e->g, n, &r))
    return;
  ir_dtype dt = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(dt);
  long long S = r.S, B = r.B, I = r.I, H = r.H, GH = r.G * r.H, wp = work_per_dir(&r);
  long long sbh = S * B * H;
  for (int k = 0; k < n->n_outputs; k++)
    if (n->outputs[k] && k != O_WORK)
      L("memset(out%d, 0, %zu);", k, ir_bytes(n->outputs[k]));
  L("static const %s zero[%lld];", T, H);
  L("(void)zero;");
  for (int d = 0; d < r.D; d++) {
    bool rev = strcmp(r.dir, "reverse") == 0 || d == 1;
    bptt_em m = {e, n, &r, d, rev, T, math_fn(e, "exp", dt), math_fn(e, "tanh", dt)};
    L("{ /* direction %d%s */", d, rev ? ", backwards in time" : "");
    L("%s *hs = out6 + %lld, *gs = hs + %lld;", T, d * wp, sbh);
    L("%s *cs = gs + %lld, *hx = cs + %lld;", T, S * B * GH, r.kind == 2 ? sbh : 0);
    L("%s *cm = hx + %lld;", T, r.kind == 1 ? sbh : 0);
    L("(void)cs; (void)hx; (void)cm;");
    L("const %s *w = in1 + %lld, *rr = in2 + %lld;", T, d * GH * I, d * GH * H);
    if (n->inputs[G_B])
      L("const %s *bw = in3 + %lld, *br = bw + %lld;", T, d * 2 * GH, GH);
    L("%s *dw = out1 + %lld, *dr = out2 + %lld;", T, d * GH * I, d * GH * H);
    L("%s *dbw = %s, *dbr = %s;", T, n->outputs[O_DB] ? FMT("out3 + %lld", d * 2 * GH) : "0",
      n->outputs[O_DB] ? FMT("out3 + %lld", d * 2 * GH + GH) : "0");
    L("%s *dh = out6 + %lld, *dc = dh + %lld;", T, (d + 1) * wp - 2 * B * H, B * H);
    L("(void)dc;");
    emit_recompute(&m);
    emit_backward(&m);
    emit_weight_grads(&m);
    L("}");
  }
}

static bool same_name(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
      return false;
  return *a == *b;
}

/* True when `activations` (if given) lists ONNX's defaults, which the
 * kernel computes, and no alpha or beta is set. */
static bool default_activations(const ir_node *n) {
  static const char *const dflt[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
  const ir_attr *a = ir_attr_find(n, "activations");
  if (ir_attr_find(n, "activation_alpha") || ir_attr_find(n, "activation_beta"))
    return false;
  if (!a || a->n == 0)
    return true;
  int kind = strcmp(n->op_type, "RNN") == 0 ? 0 : strcmp(n->op_type, "GRU") == 0 ? 1 : 2;
  int per = kind + 1;
  if (a->type != IR_ATTR_STRINGS || a->n % per)
    return false;
  for (int i = 0; i < a->n; i++)
    if (!same_name(a->strings[i], dflt[kind][i % per]))
      return false;
  return true;
}

/* RNN, GRU, LSTM: RecurrentGrad, for the attributes it covers. */
nn_status grad_recurrent(ad_ctx *ad, const ir_node *n) {
  ir_graph *g = ad_graph(ad);
  ir_tensor *dy = ad_out_grad(ad, n, 0), *dyh = ad_out_grad(ad, n, 1), *dyc = ad_out_grad(ad, n, 2);
  if (!dy && !dyh && !dyc)
    return NN_OK;
  const char *why = !default_activations(n) ? "activations other than the defaults"
                    : ir_attr_int(n, "input_forget", 0) ? "input_forget"
                                                        : NULL;
  if (why)
    return diag_node(g->path, n, "training through %s with %s is not supported yet", n->op_type,
                     why);
  bool lstm = strcmp(n->op_type, "LSTM") == 0;
  ir_tensor *in[11] = {n->inputs[0], n->inputs[1], n->inputs[2], ir_in(n, 3), ir_in(n, 5),
                       ir_in(n, 6), dy, dyh, dyc, ir_in(n, 4), ir_in(n, 7)};
  int n_in = in[10] ? 11 : in[9] ? 10 : 9;
  ir_node *b = ad_begin(ad, "nncc", "RecurrentGrad", n_in, in, in[10] ? 8 : 7);
  ad_attr_string(ad, b, "kind", n->op_type);
  ad_attr_string(ad, b, "direction", ir_attr_string(n, "direction", "forward"));
  ad_attr_int(ad, b, "hidden_size", ir_attr_int(n, "hidden_size", 0));
  ad_attr_int(ad, b, "linear_before_reset", ir_attr_int(n, "linear_before_reset", 0));
  ad_attr_int(ad, b, "layout", n->opset >= 14 ? ir_attr_int(n, "layout", 0) : 0);
  if (ir_attr_find(n, "clip"))
    ad_attr_float(ad, b, "clip", ir_attr_float(n, "clip", 0));
  if (!lstm)
    b->outputs[O_DC0] = NULL;
  ad_finish(ad, b);
  static const int give[8] = {0, 1, 2, 3, 5, 6, -1, 7}; /* forward input of each gradient output */
  for (int k = 0; k < b->n_outputs; k++)
    if (give[k] >= 0 && b->outputs[k] && ir_in(n, give[k]))
      ad_give_grad(ad, n, give[k], b->outputs[k]);
  return NN_OK;
}

const op_def op_family_recurrent_grad[] = {
    {"RecurrentGrad", "nncc", infer_bptt, NULL, emit_bptt, 0},
    {NULL},
};
