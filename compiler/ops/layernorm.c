/* Normalisations by statistics of the input itself: LayerNormalization,
 * RMSNormalization, GroupNormalization, InstanceNormalization,
 * MeanVarianceNormalization and LpNormalization. Each rule only says which
 * dims form a group and where its parameters sit; the kernel is
 * emit_normalize / emit_lp_normalize (norm_stats.c). */
#include "norm_stats.h"
#include "grad_rules.h"

/* Checks input k (named `what`) broadcasts one way to X. */
static nn_status check_param(ir_graph *g, const ir_node *n, int k, const char *what) {
  const ir_tensor *x = n->inputs[0], *p = n->inputs[k];
  if (p->dtype != x->dtype)
    return diag_node(g->path, n, "input %d '%s' has dtype %s but X has %s", k, what,
                     ir_dtype_name(p->dtype), ir_dtype_name(x->dtype));
  bool ok = p->rank <= x->rank;
  for (int d = 0; ok && d < p->rank; d++) {
    int64_t pd = p->dims[d], xd = x->dims[x->rank - p->rank + d];
    ok = pd == 1 || pd == xd;
  }
  if (!ok) {
    char a[128], b[128];
    return diag_node(g->path, n, "input %d '%s' %s does not broadcast to X %s", k, what,
                     ir_shape_str(p, a, sizeof a), ir_shape_str(x, b, sizeof b));
  }
  return NN_OK;
}

/* Checks input k (named `what`) holds `want` values (one per channel or group). */
static nn_status check_count(ir_graph *g, const ir_node *n, int k, const char *what, int64_t want,
                             const char *per) {
  if (!ir_in(n, k))
    return diag_node(g->path, n, "input %d '%s' is missing", k, what);
  if (n->inputs[k]->dtype != n->inputs[0]->dtype)
    return diag_node(g->path, n, "input %d '%s' has dtype %s but X has %s", k, what,
                     ir_dtype_name(n->inputs[k]->dtype), ir_dtype_name(n->inputs[0]->dtype));
  if (ir_numel(n->inputs[k]) != want) {
    char s[128];
    return diag_node(g->path, n, "input %d '%s' has shape %s; expected %lld values (one per %s)",
                     k, what, ir_shape_str(n->inputs[k], s, sizeof s), (long long)want, per);
  }
  return NN_OK;
}

/* stash_type says in what type the statistics are computed and kept; nncc
 * accumulates in double and keeps them as float, which is stash_type 1. */
static nn_status check_stash(ir_graph *g, const ir_node *n) {
  int64_t stash = ir_attr_int(n, "stash_type", 1);
  if (stash != IR_FLOAT)
    return diag_node(g->path, n, "stash_type %lld is not supported (only 1, float)",
                     (long long)stash);
  return NN_OK;
}

/* ---- LayerNormalization (Mean and InvStdDev optional) and RMSNormalization ---- */

static nn_status infer_last_axes(ir_graph *g, ir_node *n, int n_params, int *axis) {
  static const char *const names[] = {"X", "Scale", "B"};
  if (check_arity(g, n, 2, 1 + n_params) || check_float(g, n, 0) || check_stash(g, n))
    return NN_ERR;
  for (int k = 1; k <= n_params; k++) {
    if (!ir_in(n, k)) {
      if (k == 1)
        return diag_node(g->path, n, "input 1 'Scale' is missing");
      continue;
    }
    if (check_param(g, n, k, names[k]))
      return NN_ERR;
  }
  return norm_axis(g, n, ir_attr_int(n, "axis", -1), n->inputs[0]->rank, axis);
}

static nn_status infer_layernorm(ir_graph *g, ir_node *n) {
  int axis;
  if (infer_last_axes(g, n, 2, &axis))
    return NN_ERR;
  if (n->n_outputs > 3)
    return diag_node(g->path, n, "has %d outputs; at most 3 expected", n->n_outputs);
  const ir_tensor *x = n->inputs[0];
  ir_set_shape(n->outputs[0], x->dtype, x->rank, x->dims);
  int64_t stat[IR_MAX_RANK];
  for (int d = 0; d < x->rank; d++)
    stat[d] = d < axis ? x->dims[d] : 1;
  for (int k = 1; k < 3; k++)
    if (ir_out(n, k))
      ir_set_shape(n->outputs[k], IR_FLOAT, x->rank, stat);
  return NN_OK;
}

static nn_status infer_rmsnorm(ir_graph *g, ir_node *n) {
  int axis;
  if (infer_last_axes(g, n, 1, &axis))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

/* Groups are the trailing dims from `axis`; Scale and B broadcast over X. */
static void last_axes_view(const ir_node *n, norm_view *v) {
  const ir_tensor *x = n->inputs[0];
  int axis = (int)ir_attr_int(n, "axis", -1);
  axis = axis < 0 ? axis + x->rank : axis;
  bool red[NORM_MAX_DIMS];
  int64_t ps[NORM_MAX_PARAMS][NORM_MAX_DIMS] = {{0}};
  for (int d = 0; d < x->rank; d++)
    red[d] = d >= axis;
  for (int k = 1; k < 3; k++)
    if (ir_in(n, k))
      norm_bcast_strides(n->inputs[k], x->rank, x->dims, ps[k - 1]);
  norm_view_build(v, x->rank, x->dims, red, NORM_MAX_PARAMS, ps);
}

static void emit_layernorm(emit_ctx *e, const ir_node *n) {
  norm_view v;
  last_axes_view(n, &v);
  norm_spec s = {.center = true, .eps = ir_attr_float(n, "epsilon", 1e-5), .scale_in = 1,
                 .bias_in = ir_in(n, 2) ? 2 : -1, .mean_out = ir_out(n, 1) ? 1 : -1,
                 .inv_out = ir_out(n, 2) ? 2 : -1};
  emit_normalize(e, n, &v, &s);
}

/* y = x / sqrt(mean(x^2) + epsilon) * scale: no centring. */
static void emit_rmsnorm(emit_ctx *e, const ir_node *n) {
  norm_view v;
  last_axes_view(n, &v);
  norm_spec s = {.center = false, .eps = ir_attr_float(n, "epsilon", 1e-5), .scale_in = 1,
                 .bias_in = -1, .mean_out = -1, .inv_out = -1};
  emit_normalize(e, n, &v, &s);
}

/* ---- GroupNormalization, InstanceNormalization: per sample and channel group ---- */

static nn_status infer_groupnorm(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 3, 3) || check_float(g, n, 0) || check_stash(g, n))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (x->rank < 2)
    return diag_node(g->path, n, "input 0 'X' has rank %d; expected N x C x ...", x->rank);
  const ir_attr *ga = ir_attr_find(n, "num_groups");
  int64_t groups = ga && ga->type == IR_ATTR_INT ? ga->i : 0, c = x->dims[1];
  if (groups < 1 || c % groups != 0)
    return diag_node(g->path, n, "num_groups %lld must be a positive divisor of the %lld channels",
                     (long long)groups, (long long)c);
  /* Opset 18 scaled each group; opset 21 scales each channel. */
  bool per_channel = n->opset >= 21;
  int64_t want = per_channel ? c : groups;
  const char *per = per_channel ? "channel" : "group at opset 18; opset 21 takes one per channel";
  if (check_count(g, n, 1, "scale", want, per) || check_count(g, n, 2, "bias", want, per))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

/* X [N, C, S...] seen as [N, G, C/G, S...]: groups are (n, g). */
static void emit_groupnorm(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int64_t groups = ir_attr_int(n, "num_groups", 1), c = x->dims[1];
  int64_t dims[NORM_MAX_DIMS] = {x->dims[0], groups, c / groups};
  bool red[NORM_MAX_DIMS] = {false, false, true};
  int64_t ps[NORM_MAX_PARAMS][NORM_MAX_DIMS] = {{0}};
  for (int d = 2; d < x->rank; d++)
    dims[d + 1] = x->dims[d], red[d + 1] = true;
  for (int p = 0; p < 2; p++) {
    ps[p][1] = n->opset >= 21 ? c / groups : 1;
    ps[p][2] = n->opset >= 21 ? 1 : 0;
  }
  norm_view v;
  norm_view_build(&v, x->rank + 1, dims, red, 2, ps);
  norm_spec s = {.center = true, .eps = ir_attr_float(n, "epsilon", 1e-5), .scale_in = 1,
                 .bias_in = 2, .mean_out = -1, .inv_out = -1};
  emit_normalize(e, n, &v, &s);
}

static nn_status infer_instancenorm(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 3, 3) || check_float(g, n, 0))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (x->rank < 2)
    return diag_node(g->path, n, "input 0 'X' has rank %d; expected N x C x ...", x->rank);
  if (check_count(g, n, 1, "scale", x->dims[1], "channel") ||
      check_count(g, n, 2, "B", x->dims[1], "channel"))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

/* Groups are (n, c); scale and B are indexed by c. */
static void emit_instancenorm(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  bool red[NORM_MAX_DIMS] = {false, false};
  int64_t ps[NORM_MAX_PARAMS][NORM_MAX_DIMS] = {{0, 1}, {0, 1}};
  for (int d = 2; d < x->rank; d++)
    red[d] = true;
  norm_view v;
  norm_view_build(&v, x->rank, x->dims, red, 2, ps);
  norm_spec s = {.center = true, .eps = ir_attr_float(n, "epsilon", 1e-5), .scale_in = 1,
                 .bias_in = 2, .mean_out = -1, .inv_out = -1};
  emit_normalize(e, n, &v, &s);
}

/* ---- MeanVarianceNormalization: y = (x - mean) / (std + 1e-9) over `axes` ---- */

static nn_status mvn_axes(ir_graph *g, const ir_node *n, bool *red) {
  static const int64_t dflt[] = {0, 2, 3};
  int64_t axes[IR_MAX_RANK];
  int count = 3;
  const ir_tensor *x = n->inputs[0];
  if (ir_attr_find(n, "axes")) {
    count = attr_ints(g, n, "axes", axes, IR_MAX_RANK);
    if (count < 0)
      return NN_ERR;
  } else {
    memcpy(axes, dflt, sizeof dflt);
  }
  memset(red, 0, sizeof(bool) * NORM_MAX_DIMS);
  for (int k = 0; k < count; k++) {
    int a;
    if (norm_axis(g, n, axes[k], x->rank, &a))
      return NN_ERR;
    if (red[a])
      return diag_node(g->path, n, "axis %lld appears twice in 'axes'", (long long)axes[k]);
    red[a] = true;
  }
  return NN_OK;
}

static nn_status infer_mvn(ir_graph *g, ir_node *n) {
  bool red[NORM_MAX_DIMS];
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0) || mvn_axes(g, n, red))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

static void emit_mvn(emit_ctx *e, const ir_node *n) {
  bool red[NORM_MAX_DIMS];
  mvn_axes(e->g, n, red);
  norm_view v;
  norm_view_build(&v, n->inputs[0]->rank, n->inputs[0]->dims, red, 0, NULL);
  norm_spec s = {.center = true, .eps_after_sqrt = true, .eps = 1e-9, .scale_in = -1,
                 .bias_in = -1, .mean_out = -1, .inv_out = -1};
  emit_normalize(e, n, &v, &s);
}

/* ---- LpNormalization: x / ||x||_p along one axis ---- */

static nn_status infer_lpnorm(ir_graph *g, ir_node *n) {
  int axis;
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0))
    return NN_ERR;
  if (norm_axis(g, n, ir_attr_int(n, "axis", -1), n->inputs[0]->rank, &axis))
    return NN_ERR;
  int64_t p = ir_attr_int(n, "p", 2);
  if (p != 1 && p != 2)
    return diag_node(g->path, n, "p must be 1 or 2, not %lld", (long long)p);
  return infer_same_as_input(g, n);
}

static void emit_lpnorm(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int axis = (int)ir_attr_int(n, "axis", -1);
  bool red[NORM_MAX_DIMS] = {false};
  red[axis < 0 ? axis + x->rank : axis] = true;
  norm_view v;
  norm_view_build(&v, x->rank, x->dims, red, 0, NULL);
  emit_lp_normalize(e, n, &v, (int)ir_attr_int(n, "p", 2));
}

const op_def op_family_layernorm[] = {
    /* Mean and InvStdDev are float (stash_type 1) whatever X's type. */
    {"LayerNormalization", "", infer_layernorm, NULL, emit_layernorm, OP_STATS_STAY_FLOAT,
     .grad = grad_layer_norm},
    {"RMSNormalization", "", infer_rmsnorm, NULL, emit_rmsnorm, 0},
    {"GroupNormalization", "", infer_groupnorm, NULL, emit_groupnorm, 0},
    {"InstanceNormalization", "", infer_instancenorm, NULL, emit_instancenorm, 0},
    {"MeanVarianceNormalization", "", infer_mvn, NULL, emit_mvn, 0},
    {"LpNormalization", "", infer_lpnorm, NULL, emit_lpnorm, 0},
    {NULL},
};
