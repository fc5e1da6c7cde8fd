/* Classic machine-learning operators: the ai.onnx.ml domain's Binarizer,
 * ArrayFeatureExtractor and TreeEnsemble, and TfIdfVectorizer (n-gram
 * counts). Their model data (trees, n-gram pools) is known at compile time
 * and becomes static tables in the node's function. */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

/* Writes `static const TYPE name[] = {v0, v1, ...};` from n int64 values. */
static void emit_int_table(emit_ctx *e, const char *type, const char *name, const int64_t *v,
                           int64_t n) {
  cbuf *b = e->body;
  emit_line(e, "static const %s %s[%lld] = {", type, name, (long long)(n ? n : 1));
  for (int64_t i = 0; i < n; i++)
    cb_raw(b, "%s%lld,%s", i % 16 ? " " : "    ", (long long)v[i], i % 16 == 15 || i == n - 1 ? "\n" : "");
  if (n == 0)
    emit_line(e, "  0");
  emit_line(e, "};");
}

static void emit_real_table(emit_ctx *e, ir_dtype t, const char *name, const double *v, int64_t n) {
  cbuf *b = e->body;
  emit_line(e, "static const %s %s[%lld] = {", ir_dtype_ctype(t), name, (long long)(n ? n : 1));
  for (int64_t i = 0; i < n; i++)
    cb_raw(b, "%s%s,%s", i % 8 ? " " : "    ", emit_literal(e, t, v[i]),
           i % 8 == 7 || i == n - 1 ? "\n" : "");
  if (n == 0)
    emit_line(e, "  0");
  emit_line(e, "};");
}

/* ---- Binarizer: 1 where x > threshold, else 0 ---- */

static nn_status infer_binarizer(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0))
    return NN_ERR;
  return infer_same_as_input(g, n);
}

static void emit_binarizer(emit_ctx *e, const ir_node *n) {
  ir_dtype t = n->inputs[0]->dtype;
  emit_unary_map(e, n, FMT("x > %s ? %s : %s", emit_literal(e, t, ir_attr_float(n, "threshold", 0)),
                           emit_literal(e, t, 1), emit_literal(e, t, 0)));
}

/* ---- ArrayFeatureExtractor: data[..., indices] over the last axis ---- */

static nn_status infer_afe(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0], *idx = n->inputs[1];
  if (idx->dtype != IR_INT64)
    return diag_node(g->path, n, "indices have dtype %s; int64 is required", ir_dtype_name(idx->dtype));
  if (x->rank < 1)
    return diag_node(g->path, n, "the data must have at least one dimension");
  int64_t dims[IR_MAX_RANK];
  int rank = x->rank == 1 ? 2 : x->rank; /* a vector gives one row, as onnxruntime does */
  for (int d = 0; d < rank - 1; d++)
    dims[d] = x->rank == 1 ? 1 : x->dims[d];
  dims[rank - 1] = ir_numel(idx);
  ir_set_shape(n->outputs[0], x->dtype, rank, dims);
  return NN_OK;
}

static void emit_afe(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  int64_t last = x->dims[x->rank - 1], rows = last ? ir_numel(x) / last : 0;
  int64_t k = ir_numel(n->inputs[1]);
  if (rows == 0 || k == 0)
    return;
  emit_for(e, "r", rows);
  emit_for(e, "j", k);
  /* Run-time indices: an out-of-range one reads the nearest edge. */
  emit_line(e, "int64_t i = in1[j] < 0 ? 0 : in1[j] >= %lld ? %lld : in1[j];", (long long)last,
            (long long)last - 1);
  emit_line(e, "out0[r * %lld + j] = in0[r * %lld + i];", (long long)k, (long long)last);
  emit_close(e);
  emit_close(e);
}

/* ---- TreeEnsemble ---- */

enum { MODE_LEQ, MODE_LT, MODE_GTE, MODE_GT, MODE_EQ, MODE_NEQ, MODE_MEMBER };
enum { AGG_AVERAGE, AGG_SUM, AGG_MIN, AGG_MAX };
enum { POST_NONE, POST_SOFTMAX, POST_LOGISTIC, POST_SOFTMAX_ZERO, POST_PROBIT };

/* The attribute tensors a tree ensemble needs, as counted lists. */
typedef struct forest {
  int64_t n_nodes, n_leaves, n_trees, n_targets, n_members;
  const int64_t *feature, *true_id, *false_id, *true_leaf, *false_leaf, *roots, *target, *missing;
  const ir_tensor *splits, *modes, *weights, *members;
} forest;

static nn_status ints_of(ir_graph *g, const ir_node *n, const char *name, const int64_t **v,
                         int64_t want, bool required) {
  int64_t count = ir_attr_ints(n, name, v);
  if (count == 0 && !required) {
    *v = NULL;
    return NN_OK;
  }
  if (count != want)
    return diag_node(g->path, n, "attribute '%s' has %lld values; %lld expected", name,
                     (long long)count, (long long)want);
  return NN_OK;
}

static const ir_tensor *tensor_attr(const ir_node *n, const char *name) {
  const ir_attr *a = ir_attr_find(n, name);
  return a && a->type == IR_ATTR_TENSOR ? a->t : NULL;
}

static nn_status read_forest(ir_graph *g, const ir_node *n, forest *f) {
  memset(f, 0, sizeof *f);
  f->splits = tensor_attr(n, "nodes_splits");
  f->modes = tensor_attr(n, "nodes_modes");
  f->weights = tensor_attr(n, "leaf_weights");
  f->members = tensor_attr(n, "membership_values");
  if (!f->splits || !f->modes || !f->weights)
    return diag_node(g->path, n, "nodes_splits, nodes_modes and leaf_weights are required tensors");
  f->n_nodes = ir_numel(f->splits);
  f->n_leaves = ir_numel(f->weights);
  f->n_targets = ir_attr_int(n, "n_targets", 0);
  f->n_members = f->members ? ir_numel(f->members) : 0;
  f->n_trees = ir_attr_ints(n, "tree_roots", &f->roots);
  if (ir_numel(f->modes) != f->n_nodes || f->n_targets <= 0 || f->n_trees == 0)
    return diag_node(g->path, n, "inconsistent tree attributes: %lld splits, %lld modes, "
                     "n_targets %lld, %lld trees", (long long)f->n_nodes,
                     (long long)ir_numel(f->modes), (long long)f->n_targets, (long long)f->n_trees);
  if (ints_of(g, n, "nodes_featureids", &f->feature, f->n_nodes, true) ||
      ints_of(g, n, "nodes_truenodeids", &f->true_id, f->n_nodes, true) ||
      ints_of(g, n, "nodes_falsenodeids", &f->false_id, f->n_nodes, true) ||
      ints_of(g, n, "nodes_trueleafs", &f->true_leaf, f->n_nodes, true) ||
      ints_of(g, n, "nodes_falseleafs", &f->false_leaf, f->n_nodes, true) ||
      ints_of(g, n, "leaf_targetids", &f->target, f->n_leaves, true) ||
      ints_of(g, n, "nodes_missing_value_tracks_true", &f->missing, f->n_nodes, false))
    return NN_ERR;
  return NN_OK;
}

/* Checks every reference (nodes, leaves, features, targets, member sets) so
 * the generated walk cannot index out of bounds or loop. */
static nn_status check_forest(ir_graph *g, const ir_node *n, const forest *f, int64_t features) {
  int64_t sets = 0;
  for (int64_t i = 0; i < f->n_members; i++)
    sets += isnan(ir_weight_float(f->members, i));
  int64_t member_nodes = 0;
  for (int64_t i = 0; i < f->n_nodes; i++) {
    int64_t mode = ir_weight_int(f->modes, i);
    member_nodes += mode == MODE_MEMBER;
    if (mode < MODE_LEQ || mode > MODE_MEMBER)
      return diag_node(g->path, n, "node %lld has mode %lld; modes are 0 to 6", (long long)i, (long long)mode);
    if (f->feature[i] < 0 || f->feature[i] >= features)
      return diag_node(g->path, n, "node %lld reads feature %lld of %lld", (long long)i,
                       (long long)f->feature[i], (long long)features);
    for (int side = 0; side < 2; side++) {
      int64_t to = side ? f->false_id[i] : f->true_id[i];
      bool leaf = side ? f->false_leaf[i] : f->true_leaf[i];
      if (to < 0 || to >= (leaf ? f->n_leaves : f->n_nodes) || (!leaf && to <= i))
        return diag_node(g->path, n, "node %lld: its %s branch %s %lld is out of range or "
                         "points backwards", (long long)i, side ? "false" : "true",
                         leaf ? "leaf" : "node", (long long)to);
    }
  }
  if (member_nodes != sets)
    return diag_node(g->path, n, "%lld set-membership nodes but %lld NaN-terminated sets in "
                     "membership_values", (long long)member_nodes, (long long)sets);
  for (int64_t i = 0; i < f->n_leaves; i++)
    if (f->target[i] < 0 || f->target[i] >= f->n_targets)
      return diag_node(g->path, n, "leaf %lld targets %lld of %lld", (long long)i,
                       (long long)f->target[i], (long long)f->n_targets);
  for (int64_t t = 0; t < f->n_trees; t++)
    if (f->roots[t] < 0 || f->roots[t] >= f->n_nodes)
      return diag_node(g->path, n, "tree %lld's root %lld is not a node", (long long)t, (long long)f->roots[t]);
  return NN_OK;
}

static nn_status infer_tree_ensemble(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1) || check_float(g, n, 0))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (x->rank != 2)
    return diag_node(g->path, n, "the input must be [N, F]; it has rank %d", x->rank);
  forest f;
  if (read_forest(g, n, &f) || check_forest(g, n, &f, x->dims[1]))
    return NN_ERR;
  int64_t agg = ir_attr_int(n, "aggregate_function", AGG_SUM);
  int64_t post = ir_attr_int(n, "post_transform", POST_NONE);
  if (agg < AGG_AVERAGE || agg > AGG_MAX)
    return diag_node(g->path, n, "aggregate_function %lld is not one of 0-3", (long long)agg);
  if (post < POST_NONE || post > POST_SOFTMAX_ZERO)
    return diag_node(g->path, n, "post_transform %lld is not supported (none, softmax, "
                     "logistic, softmax_zero are; probit is not)", (long long)post);
  int64_t dims[2] = {x->dims[0], f.n_targets};
  ir_set_shape(n->outputs[0], x->dtype, 2, dims);
  return NN_OK;
}

static void emit_tree_ensemble(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  ir_dtype t = x->dtype;
  const char *T = ir_dtype_ctype(t);
  forest f;
  if (read_forest(e->g, n, &f) || ir_numel(n->outputs[0]) == 0)
    return;
  /* Node tables: a branch >= 0 is a node, ~k a leaf k. Member sets are runs
   * of set_values, [set_start[i], set_start[i + 1]) for node i. */
  int64_t *next = xmalloc(sizeof *next * (size_t)(2 * f.n_nodes + 1));
  int64_t *modes = xmalloc(sizeof *modes * (size_t)(f.n_nodes + 1));
  int64_t *set_start = xmalloc(sizeof *set_start * (size_t)(f.n_nodes + 2));
  double *splits = xmalloc(sizeof *splits * (size_t)(f.n_nodes + 1));
  double *members = xmalloc(sizeof *members * (size_t)(f.n_members + 1));
  double *weights = xmalloc(sizeof *weights * (size_t)(f.n_leaves + 1));
  int64_t *roots = xmalloc(sizeof *roots * (size_t)(f.n_trees + 1));
  int64_t n_members = 0, pos = 0;
  for (int64_t i = 0; i < f.n_nodes; i++) {
    next[2 * i] = f.true_leaf[i] ? ~f.true_id[i] : f.true_id[i];
    next[2 * i + 1] = f.false_leaf[i] ? ~f.false_id[i] : f.false_id[i];
    modes[i] = ir_weight_int(f.modes, i) | (f.missing && f.missing[i] ? 8 : 0);
    splits[i] = ir_weight_float(f.splits, i);
    set_start[i] = n_members;
    if ((modes[i] & 7) == MODE_MEMBER)
      for (; pos < f.n_members && !isnan(ir_weight_float(f.members, pos)); pos++)
        members[n_members++] = ir_weight_float(f.members, pos);
    if ((modes[i] & 7) == MODE_MEMBER)
      pos++; /* the NaN that ends the set */
  }
  set_start[f.n_nodes] = n_members;
  for (int64_t i = 0; i < f.n_leaves; i++)
    weights[i] = ir_weight_float(f.weights, i);
  for (int64_t k = 0; k < f.n_trees; k++) { /* a root whose branches meet at one leaf is that leaf */
    int64_t r = f.roots[k];
    roots[k] = f.true_leaf[r] && f.false_leaf[r] && f.true_id[r] == f.false_id[r] ? ~r : r;
  }
  emit_int_table(e, "int64_t", "next", next, 2 * f.n_nodes);
  emit_int_table(e, "unsigned char", "mode", modes, f.n_nodes);
  emit_int_table(e, "int64_t", "feature", f.feature, f.n_nodes);
  emit_real_table(e, t, "split", splits, f.n_nodes);
  emit_int_table(e, "int64_t", "set_start", set_start, f.n_nodes + 1);
  emit_real_table(e, t, "set_values", members, n_members);
  emit_real_table(e, t, "leaf_weight", weights, f.n_leaves);
  emit_int_table(e, "int64_t", "leaf_target", f.target, f.n_leaves);
  emit_int_table(e, "int64_t", "root", roots, f.n_trees);
  free(next), free(modes), free(set_start), free(splits), free(members), free(weights), free(roots);

  int64_t agg = ir_attr_int(n, "aggregate_function", AGG_SUM);
  int64_t post = ir_attr_int(n, "post_transform", POST_NONE);
  int64_t nt = f.n_targets, nf = x->dims[1];
  emit_parallel_for(e, "b", x->dims[0], f.n_trees * 16);
  emit_line(e, "const %s *row = in0 + b * %lld;", T, (long long)nf);
  emit_line(e, "%s *y = out0 + b * %lld;", T, (long long)nt);
  bool minmax = agg == AGG_MIN || agg == AGG_MAX;
  if (minmax) /* a target no leaf reaches stays 0, as in onnxruntime */
    emit_line(e, "unsigned char seen[%lld] = {0};", (long long)nt);
  emit_for(e, "k", nt);
  emit_line(e, "y[k] = 0;");
  emit_close(e);
  emit_for(e, "tree", f.n_trees);
  emit_line(e, "int64_t at = root[tree];");
  emit_open(e, "while (at >= 0)");
  emit_line(e, "const %s v = row[feature[at]], s = split[at];", T);
  emit_line(e, "int go;");
  emit_open(e, "switch (mode[at] & 7)");
  emit_line(e, "case %d: go = v <= s; break;", MODE_LEQ);
  emit_line(e, "case %d: go = v < s; break;", MODE_LT);
  emit_line(e, "case %d: go = v >= s; break;", MODE_GTE);
  emit_line(e, "case %d: go = v > s; break;", MODE_GT);
  emit_line(e, "case %d: go = v == s; break;", MODE_EQ);
  emit_line(e, "case %d: go = v != s; break;", MODE_NEQ);
  emit_line(e, "default:");
  emit_line(e, "  go = 0;");
  emit_line(e, "  for (int64_t m = set_start[at]; m < set_start[at + 1]; m++)");
  emit_line(e, "    go |= v == set_values[m];");
  emit_close(e);
  emit_line(e, "if (v != v && (mode[at] & 8)) /* a missing value takes the true branch */");
  emit_line(e, "  go = 1;");
  emit_line(e, "at = next[2 * at + !go];");
  emit_close(e);
  emit_line(e, "const %s w = leaf_weight[~at];", T);
  emit_line(e, "%s *acc = &y[leaf_target[~at]];", T);
  if (minmax) {
    emit_line(e, "*acc = !seen[leaf_target[~at]] || w %s *acc ? w : *acc;", agg == AGG_MIN ? "<" : ">");
    emit_line(e, "seen[leaf_target[~at]] = 1;");
  }
  if (agg == AGG_AVERAGE)
    emit_line(e, "*acc += w / %s;", emit_literal(e, t, (double)f.n_trees));
  if (agg == AGG_SUM)
    emit_line(e, "*acc += w;");
  emit_close(e);
  const char *exp_ = math_fn(e, "exp", t);
  if (post == POST_LOGISTIC) {
    emit_for(e, "k", nt);
    emit_line(e, "y[k] = 1 / (1 + %s(-y[k]));", exp_);
    emit_close(e);
  } else if (post == POST_SOFTMAX || post == POST_SOFTMAX_ZERO) {
    bool zero = post == POST_SOFTMAX_ZERO; /* zeros stay zero and take no share */
    emit_line(e, "%s hi = %s, sum = 0;", T, emit_lowest(e, t));
    emit_for(e, "k", nt);
    emit_line(e, "if (%sy[k] > hi) hi = y[k];", zero ? "y[k] != 0 && " : "");
    emit_close(e);
    emit_for(e, "k", nt);
    emit_line(e, "y[k] = %s%s(y[k] - hi);", zero ? "y[k] == 0 ? 0 : " : "", exp_);
    emit_line(e, "sum += y[k];");
    emit_close(e);
    emit_for(e, "k", nt);
    emit_line(e, "y[k] = sum > 0 ? y[k] / sum : 0;");
    emit_close(e);
  }
  emit_close(e);
}

/* ---- TfIdfVectorizer ---- */

/* The pool's n-grams of one length, in the order their output slots are
 * numbered: gram j of length len is items[j*len .. j*len+len), counted
 * into output column slot[j]. */
typedef struct ngrams {
  int len, count;
  int64_t *items, *slot;
} ngrams;

typedef struct tfidf {
  int n_lengths; /* ngrams of lengths 1..n_lengths that the pool holds */
  ngrams by_len[16];
  int64_t out_size;
} tfidf;

#define TFIDF_MAX_GRAM 16

static nn_status read_tfidf(ir_graph *g, const ir_node *n, tfidf *p) {
  memset(p, 0, sizeof *p);
  const int64_t *counts, *indexes, *pool;
  int64_t n_counts = ir_attr_ints(n, "ngram_counts", &counts);
  int64_t n_indexes = ir_attr_ints(n, "ngram_indexes", &indexes);
  int64_t n_pool = ir_attr_ints(n, "pool_int64s", &pool);
  int64_t lo = ir_attr_int(n, "min_gram_length", 0), hi = ir_attr_int(n, "max_gram_length", 0);
  const ir_attr *strings = ir_attr_find(n, "pool_strings");
  if (strings && strings->n > 0)
    return diag_node(g->path, n, "pool_strings: string inputs are not supported (pool_int64s is)");
  if (n_indexes == 0)
    return diag_node(g->path, n, "ngram_indexes is required");
  if (lo < 1 || hi < lo || hi > TFIDF_MAX_GRAM)
    return diag_node(g->path, n, "gram lengths [%lld, %lld]: want 1 <= min <= max <= %d",
                     (long long)lo, (long long)hi, TFIDF_MAX_GRAM);
  if (n_counts > TFIDF_MAX_GRAM)
    return diag_node(g->path, n, "ngram_counts has %lld entries; at most %d gram lengths are "
                     "supported", (long long)n_counts, TFIDF_MAX_GRAM);
  for (int64_t i = 0; i < n_indexes; i++)
    if (indexes[i] < 0)
      return diag_node(g->path, n, "ngram_indexes[%lld] is negative", (long long)i);
    else if (indexes[i] + 1 > p->out_size)
      p->out_size = indexes[i] + 1;
  int64_t id = 0; /* the pool's n-grams are numbered across all lengths */
  for (int64_t c = 0; c < n_counts; c++) {
    int len = (int)c + 1;
    int64_t begin = counts[c], end = c + 1 < n_counts ? counts[c + 1] : n_pool;
    if (begin < 0 || end < begin || end > n_pool)
      return diag_node(g->path, n, "ngram_counts[%lld] = %lld is out of order or past the pool",
                       (long long)c, (long long)begin);
    int64_t grams = (end - begin) / len;
    if (len < lo || len > hi) { /* outside the counted lengths: numbered, never counted */
      id += grams;
      continue;
    }
    ngrams *ng = &p->by_len[len - 1];
    ng->len = len;
    ng->items = mem_alloc(g->mem, sizeof *ng->items * (size_t)(grams * len + 1));
    ng->slot = mem_alloc(g->mem, sizeof *ng->slot * (size_t)(grams + 1));
    for (int64_t j = 0; j < grams; j++, id++) {
      if (id >= n_indexes)
        return diag_node(g->path, n, "the pool has more n-grams than ngram_indexes (%lld)",
                         (long long)n_indexes);
      const int64_t *gram = pool + begin + j * len;
      for (int k = 0; k < ng->count; k++) /* onnxruntime rejects them too */
        if (memcmp(ng->items + (int64_t)k * len, gram, sizeof *gram * (size_t)len) == 0)
          return diag_node(g->path, n, "the pool holds a %d-gram twice (n-gram %lld repeats "
                           "n-gram %lld)", len, (long long)id, (long long)(id - j + k));
      memcpy(ng->items + (int64_t)ng->count * len, gram, sizeof *gram * (size_t)len);
      ng->slot[ng->count++] = indexes[id];
    }
    if (ng->count)
      p->n_lengths = len;
  }
  return NN_OK;
}

static nn_status infer_tfidf(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (x->dtype != IR_INT32 && x->dtype != IR_INT64)
    return diag_node(g->path, n, "input has dtype %s; int32 or int64 is required (strings are "
                     "not supported)", ir_dtype_name(x->dtype));
  if (x->rank != 1 && x->rank != 2)
    return diag_node(g->path, n, "input must be [C] or [N, C]; it has rank %d", x->rank);
  const char *mode = ir_attr_string(n, "mode", "");
  if (strcmp(mode, "TF") && strcmp(mode, "IDF") && strcmp(mode, "TFIDF"))
    return diag_node(g->path, n, "mode '%s' is not TF, IDF or TFIDF", mode);
  tfidf p;
  if (read_tfidf(g, n, &p))
    return NN_ERR;
  const ir_attr *wa = ir_attr_find(n, "weights");
  const int64_t *indexes;
  int64_t n_w = wa && wa->type == IR_ATTR_FLOATS ? wa->n : 0;
  int64_t n_indexes = ir_attr_ints(n, "ngram_indexes", &indexes);
  /* Weights scale output columns; onnxruntime wants one per n-gram too. */
  if (n_w && (n_w != n_indexes || n_w < p.out_size))
    return diag_node(g->path, n, "weights has %lld values; it needs one per n-gram (%lld) and "
                     "per output column (%lld)", (long long)n_w, (long long)n_indexes,
                     (long long)p.out_size);
  int64_t dims[2] = {x->rank == 2 ? x->dims[0] : p.out_size, p.out_size};
  ir_set_shape(n->outputs[0], IR_FLOAT, x->rank, dims);
  return NN_OK;
}

static void emit_tfidf(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0];
  tfidf p;
  if (read_tfidf(e->g, n, &p) || ir_numel(n->outputs[0]) == 0)
    return;
  int64_t rows = x->rank == 2 ? x->dims[0] : 1, c = x->dims[x->rank - 1];
  int64_t lo = ir_attr_int(n, "min_gram_length", 1), hi = ir_attr_int(n, "max_gram_length", 1);
  int64_t skips = ir_attr_int(n, "max_skip_count", 0);
  const char *mode = ir_attr_string(n, "mode", "TF");
  for (int len = 1; len <= p.n_lengths; len++) {
    ngrams *ng = &p.by_len[len - 1];
    if (!ng->count)
      continue;
    emit_int_table(e, "int64_t", FMT("gram%d", len), ng->items, (int64_t)ng->count * len);
    emit_int_table(e, "int64_t", FMT("slot%d", len), ng->slot, ng->count);
  }
  emit_line(e, "memset(out0, 0, sizeof(float) * %lld);", (long long)ir_numel(n->outputs[0]));
  emit_for(e, "r", rows);
  emit_line(e, "const %s *x = in0 + r * %lld;", ir_dtype_ctype(x->dtype), (long long)c);
  emit_line(e, "float *y = out0 + r * %lld;", (long long)p.out_size);
  /* Every skip distance d sees every start; unigrams count once, at d = 1. */
  emit_for(e, "d1", skips + 1);
  emit_line(e, "const int64_t d = d1 + 1;");
  emit_for(e, "s", c);
  for (int len = (int)lo; len <= p.n_lengths && len <= hi; len++) {
    ngrams *ng = &p.by_len[len - 1];
    if (!ng->count)
      continue;
    emit_open(e, "if (%s s + %lld * d < %lld)", len == 1 ? "d == 1 &&" : "", (long long)(len - 1),
              (long long)c);
    emit_for(e, "k", ng->count);
    emit_line(e, "int hit = 1;");
    emit_for(e, "i", len);
    emit_line(e, "hit &= x[s + i * d] == gram%d[k * %d + i];", len, len);
    emit_close(e);
    emit_line(e, "y[slot%d[k]] += hit;", len);
    emit_close(e);
    emit_close(e);
  }
  emit_close(e);
  emit_close(e);
  const ir_attr *wa = ir_attr_find(n, "weights");
  bool weighted = wa && wa->type == IR_ATTR_FLOATS && wa->n > 0;
  if (strcmp(mode, "TF") != 0) {
    bool idf = strcmp(mode, "IDF") == 0;
    if (weighted) {
      double *w = xmalloc(sizeof *w * (size_t)p.out_size);
      for (int64_t i = 0; i < p.out_size; i++)
        w[i] = wa->floats[i];
      emit_real_table(e, IR_FLOAT, "weight", w, p.out_size);
      free(w);
    }
    if (idf || weighted) {
      emit_for(e, "j", p.out_size);
      if (idf)
        emit_line(e, "y[j] = y[j] > 0 ? %s : 0;", weighted ? "weight[j]" : "1");
      else
        emit_line(e, "y[j] *= weight[j];");
      emit_close(e);
    }
  }
  emit_close(e);
}

const op_def op_family_ml[] = {
    {"Binarizer", "ai.onnx.ml", infer_binarizer, NULL, emit_binarizer, OP_ELEMENTWISE},
    {"ArrayFeatureExtractor", "ai.onnx.ml", infer_afe, NULL, emit_afe, 0},
    {"TreeEnsemble", "ai.onnx.ml", infer_tree_ensemble, NULL, emit_tree_ensemble, 0},
    {"TfIdfVectorizer", "", infer_tfidf, NULL, emit_tfidf, 0},
    {NULL},
};
