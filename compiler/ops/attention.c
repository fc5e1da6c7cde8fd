/* Attention (opset 23/24) and RotaryEmbedding. Attention runs one query row
 * at a time: scores against every key row (past then new), the mask,
 * causal and padding biases, softcap and a max-shifted softmax, then the
 * weighted sum of value rows. Inputs are 4D [B, heads, seq, head_size] or
 * 3D [B, seq, heads * head_size]; in both a head's row is contiguous, so
 * each row is a pointer and the inner loops run over contiguous memory. */
#include <stdio.h>

#include "common.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

/* Every size of one Attention node. */
typedef struct att_dims {
  int64_t B, Hq, Hkv, S, L, P, T, D, Dv; /* T = P + L, the keys attended to */
  bool rank3;
} att_dims;

enum { IN_Q, IN_K, IN_V, IN_MASK, IN_PAST_K, IN_PAST_V, IN_NONPAD };
enum { OUT_Y, OUT_PRESENT_K, OUT_PRESENT_V, OUT_QK };

/* Heads and head size of a 3D [B, seq, heads * size] input. */
static nn_status split_heads(ir_graph *g, const ir_node *n, const ir_tensor *t, const char *attr,
                             int64_t *heads, int64_t *size) {
  *heads = ir_attr_int(n, attr, 0);
  if (*heads <= 0)
    return diag_node(g->path, n, "3D inputs need a positive '%s' attribute", attr);
  if (t->dims[2] % *heads)
    return diag_node(g->path, n, "hidden size %lld of '%s' is not a multiple of %s = %lld",
                     (long long)t->dims[2], t->name, attr, (long long)*heads);
  *size = t->dims[2] / *heads;
  return NN_OK;
}

static nn_status att_qkv(ir_graph *g, const ir_node *n, att_dims *a) {
  const ir_tensor *q = n->inputs[IN_Q], *k = ir_in(n, IN_K), *v = ir_in(n, IN_V);
  if (!k || !v)
    return diag_node(g->path, n, "inputs K and V are required");
  if ((q->rank != 3 && q->rank != 4) || k->rank != q->rank || v->rank != q->rank)
    return diag_node(g->path, n, "Q, K and V must all be 3D or all 4D");
  a->rank3 = q->rank == 3;
  a->B = q->dims[0];
  a->S = q->dims[a->rank3 ? 1 : 2];
  a->L = k->dims[a->rank3 ? 1 : 2];
  int64_t dk = 0, hv = 0;
  if (a->rank3) {
    if (split_heads(g, n, q, "q_num_heads", &a->Hq, &a->D) ||
        split_heads(g, n, k, "kv_num_heads", &a->Hkv, &dk) ||
        split_heads(g, n, v, "kv_num_heads", &hv, &a->Dv))
      return NN_ERR;
  } else {
    a->Hq = q->dims[1], a->D = q->dims[3];
    a->Hkv = k->dims[1], dk = k->dims[3];
    hv = v->dims[1], a->Dv = v->dims[3];
  }
  bool ok = k->dims[0] == a->B && v->dims[0] == a->B && dk == a->D && hv == a->Hkv &&
            v->dims[a->rank3 ? 1 : 2] == a->L;
  if (!ok)
    return diag_node(g->path, n, "shapes of Q, K and V do not agree");
  if (a->Hkv == 0 || a->Hq % a->Hkv)
    return diag_node(g->path, n, "q heads (%lld) must be a multiple of kv heads (%lld)",
                     (long long)a->Hq, (long long)a->Hkv);
  return NN_OK;
}

/* past_key [B, Hkv, P, D] and past_value [B, Hkv, P, Dv], both or neither. */
static nn_status att_past(ir_graph *g, const ir_node *n, att_dims *a) {
  const ir_tensor *pk = ir_in(n, IN_PAST_K), *pv = ir_in(n, IN_PAST_V);
  a->P = 0;
  if (!pk && !pv)
    return NN_OK;
  if (!pk || !pv)
    return diag_node(g->path, n, "past_key and past_value must be given together");
  bool ok = pk->rank == 4 && pv->rank == 4 && pk->dims[0] == a->B && pv->dims[0] == a->B &&
            pk->dims[1] == a->Hkv && pv->dims[1] == a->Hkv && pk->dims[3] == a->D &&
            pv->dims[3] == a->Dv && pk->dims[2] == pv->dims[2];
  if (!ok)
    return diag_node(g->path, n, "past_key/past_value must be [B, kv_heads, P, head_size]");
  a->P = pk->dims[2];
  return NN_OK;
}

/* The mask broadcasts to [B, Hq, S, T] except that its last dim may be
 * shorter: the missing keys are masked out. */
static nn_status att_mask(ir_graph *g, const ir_node *n, const att_dims *a) {
  const ir_tensor *m = ir_in(n, IN_MASK), *q = n->inputs[IN_Q];
  if (!m)
    return NN_OK;
  if (m->dtype != IR_BOOL && m->dtype != q->dtype)
    return diag_node(g->path, n, "attn_mask has dtype %s; expected bool or %s",
                     ir_dtype_name(m->dtype), ir_dtype_name(q->dtype));
  const int64_t full[4] = {a->B, a->Hq, a->S, a->T};
  bool ok = m->rank >= 1 && m->rank <= 4 && m->dims[m->rank - 1] <= a->T;
  for (int d = 0; ok && d < m->rank - 1; d++)
    ok = m->dims[d] == 1 || m->dims[d] == full[4 - m->rank + d];
  if (!ok) {
    char s[128];
    return diag_node(g->path, n, "attn_mask %s does not broadcast to [%lld,%lld,%lld,%lld]",
                     ir_shape_str(m, s, sizeof s), (long long)a->B, (long long)a->Hq,
                     (long long)a->S, (long long)a->T);
  }
  return NN_OK;
}

static nn_status att_dims_of(ir_graph *g, const ir_node *n, att_dims *a) {
  if (att_qkv(g, n, a) || att_past(g, n, a))
    return NN_ERR;
  a->T = a->P + a->L;
  if (att_mask(g, n, a))
    return NN_ERR;
  const ir_tensor *np = ir_in(n, IN_NONPAD);
  if (np && (np->dtype != IR_INT64 || np->rank != 1 || np->dims[0] != a->B))
    return diag_node(g->path, n, "nonpad_kv_seqlen must be int64 [B]");
  int64_t mode = ir_attr_int(n, "qk_matmul_output_mode", 0);
  if (mode < 0 || mode > 3)
    return diag_node(g->path, n, "qk_matmul_output_mode %lld is not 0..3", (long long)mode);
  return NN_OK;
}

static nn_status infer_attention(ir_graph *g, ir_node *n) {
  att_dims a;
  if (check_arity(g, n, 3, 7))
    return NN_ERR;
  for (int k = 0; k < n->n_inputs; k++)
    if (k != IN_MASK && k != IN_NONPAD && check_float(g, n, k))
      return NN_ERR;
  for (int k = 1; k <= IN_PAST_V; k++)
    if (k != IN_MASK && ir_in(n, k) && n->inputs[k]->dtype != n->inputs[0]->dtype)
      return diag_node(g->path, n, "input %d's dtype differs from Q's", k);
  if (att_dims_of(g, n, &a))
    return NN_ERR;
  ir_dtype t = n->inputs[0]->dtype;
  int64_t y3[3] = {a.B, a.S, a.Hq * a.Dv}, y4[4] = {a.B, a.Hq, a.S, a.Dv};
  ir_set_shape(n->outputs[OUT_Y], t, a.rank3 ? 3 : 4, a.rank3 ? y3 : y4);
  int64_t pk[4] = {a.B, a.Hkv, a.T, a.D}, pv[4] = {a.B, a.Hkv, a.T, a.Dv};
  int64_t qk[4] = {a.B, a.Hq, a.S, a.T};
  if (ir_out(n, OUT_PRESENT_K))
    ir_set_shape(n->outputs[OUT_PRESENT_K], t, 4, pk);
  if (ir_out(n, OUT_PRESENT_V))
    ir_set_shape(n->outputs[OUT_PRESENT_V], t, 4, pv);
  if (ir_out(n, OUT_QK))
    ir_set_shape(n->outputs[OUT_QK], t, 4, qk);
  return NN_OK;
}

/* ---- emission ---- */

/* Pointer to key (which = IN_K) or value row j of kv head hk in batch b:
 * from the past for j < P, else row j - P of the new input. */
static const char *kv_row(emit_ctx *e, const att_dims *a, int which, int64_t w) {
  int past = which == IN_K ? IN_PAST_K : IN_PAST_V;
  long long L = (long long)a->L, H = (long long)a->Hkv, W = (long long)w, P = (long long)a->P;
  const char *jj = a->P ? FMT("(j - %lld)", P) : "j";
  const char *cur = a->rank3 ? FMT("in%d + (b * %lld + %s) * %lld + hk * %lld", which, L, jj, H * W, W)
                             : FMT("in%d + ((b * %lld + hk) * %lld + %s) * %lld", which, H, L, jj, W);
  if (!a->P)
    return cur;
  return FMT("j < %lld ? in%d + ((b * %lld + hk) * %lld + j) * %lld : %s", P, past, H, P, W, cur);
}

/* present_key/value: the past rows then the new ones, [B, Hkv, T, w]. */
static void emit_present(emit_ctx *e, const ir_node *n, const att_dims *a, int out, int which,
                         int64_t w) {
  if (!ir_out(n, out) || a->B * a->Hkv * a->T * w == 0)
    return;
  const char *T = ir_dtype_ctype(n->inputs[0]->dtype);
  emit_parallel_for(e, "r", a->B * a->Hkv * a->T, w);
  emit_line(e, "const int64_t b = r / %lld, hk = r / %lld %% %lld, j = r %% %lld;",
            (long long)(a->Hkv * a->T), (long long)a->T, (long long)a->Hkv, (long long)a->T);
  emit_line(e, "const %s *src = %s;", T, kv_row(e, a, which, w));
  emit_line(e, "memcpy(out%d + r * %lld, src, %lld * sizeof(%s));", out, (long long)w,
            (long long)w, T);
  emit_close(e);
}

/* The mask's element for query (b, h, i) and key j < its last dim. */
static const char *mask_index(emit_ctx *e, const ir_tensor *m) {
  static const char *const vars[3] = {"b", "h", "i"};
  int64_t st[IR_MAX_RANK];
  emit_strides(m, st);
  const char *idx = "j";
  for (int d = 0; d < m->rank - 1; d++) {
    if (m->dims[d] != 1)
      idx = FMT("%s + %s * %lld", idx, vars[4 - m->rank + d], (long long)st[d]);
  }
  return idx;
}

/* Adds the mask, causal and padding biases to score v of key j. */
static void emit_biases(emit_ctx *e, const ir_node *n, const att_dims *a) {
  ir_dtype t = n->inputs[0]->dtype;
  const char *ninf = emit_literal(e, t, -INFINITY), *zero = emit_literal(e, t, 0);
  const ir_tensor *m = ir_in(n, IN_MASK);
  if (m) {
    int64_t tm = m->dims[m->rank - 1];
    const char *in = tm < a->T ? FMT("j < %lld && ", (long long)tm) : "";
    if (m->dtype == IR_BOOL)
      emit_line(e, "v += %sin3[%s] ? %s : %s;", in, mask_index(e, m), zero, ninf);
    else if (*in)
      emit_line(e, "v += %sin3[%s] : %s;", FMT("j < %lld ? ", (long long)tm), mask_index(e, m),
                ninf);
    else
      emit_line(e, "v += in3[%s];", mask_index(e, m));
  }
  if (ir_attr_int(n, "is_causal", 0))
    emit_line(e, "if (j > i + %lld) v += %s;", (long long)a->P, ninf);
  if (ir_in(n, IN_NONPAD))
    emit_line(e, "if (j >= in6[b]) v += %s;", ninf);
}

/* Fills s[j] with the scores of query row q against every key, writing
 * qk_matmul_output at the stage its mode names. */
static void emit_scores(emit_ctx *e, const ir_node *n, const att_dims *a) {
  ir_dtype t = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(t);
  int64_t mode = ir_out(n, OUT_QK) ? ir_attr_int(n, "qk_matmul_output_mode", 0) : -1;
  double softcap = ir_attr_float(n, "softcap", 0.0);
  double scale = ir_attr_find(n, "scale") ? ir_attr_float(n, "scale", 1.0)
                                          : 1.0 / sqrt((double)a->D);
  emit_for(e, "j", a->T);
  emit_line(e, "const %s *kr = %s;", T, kv_row(e, a, IN_K, a->D));
  emit_line(e, "%s v = %s;", T, emit_literal(e, t, 0));
  emit_for(e, "d", a->D);
  emit_line(e, "v += q[d] * kr[d];");
  emit_close(e);
  emit_line(e, "v *= %s;", emit_literal(e, t, scale));
  if (mode == 0)
    emit_line(e, "qk[j] = v;");
  emit_biases(e, n, a);
  if (mode == 1)
    emit_line(e, "qk[j] = v;");
  if (softcap > 0)
    emit_line(e, "v = %s * %s(v / %s);", emit_literal(e, t, softcap), math_fn(e, "tanh", t),
              emit_literal(e, t, softcap));
  if (mode == 2)
    emit_line(e, "qk[j] = v;");
  emit_line(e, "s[j] = v;");
  emit_close(e);
}

/* Softmax of s in place (an all -inf row gives NaN, as the reference does). */
static void emit_probs(emit_ctx *e, const ir_node *n, const att_dims *a) {
  ir_dtype t = n->inputs[0]->dtype;
  const char *T = ir_dtype_ctype(t);
  emit_line(e, "%s m = s[0], sum = %s;", T, emit_literal(e, t, 0));
  emit_for(e, "j", a->T);
  emit_line(e, "m = s[j] > m ? s[j] : m;");
  emit_close(e);
  emit_for(e, "j", a->T);
  emit_line(e, "s[j] = %s(s[j] - m);", math_fn(e, "exp", t));
  emit_line(e, "sum += s[j];");
  emit_close(e);
  emit_line(e, "sum = %s / sum;", emit_literal(e, t, 1));
  emit_for(e, "j", a->T);
  emit_line(e, "s[j] *= sum;");
  if (ir_out(n, OUT_QK) && ir_attr_int(n, "qk_matmul_output_mode", 0) == 3)
    emit_line(e, "qk[j] = s[j];");
  emit_close(e);
}

/* y = sum over keys of s[j] * value row j. */
static void emit_weighted(emit_ctx *e, const ir_node *n, const att_dims *a) {
  const char *T = ir_dtype_ctype(n->inputs[0]->dtype);
  emit_for(e, "d", a->Dv);
  emit_line(e, "y[d] = %s;", emit_literal(e, n->inputs[0]->dtype, 0));
  emit_close(e);
  emit_for(e, "j", a->T);
  emit_line(e, "const %s *vr = %s;", T, kv_row(e, a, IN_V, a->Dv));
  emit_line(e, "const %s p = s[j];", T);
  emit_for(e, "d", a->Dv);
  emit_line(e, "y[d] += p * vr[d];");
  emit_close(e);
  emit_close(e);
}

/* Whether the query's position i in its sequence appears in the code. */
static bool uses_query_index(const ir_node *n, const att_dims *a) {
  const ir_tensor *m = ir_in(n, IN_MASK);
  bool mask_i = m && m->rank >= 2 && m->dims[m->rank - 2] != 1;
  return a->rank3 || mask_i || ir_attr_int(n, "is_causal", 0);
}

/* Opens the loop over query rows r = (b, h, i) and points q, y and qk. */
static void open_queries(emit_ctx *e, const ir_node *n, const att_dims *a) {
  const char *T = ir_dtype_ctype(n->inputs[0]->dtype);
  long long S = (long long)a->S, Hq = (long long)a->Hq, D = (long long)a->D, Dv = (long long)a->Dv;
  emit_parallel_for(e, "r", a->B * a->Hq * a->S, a->T * (a->D + a->Dv) * 2);
  emit_line(e, "const int64_t b = r / %lld, h = r / %lld %% %lld;", Hq * S, S, Hq);
  if (uses_query_index(n, a))
    emit_line(e, "const int64_t i = r %% %lld;", S);
  if (a->Hq == a->Hkv)
    emit_line(e, "const int64_t hk = h;");
  else
    emit_line(e, "const int64_t hk = h / %lld;", (long long)(a->Hq / a->Hkv));
  if (a->rank3) {
    emit_line(e, "const %s *q = in0 + (b * %lld + i) * %lld + h * %lld;", T, S, Hq * D, D);
    emit_line(e, "%s *y = out0 + (b * %lld + i) * %lld + h * %lld;", T, S, Hq * Dv, Dv);
  } else {
    emit_line(e, "const %s *q = in0 + r * %lld;", T, D);
    emit_line(e, "%s *y = out0 + r * %lld;", T, Dv);
  }
  if (ir_out(n, OUT_QK))
    emit_line(e, "%s *qk = out3 + r * %lld;", T, (long long)a->T);
  emit_line(e, "%s s[%lld];", T, (long long)a->T);
}

static void emit_attention(emit_ctx *e, const ir_node *n) {
  att_dims a;
  if (att_dims_of(e->g, n, &a))
    return;
  emit_present(e, n, &a, OUT_PRESENT_K, IN_K, a.D);
  emit_present(e, n, &a, OUT_PRESENT_V, IN_V, a.Dv);
  if (a.B * a.Hq * a.S == 0)
    return;
  if (a.T == 0) { /* no keys: the softmax of nothing is NaN */
    emit_for(e, "r", ir_numel(n->outputs[OUT_Y]));
    emit_line(e, "out0[r] = %s;", emit_literal(e, n->inputs[0]->dtype, NAN));
    emit_close(e);
    return;
  }
  open_queries(e, n, &a);
  emit_scores(e, n, &a);
  emit_probs(e, n, &a);
  emit_weighted(e, n, &a);
  emit_close(e);
}

/* ---- RotaryEmbedding ---- */

typedef struct rot_dims {
  int64_t B, S, H, Dh, R; /* R: rotated dims, the first R of each head */
  bool rank3;
} rot_dims;

static nn_status rot_caches(ir_graph *g, const ir_node *n, const rot_dims *r) {
  const ir_tensor *pos = ir_in(n, 3);
  for (int k = 1; k <= 2; k++) {
    const ir_tensor *c = ir_in(n, k);
    if (!c || c->dtype != n->inputs[0]->dtype)
      return diag_node(g->path, n, "input %d must be present with the input's dtype", k);
    bool ok = pos ? c->rank == 2 : c->rank == 3 && c->dims[0] == r->B && c->dims[1] == r->S;
    if (!ok || c->dims[c->rank - 1] != r->R / 2)
      return diag_node(g->path, n, "input %d must be %s with last dim %lld", k,
                       pos ? "[max_position, rotary_dim / 2]" : "[B, S, rotary_dim / 2]",
                       (long long)(r->R / 2));
  }
  if (pos && (pos->dtype != IR_INT64 || pos->rank != 2 || pos->dims[0] != r->B ||
              pos->dims[1] != r->S))
    return diag_node(g->path, n, "position_ids must be int64 [B, S]");
  return NN_OK;
}

static nn_status rot_dims_of(ir_graph *g, const ir_node *n, rot_dims *r) {
  const ir_tensor *x = n->inputs[0];
  if (x->rank != 3 && x->rank != 4)
    return diag_node(g->path, n, "input 0 must be 3D or 4D");
  r->rank3 = x->rank == 3;
  r->B = x->dims[0];
  if (r->rank3) {
    r->S = x->dims[1];
    r->H = ir_attr_int(n, "num_heads", 0);
    if (r->H <= 0 || x->dims[2] % r->H)
      return diag_node(g->path, n, "3D input needs 'num_heads' dividing its hidden size");
    r->Dh = x->dims[2] / r->H;
  } else {
    r->H = x->dims[1], r->S = x->dims[2], r->Dh = x->dims[3];
  }
  r->R = ir_attr_int(n, "rotary_embedding_dim", 0);
  if (r->R == 0)
    r->R = r->Dh;
  if (r->R < 0 || r->R > r->Dh || r->R % 2)
    return diag_node(g->path, n, "rotary_embedding_dim %lld must be even and at most %lld",
                     (long long)r->R, (long long)r->Dh);
  return rot_caches(g, n, r);
}

static nn_status infer_rotary(ir_graph *g, ir_node *n) {
  rot_dims r;
  if (check_arity(g, n, 3, 4) || check_float(g, n, 0) || rot_dims_of(g, n, &r))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

/* Each head row r (contiguous in both layouts) rotates pairs (x1, x2):
 * the two halves of its first R dims, or adjacent elements if interleaved.
 * Position ids outside the cache are clamped to it. */
static void emit_rotary(emit_ctx *e, const ir_node *n) {
  rot_dims r;
  if (rot_dims_of(e->g, n, &r) || ir_numel(n->inputs[0]) == 0)
    return;
  const char *T = ir_dtype_ctype(n->inputs[0]->dtype);
  long long H = (long long)r.H, S = (long long)r.S, Dh = (long long)r.Dh, half = r.R / 2;
  emit_parallel_for(e, "r", r.B * r.S * r.H, r.Dh * 4);
  emit_line(e, "const %s *x = in0 + r * %lld;", T, Dh);
  emit_line(e, "%s *y = out0 + r * %lld;", T, Dh);
  /* row r is (b, h, s) in 4D, (b, s, h) in 3D; bs = b * S + s */
  emit_line(e, "const int64_t bs = %s;", r.rank3 ? FMT("r / %lld", H)
                                                 : FMT("r / %lld * %lld + r %% %lld", H * S, S, S));
  const ir_tensor *pos = ir_in(n, 3);
  if (pos) {
    int64_t maxp = n->inputs[1]->dims[0];
    emit_line(e, "int64_t at = in3[bs];");
    emit_line(e, "at = at < 0 ? 0 : at > %lld ? %lld : at;", (long long)(maxp - 1),
              (long long)(maxp - 1));
  } else {
    emit_line(e, "const int64_t at = bs;");
  }
  emit_line(e, "const %s *cs = in1 + at * %lld, *sn = in2 + at * %lld;", T, half, half);
  bool il = ir_attr_int(n, "interleaved", 0) != 0;
  const char *i1 = il ? "2 * k" : "k", *i2 = il ? "2 * k + 1" : FMT("k + %lld", half);
  emit_for(e, "k", half);
  emit_line(e, "const %s x1 = x[%s], x2 = x[%s];", T, i1, i2);
  emit_line(e, "y[%s] = cs[k] * x1 - sn[k] * x2;", i1);
  emit_line(e, "y[%s] = sn[k] * x1 + cs[k] * x2;", i2);
  emit_close(e);
  if (r.R < r.Dh)
    emit_line(e, "memcpy(y + %lld, x + %lld, %lld * sizeof(%s));", (long long)r.R, (long long)r.R,
              (long long)(r.Dh - r.R), T);
  emit_close(e);
}

const op_def op_family_attention[] = {
    {"Attention", "", infer_attention, NULL, emit_attention, 0},
    {"RotaryEmbedding", "", infer_rotary, NULL, emit_rotary, 0},
    {NULL},
};
