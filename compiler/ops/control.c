/* If, Loop, Scan and SequenceMap, lowered while inference walks the graph:
 * their "shape rule" copies the subgraph into the graph right after the
 * node (compiler/control_inline.c) and retires the node, so inference goes
 * on into the copy with every shape and constant known. nncc compiles static
 * shapes, so what decides the structure must be known at compile time:
 *
 * - If with a constant condition becomes the chosen branch. With a run-time
 *   condition both branches run and a Where per output picks (the branches
 *   must then agree on dtypes and shapes); a C if/else around the branches
 *   would skip half the work, but it needs control flow in codegen, and the
 *   branches of the models seen so far are small.
 * - Loop unrolls one iteration per visit: the copy of the body is followed
 *   by a continuation Loop (attribute nncc_iteration) that reads the
 *   condition the copy computed, once inference has folded it. Trip count
 *   and conditions must fold to constants.
 * - Scan unrolls over its scan axis; SequenceMap over its sequence. */
#include "common.h"
#include "control.h"

static const ir_graph *subgraph(ir_graph *g, const ir_node *n, const char *name) {
  const ir_attr *a = ir_attr_find(n, name);
  if (!a || !a->graph) {
    diag_node(g->path, n, "graph attribute '%s' is missing", name);
    return NULL;
  }
  return a->graph;
}

static nn_status check_count(ir_graph *g, const ir_node *n, const char *what, int got, int want) {
  if (got != want)
    return diag_node(g->path, n, "%s has %d outputs, the node %d", what, got, want);
  return NN_OK;
}

/* A copy of n (same name, attributes and outputs) with new inputs. */
static ir_node *continuation(ir_graph *g, int pos, const ir_node *n, int n_inputs) {
  ir_node *c = control_node(g, pos, n, n->op_type, n_inputs, n->n_outputs);
  c->name = n->name;
  c->attrs = mem_alloc(g->mem, sizeof *c->attrs * (size_t)(n->n_attrs + 1));
  for (int a = 0; a < n->n_attrs; a++) /* the model's attributes, not the lowering's state */
    if (strncmp(n->attrs[a].name, "nncc_", 5) != 0)
      c->attrs[c->n_attrs++] = n->attrs[a];
  for (int k = 0; k < n->n_outputs; k++)
    c->outputs[k] = n->outputs[k];
  return c;
}

static ir_tensor *fresh(ir_graph *g, const ir_node *n, const char *what) {
  return control_tensor(g, mem_printf(g->mem, "%s/%s", n->name, what));
}

static void identity(ir_graph *g, int *pos, const ir_node *n, ir_tensor *from, ir_tensor *to) {
  if (!to)
    return;
  ir_node *id = control_node(g, (*pos)++, n, "Identity", 1, 1);
  id->inputs[0] = from;
  id->outputs[0] = to;
}

/* out = the pieces stacked along a new axis (in order). */
static void stack(ir_graph *g, int *pos, const ir_node *n, ir_tensor **pieces, int count,
                  int64_t axis, ir_tensor *out) {
  if (!out)
    return;
  ir_node *cat = NULL;
  ir_tensor **ups = mem_alloc(g->mem, sizeof *ups * (size_t)(count + 1));
  for (int i = 0; i < count; i++) {
    ups[i] = fresh(g, n, mem_printf(g->mem, "stack%d", i));
    control_unsqueeze(g, (*pos)++, n, pieces[i], axis, ups[i]);
  }
  cat = control_node(g, (*pos)++, n, "Concat", count, 1);
  for (int i = 0; i < count; i++)
    cat->inputs[i] = ups[i];
  ir_node_set_int_attr(g, cat, "axis", axis);
  cat->outputs[0] = out;
}

/* x[index] along axis, the axis dropped. */
static ir_tensor *take(ir_graph *g, int *pos, const ir_node *n, ir_tensor *x, int64_t index,
                       int64_t axis) {
  ir_node *ga = control_node(g, (*pos)++, n, "Gather", 2, 1);
  ga->inputs[0] = x;
  ga->inputs[1] = control_const(g, mem_printf(g->mem, "%s/index%lld", n->name, (long long)index),
                                IR_INT64, 0, index);
  ir_node_set_int_attr(g, ga, "axis", axis);
  ir_tensor *out = ga->outputs[0] = fresh(g, n, mem_printf(g->mem, "slice%lld", (long long)index));
  /* known now, for the lowering that reads it; inference will agree */
  int64_t dims[IR_MAX_RANK];
  for (int d = 0, r = 0; d < x->rank; d++)
    if (d != axis)
      dims[r++] = x->dims[d];
  ir_set_shape(out, x->dtype, x->rank - 1, dims);
  out->shaped = false;
  return out;
}

/* ---- If ---- */

/* The way out when the condition is a graph input. */
static const char *freeze_hint(ir_graph *g, const ir_tensor *cond) {
  return cond->kind == IR_INPUT ? mem_printf(g->mem, " (--freeze %s=FILE compiles one in)", cond->name) : "";
}

/* out = cond ? a : b at run time; sequences element by element. */
static nn_status select_value(ir_graph *g, int *pos, const ir_node *n, int k, ir_tensor *cond,
                              ir_tensor *a, ir_tensor *b, ir_tensor *out) {
  const char *who = strcmp(n->op_type, "Loop") == 0 ? "an iteration and the one before give loop-"
                                                      "carried value" : "the branches give output";
  char sa[128], sb[128];
  if (a->seq || b->seq) {
    if (!a->seq || !b->seq || a->seq->optional != b->seq->optional || a->seq->n != b->seq->n)
      return diag_node(g->path, n, "the condition is only known at run time, and %s %d as %s: "
                       "nncc needs a constant condition here%s", who, k,
                       !a->seq || !b->seq || a->seq->optional != b->seq->optional
                           ? "different kinds of value"
                           : a->seq->optional ? "an optional present in one branch only"
                                              : "sequences of different lengths",
                       freeze_hint(g, cond));
    out->seq = mem_alloc(g->mem, sizeof *out->seq);
    *out->seq = *a->seq;
    out->seq->items = mem_alloc(g->mem, sizeof *out->seq->items * (size_t)(a->seq->n + 1));
    for (int i = 0; i < a->seq->n; i++) {
      out->seq->items[i] = fresh(g, n, mem_printf(g->mem, "out%d.%d", k, i));
      if (select_value(g, pos, n, k, cond, a->seq->items[i], b->seq->items[i], out->seq->items[i]))
        return NN_ERR;
    }
    out->shaped = true;
    return NN_OK;
  }
  bool same = a->dtype == b->dtype && a->rank == b->rank;
  for (int d = 0; same && d < a->rank; d++)
    same = a->dims[d] == b->dims[d];
  if (!same)
    return diag_node(g->path, n, "the condition is only known at run time, and %s %d as %s%s "
                     "and %s%s: they must agree, or the condition be constant%s", who,
                     k, ir_dtype_name(a->dtype), ir_shape_str(a, sa, sizeof sa),
                     ir_dtype_name(b->dtype), ir_shape_str(b, sb, sizeof sb), freeze_hint(g, cond));
  ir_node *w = control_node(g, (*pos)++, n, "Where", 3, 1);
  w->inputs[0] = cond;
  w->inputs[1] = a;
  w->inputs[2] = b;
  w->outputs[0] = out;
  return NN_OK;
}

static nn_status lower_if(ir_graph *g, ir_node *n) {
  int pos = control_node_index(g, n) + 1, m = n->n_outputs;
  ir_tensor *cond = n->inputs[0];
  if (n->n_inputs > 1) { /* the join after both branches: pick per output */
    n->dead = true;
    for (int k = 0; k < m; k++)
      if (n->outputs[k] && select_value(g, &pos, n, k, cond, n->inputs[1 + k],
                                        n->inputs[1 + m + k], n->outputs[k]))
        return NN_ERR;
    return NN_OK;
  }
  const ir_graph *then = subgraph(g, n, "then_branch"), *els = subgraph(g, n, "else_branch");
  if (!then || !els || !cond)
    return NN_ERR;
  if (check_count(g, n, "then_branch", then->n_outputs, m) ||
      check_count(g, n, "else_branch", els->n_outputs, m))
    return NN_ERR;
  if (cond->dtype != IR_BOOL || ir_numel(cond) != 1)
    return diag_node(g->path, n, "the condition must be one bool, not %s", ir_dtype_name(cond->dtype));
  n->dead = true;
  if (cond->kind == IR_WEIGHT) { /* the usual case: shapes and flags decide */
    bool taken = ir_weight_int(cond, 0) != 0;
    return control_inline(g, pos, n, taken ? then : els, NULL, 0,
                          mem_printf(g->mem, "%s/%s/", n->name, taken ? "then" : "else"), NULL,
                          n->outputs) < 0 ? NN_ERR : NN_OK;
  }
  ir_tensor **r = mem_alloc(g->mem, sizeof *r * (size_t)(2 * m + 1));
  int a = control_inline(g, pos, n, then, NULL, 0, mem_printf(g->mem, "%s/then/", n->name), r, NULL);
  if (a < 0)
    return NN_ERR;
  int b = control_inline(g, pos + a, n, els, NULL, 0, mem_printf(g->mem, "%s/else/", n->name),
                         r + m, NULL);
  if (b < 0)
    return NN_ERR;
  ir_node *join = continuation(g, pos + a + b, n, 1 + 2 * m);
  join->inputs[0] = cond;
  for (int k = 0; k < 2 * m; k++)
    join->inputs[1 + k] = r[k];
  return NN_OK;
}

/* ---- Loop ---- */

/* A condition known only at run time, with a constant trip count: every
 * iteration runs, and its results count only while the condition held
 * (running = running && cond_out; v = running ? v_out : v). Scan outputs
 * would have a run-time length, so there must be none. A visit copies the
 * body and leaves a continuation with inputs [M, running, v..., cond_out,
 * v_out...]; the next visit, with those shaped, selects, then copies again. */
static nn_status lower_loop_masked(ir_graph *g, ir_node *n, const ir_graph *body, int64_t k,
                                   int N, int K, int pos) {
  ir_tensor *M = n->inputs[0], *running = n->inputs[1];
  if (!M)
    return diag_node(g->path, n, "the condition is only known at run time and there is no trip "
                     "count: nncc unrolls loops, so one of them must be constant");
  if (K > 0)
    return diag_node(g->path, n, "the condition is only known at run time, so the %d scan "
                     "output%s would have a run-time length: the condition must be constant%s", K,
                     K == 1 ? "" : "s", running->kind == IR_INPUT ?
                     mem_printf(g->mem, " (--freeze %s=FILE compiles one in)", running->name) : "");
  ir_tensor **v = mem_alloc(g->mem, sizeof *v * (size_t)(N + 1));
  for (int j = 0; j < N; j++)
    v[j] = n->inputs[2 + j];
  if (n->n_inputs == 3 + 2 * N) { /* the previous iteration's results, now shaped */
    ir_tensor **out = n->inputs + 2 + N;
    ir_node *and = control_node(g, pos++, n, "And", 2, 1);
    and->inputs[0] = running;
    and->inputs[1] = out[0];
    and->outputs[0] = fresh(g, n, mem_printf(g->mem, "running%lld", (long long)k));
    for (int j = 0; j < N; j++) {
      ir_tensor *next = fresh(g, n, mem_printf(g->mem, "%lld/v%d", (long long)k, j));
      if (select_value(g, &pos, n, j, running, out[1 + j], v[j], next))
        return NN_ERR;
      v[j] = next;
    }
    running = and->outputs[0];
  }
  if (k >= ir_weight_int(M, 0)) {
    for (int j = 0; j < N; j++)
      identity(g, &pos, n, v[j], n->outputs[j]);
    return NN_OK;
  }
  if (k >= CONTROL_MAX_UNROLL)
    return diag_node(g->path, n, "the loop runs more than %d iterations; nncc unrolls loops "
                     "at compile time and stops there", CONTROL_MAX_UNROLL);
  ir_tensor **args = mem_alloc(g->mem, sizeof *args * (size_t)(2 + N));
  args[0] = control_const(g, mem_printf(g->mem, "%s/iteration%lld", n->name, (long long)k),
                          IR_INT64, 0, k);
  args[1] = running;
  for (int j = 0; j < N; j++)
    args[2 + j] = v[j];
  ir_tensor **r = mem_alloc(g->mem, sizeof *r * (size_t)(body->n_outputs + 1));
  int added = control_inline(g, pos, n, body, args, 2 + N,
                             mem_printf(g->mem, "%s/%lld/", n->name, (long long)k), r, NULL);
  if (added < 0)
    return NN_ERR;
  ir_node *c = continuation(g, pos + added, n, 3 + 2 * N);
  ir_node_set_int_attr(g, c, "nncc_iteration", k + 1);
  ir_node_set_int_attr(g, c, "nncc_carried", N);
  ir_node_set_int_attr(g, c, "nncc_masked", 1);
  c->inputs[0] = M;
  c->inputs[1] = running;
  for (int j = 0; j < N; j++)
    c->inputs[2 + j] = v[j];
  for (int j = 0; j <= N; j++)
    c->inputs[2 + N + j] = r[j];
  return NN_OK;
}

static nn_status lower_loop(ir_graph *g, ir_node *n) {
  const ir_graph *body = subgraph(g, n, "body");
  if (!body)
    return NN_ERR;
  int64_t k = ir_attr_int(n, "nncc_iteration", 0);
  int N = (int)ir_attr_int(n, "nncc_carried", n->n_inputs - 2);
  int K = body->n_outputs - 1 - N;
  if (N < 0 || body->n_inputs != 2 + N || K < 0 || n->n_outputs != N + K)
    return diag_node(g->path, n, "the body takes %d inputs and gives %d outputs; with %d "
                     "loop-carried values it should take %d and give at least %d",
                     body->n_inputs, body->n_outputs, N, 2 + N, 1 + N);
  ir_tensor *M = n->inputs[0], *cond = n->inputs[1];
  int pos = control_node_index(g, n) + 1;
  if (ir_attr_int(n, "nncc_masked", 0) || (cond && cond->kind != IR_WEIGHT)) {
    n->dead = true;
    return lower_loop_masked(g, n, body, k, N, K, pos);
  }
  /* a constant condition; const_inputs made the trip count one */
  int64_t trip = M ? ir_weight_int(M, 0) : -1;
  bool running = cond ? ir_weight_int(cond, 0) != 0 : true;
  ir_tensor **pieces = n->inputs + 2 + N; /* k iterations x K scan outputs */
  n->dead = true;
  if (running && (trip < 0 || k < trip)) {
    if (k >= CONTROL_MAX_UNROLL)
      return diag_node(g->path, n, "the loop runs more than %d iterations; nncc unrolls loops "
                       "at compile time and stops there", CONTROL_MAX_UNROLL);
    ir_tensor **args = mem_alloc(g->mem, sizeof *args * (size_t)(2 + N));
    args[0] = control_const(g, mem_printf(g->mem, "%s/iteration%lld", n->name, (long long)k),
                            IR_INT64, 0, k);
    args[1] = cond ? cond : control_const(g, mem_printf(g->mem, "%s/true", n->name), IR_BOOL, 0, 1);
    for (int j = 0; j < N; j++)
      args[2 + j] = n->inputs[2 + j];
    ir_tensor **r = mem_alloc(g->mem, sizeof *r * (size_t)(body->n_outputs + 1));
    int added = control_inline(g, pos, n, body, args, 2 + N,
                               mem_printf(g->mem, "%s/%lld/", n->name, (long long)k), r, NULL);
    if (added < 0)
      return NN_ERR;
    ir_node *c = continuation(g, pos + added, n, 2 + N + (int)(k + 1) * K);
    ir_node_set_int_attr(g, c, "nncc_iteration", k + 1);
    ir_node_set_int_attr(g, c, "nncc_carried", N);
    c->inputs[0] = M;
    c->inputs[1] = r[0];
    for (int j = 0; j < N; j++)
      c->inputs[2 + j] = r[1 + j];
    for (int i = 0; i < k * K; i++)
      c->inputs[2 + N + i] = pieces[i];
    for (int s = 0; s < K; s++)
      c->inputs[2 + N + k * K + s] = r[1 + N + s];
    return NN_OK;
  }
  for (int j = 0; j < N; j++)
    identity(g, &pos, n, n->inputs[2 + j], n->outputs[j]);
  for (int s = 0; s < K; s++) {
    if (!n->outputs[N + s])
      continue;
    if (k == 0)
      return diag_node(g->path, n, "the loop runs no iteration, so scan output %d is empty; nncc "
                       "cannot give it a shape", s);
    ir_tensor **col = mem_alloc(g->mem, sizeof *col * (size_t)k);
    for (int i = 0; i < k; i++)
      col[i] = pieces[i * K + s];
    stack(g, &pos, n, col, (int)k, 0, n->outputs[N + s]);
  }
  return NN_OK;
}

/* ---- Scan ---- */

/* The scan itself (opset 9 form): states[N] in, xs[M] scanned along axes
 * (reversed where dirs says); states[] comes back with the final states and
 * scans[s][t] with scan output s of step t. */
static nn_status scan_steps(ir_graph *g, int *pos, const ir_node *n, const ir_graph *body,
                            int N, int M, ir_tensor **states, ir_tensor **xs, const int64_t *axes,
                            const int64_t *dirs, ir_tensor ***scans, const char *tag) {
  int K = body->n_outputs - N;
  int64_t T = -1;
  int64_t *ax = mem_alloc(g->mem, sizeof *ax * (size_t)(M + 1));
  for (int j = 0; j < M; j++) {
    int a;
    if (norm_axis(g, n, axes ? axes[j] : 0, xs[j]->rank, &a))
      return NN_ERR;
    ax[j] = a;
    if (T >= 0 && xs[j]->dims[a] != T)
      return diag_node(g->path, n, "scan inputs have different lengths (%lld and %lld)",
                       (long long)T, (long long)xs[j]->dims[a]);
    T = xs[j]->dims[a];
  }
  if (T <= 0 || T > CONTROL_MAX_UNROLL)
    return diag_node(g->path, n, "the scan has %lld steps; nncc unrolls 1 to %d", (long long)T,
                     CONTROL_MAX_UNROLL);
  for (int s = 0; s < K; s++)
    scans[s] = mem_alloc(g->mem, sizeof **scans * (size_t)T);
  ir_tensor **args = mem_alloc(g->mem, sizeof *args * (size_t)(N + M + 1));
  ir_tensor **r = mem_alloc(g->mem, sizeof *r * (size_t)(N + K + 1));
  for (int64_t t = 0; t < T; t++) {
    for (int j = 0; j < N; j++)
      args[j] = states[j];
    for (int j = 0; j < M; j++)
      args[N + j] = take(g, pos, n, xs[j], dirs && dirs[j] ? T - 1 - t : t, ax[j]);
    int added = control_inline(g, *pos, n, body, args, N + M,
                               mem_printf(g->mem, "%s/%s%lld/", n->name, tag, (long long)t), r, NULL);
    if (added < 0)
      return NN_ERR;
    *pos += added;
    for (int j = 0; j < N; j++)
      states[j] = r[j];
    for (int s = 0; s < K; s++)
      scans[s][t] = r[N + s];
  }
  return NN_OK;
}

/* Step order of scan output s, reversed when its direction says. */
static ir_tensor **ordered(ir_graph *g, ir_tensor **steps, int64_t T, bool reverse) {
  ir_tensor **o = mem_alloc(g->mem, sizeof *o * (size_t)T);
  for (int64_t t = 0; t < T; t++)
    o[t] = steps[reverse ? T - 1 - t : t];
  return o;
}

static nn_status lower_scan(ir_graph *g, ir_node *n) {
  const ir_graph *body = subgraph(g, n, "body");
  if (!body)
    return NN_ERR;
  int M = (int)ir_attr_int(n, "num_scan_inputs", -1);
  bool v8 = n->opset < 9; /* batch axis 0, optional sequence_lens first */
  int first = v8 ? 1 : 0;
  int N = n->n_inputs - first - M;
  int K = body->n_outputs - N;
  if (M < 1 || N < 0 || body->n_inputs != N + M || K < 0 || n->n_outputs != N + K)
    return diag_node(g->path, n, "num_scan_inputs %d does not fit %d inputs, a body of %d inputs "
                     "and %d outputs", M, n->n_inputs, body->n_inputs, body->n_outputs);
  if (v8 && n->inputs[0])
    return diag_node(g->path, n, "sequence_lens (input 0) is not supported: every batch entry "
                     "must scan the whole length");
  const int64_t *axes = NULL, *dirs = NULL, *out_axes = NULL, *out_dirs = NULL;
  if (!v8) {
    if (ir_attr_ints(n, "scan_input_axes", &axes) && ir_attr_ints(n, "scan_input_axes", &axes) != M)
      return diag_node(g->path, n, "scan_input_axes needs %d entries", M);
    if (ir_attr_ints(n, "scan_input_directions", &dirs) &&
        ir_attr_ints(n, "scan_input_directions", &dirs) != M)
      return diag_node(g->path, n, "scan_input_directions needs %d entries", M);
    if (ir_attr_ints(n, "scan_output_axes", &out_axes) && ir_attr_ints(n, "scan_output_axes", &out_axes) != K)
      return diag_node(g->path, n, "scan_output_axes needs %d entries", K);
    if (ir_attr_ints(n, "scan_output_directions", &out_dirs) &&
        ir_attr_ints(n, "scan_output_directions", &out_dirs) != K)
      return diag_node(g->path, n, "scan_output_directions needs %d entries", K);
  } else if (ir_attr_ints(n, "directions", &dirs) && ir_attr_ints(n, "directions", &dirs) != M) {
    return diag_node(g->path, n, "directions needs %d entries", M);
  }
  int pos = control_node_index(g, n) + 1;
  n->dead = true;
  ir_tensor **states = mem_alloc(g->mem, sizeof *states * (size_t)(N + 1));
  ir_tensor **xs = mem_alloc(g->mem, sizeof *xs * (size_t)(M + 1));
  ir_tensor ***scans = mem_alloc(g->mem, sizeof *scans * (size_t)(K + 1));
  if (!v8) {
    for (int j = 0; j < N; j++)
      states[j] = n->inputs[j];
    for (int j = 0; j < M; j++)
      xs[j] = n->inputs[N + j];
    if (scan_steps(g, &pos, n, body, N, M, states, xs, axes, dirs, scans, "step"))
      return NN_ERR;
    int64_t T = xs[0]->dims[axes ? (axes[0] < 0 ? axes[0] + xs[0]->rank : axes[0]) : 0];
    for (int j = 0; j < N; j++)
      identity(g, &pos, n, states[j], n->outputs[j]);
    for (int s = 0; s < K; s++)
      stack(g, &pos, n, ordered(g, scans[s], T, out_dirs && out_dirs[s]), (int)T,
            out_axes ? out_axes[s] : 0, n->outputs[N + s]);
    return NN_OK;
  }
  /* opset 8: every input has a batch axis 0; scan each entry, restack */
  const ir_tensor *x0 = n->inputs[first + N];
  if (x0->rank < 2)
    return diag_node(g->path, n, "scan inputs need a batch and a sequence axis");
  int64_t B = x0->dims[0], T = x0->dims[1];
  ir_tensor ***per = mem_alloc(g->mem, sizeof *per * (size_t)(N + K + 1)); /* [output][batch] */
  for (int o = 0; o < N + K; o++)
    per[o] = mem_alloc(g->mem, sizeof **per * (size_t)(B + 1));
  for (int64_t b = 0; b < B; b++) {
    for (int j = 0; j < N; j++)
      states[j] = take(g, &pos, n, n->inputs[first + j], b, 0);
    for (int j = 0; j < M; j++)
      xs[j] = take(g, &pos, n, n->inputs[first + N + j], b, 0);
    if (scan_steps(g, &pos, n, body, N, M, states, xs, NULL, dirs, scans,
                   mem_printf(g->mem, "batch%lld/step", (long long)b)))
      return NN_ERR;
    for (int j = 0; j < N; j++)
      per[j][b] = states[j];
    for (int s = 0; s < K; s++) {
      per[N + s][b] = fresh(g, n, mem_printf(g->mem, "batch%lld/out%d", (long long)b, s));
      stack(g, &pos, n, scans[s], (int)T, 0, per[N + s][b]);
    }
  }
  for (int o = 0; o < N + K; o++)
    stack(g, &pos, n, per[o], (int)B, 0, n->outputs[o]);
  return NN_OK;
}

/* ---- SequenceMap ---- */

static nn_status lower_sequence_map(ir_graph *g, ir_node *n) {
  const ir_graph *body = subgraph(g, n, "body");
  if (!body)
    return NN_ERR;
  const ir_tensor *s0 = n->inputs[0];
  if (!s0 || !s0->seq || s0->seq->optional)
    return diag_node(g->path, n, "input 0 must be a sequence");
  int len = s0->seq->n;
  for (int j = 1; j < n->n_inputs; j++)
    if (n->inputs[j] && n->inputs[j]->seq && n->inputs[j]->seq->n != len)
      return diag_node(g->path, n, "input %d has %d elements, input 0 %d", j,
                       n->inputs[j]->seq->n, len);
  if (body->n_inputs != n->n_inputs || body->n_outputs != n->n_outputs)
    return diag_node(g->path, n, "the body takes %d inputs and gives %d outputs, the node %d and %d",
                     body->n_inputs, body->n_outputs, n->n_inputs, n->n_outputs);
  int pos = control_node_index(g, n) + 1;
  n->dead = true;
  for (int k = 0; k < n->n_outputs; k++) {
    ir_tensor *o = n->outputs[k];
    if (!o)
      continue;
    o->seq = mem_alloc(g->mem, sizeof *o->seq);
    o->seq->n = len;
    o->seq->elem_dtype = IR_FLOAT;
    o->seq->items = mem_alloc(g->mem, sizeof *o->seq->items * (size_t)(len + 1));
    o->shaped = true;
  }
  ir_tensor **args = mem_alloc(g->mem, sizeof *args * (size_t)(n->n_inputs + 1));
  ir_tensor **r = mem_alloc(g->mem, sizeof *r * (size_t)(n->n_outputs + 1));
  for (int i = 0; i < len; i++) {
    for (int j = 0; j < n->n_inputs; j++) {
      ir_tensor *in = n->inputs[j];
      args[j] = in && in->seq ? in->seq->items[i] : in;
    }
    int added = control_inline(g, pos, n, body, args, n->n_inputs,
                               mem_printf(g->mem, "%s/%d/", n->name, i), r, NULL);
    if (added < 0)
      return NN_ERR;
    pos += added;
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k])
        n->outputs[k]->seq->items[i] = r[k];
  }
  return NN_OK;
}

const op_def op_family_control[] = {
    {"If", "", lower_if, NULL, NULL, OP_TAKES_SEQUENCES},
    {"Loop", "", lower_loop, NULL, NULL, OP_TAKES_SEQUENCES, OP_CONST(0)},
    {"Scan", "", lower_scan, NULL, NULL, 0},
    {"SequenceMap", "", lower_sequence_map, NULL, NULL, OP_TAKES_SEQUENCES},
    {NULL},
};
