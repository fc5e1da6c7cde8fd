/* Small builders of IR for the layer lowerings: nodes with their attributes,
 * weights, constants, and the shape checks every layer shares. Names follow
 * one scheme: a layer's output is the layer's name, everything else it makes
 * is LAYER.something (a '.' cannot occur in a name from the file). */
#include <math.h>
#include <string.h>

#include "nn_init.h"
#include "nn_lower.h"

#define MAX_ATTRS 8
/* Most elements of one tensor: far beyond any real model, far below
 * int64 overflow in the passes' byte arithmetic. */
#define MAX_ELEMS ((int64_t)1 << 40)

ir_node *nb_node(nn_layer *c, const char *op, int n_in, int n_out, const char *suffix) {
  ir_graph *g = c->L->g;
  ir_node *n = ir_node_new(g, op, n_in, n_out);
  n->name = mem_printf(g->mem, "%s.%s%d", c->name, suffix, c->n_tmp++);
  n->opset = NN_OPSET;
  n->attrs = mem_alloc(g->mem, sizeof *n->attrs * MAX_ATTRS);
  n->outputs[0] = ir_tensor_new(g, n->name);
  c->last = n;
  return n;
}

ir_tensor *nb_op(nn_layer *c, const char *op, ir_tensor *a, ir_tensor *b) {
  char suffix[32];
  size_t k = 0;
  for (; op[k] && k < sizeof suffix - 1; k++)
    suffix[k] = (char)(op[k] >= 'A' && op[k] <= 'Z' ? op[k] - 'A' + 'a' : op[k]);
  suffix[k] = '\0';
  ir_node *n = nb_node(c, op, b ? 2 : 1, 1, suffix);
  n->inputs[0] = a;
  if (b)
    n->inputs[1] = b;
  return n->outputs[0];
}

/* A new attribute on the node made last. */
static ir_attr *new_attr(nn_layer *c, const char *name, ir_attr_type type) {
  ir_node *n = c->last;
  NN_ASSERT(n && n->n_attrs < MAX_ATTRS);
  ir_attr *a = &n->attrs[n->n_attrs++];
  a->name = (char *)name;
  a->type = type;
  return a;
}

void nb_int(nn_layer *c, const char *name, int64_t v) { new_attr(c, name, IR_ATTR_INT)->i = v; }
void nb_float(nn_layer *c, const char *name, double v) { new_attr(c, name, IR_ATTR_FLOAT)->f = v; }
void nb_string(nn_layer *c, const char *name, const char *v) {
  new_attr(c, name, IR_ATTR_STRING)->s = (char *)v;
}

void nb_ints(nn_layer *c, const char *name, const int64_t *v, int k) {
  ir_attr *a = new_attr(c, name, IR_ATTR_INTS);
  a->n = k;
  a->ints = mem_alloc(c->L->mem, sizeof *a->ints * (size_t)(k + 1));
  memcpy(a->ints, v, sizeof *a->ints * (size_t)k);
}

static int64_t numel_capped(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int d = 0; d < rank; d++) {
    if (dims[d] == 0)
      return 0;
    if (n > MAX_ELEMS / dims[d])
      return INT64_MAX;
    n *= dims[d];
  }
  return n;
}


ir_tensor *nb_weight(nn_layer *c, const char *suffix, int rank, const int64_t *dims) {
  nn_lower *L = c->L;
  ir_tensor *t = ir_tensor_new(L->g, mem_printf(L->mem, "%s.%s", c->name, suffix));
  ir_set_shape(t, IR_FLOAT, rank, dims);
  t->kind = IR_WEIGHT;
  int64_t n = numel_capped(rank, dims);
  if (n > L->max_weights - L->weights) {
    if (!L->over_limit)
      nn_error(L->src, c->loc, "%s '%s' takes the model past %lld weights, nncc's limit",
               c->def->fn.name, c->name, (long long)L->max_weights);
    L->over_limit = true;
    return t; /* no data: the graph is never used after an error */
  }
  L->weights += n;
  ir_make_weight(L->g, t);
  return t;
}

/* The layer's `init` argument, else the train block's (NULL: xavier_uniform). */
static const nn_bound *init_of(nn_layer *c) {
  if (nn_param_index(&c->def->fn, "init") >= 0 && nn_arg_fn(&c->a, "init"))
    return nn_arg_fn(&c->a, "init");
  return c->L->init;
}

bool nb_init_is_torch(nn_layer *c) { return nn_init_kind_of(init_of(c)) == NN_INIT_TORCH; }

ir_tensor *nb_learned_as(nn_layer *c, const char *suffix, int rank, const int64_t *dims,
                         nn_init_role role, int64_t fan_in, int64_t fan_out) {
  ir_tensor *t = nb_weight(c, suffix, rank, dims);
  /* Inside a model call the stream is the called model's own name for the
   * weight, so the copy holds the same values. */
  const char *stream = c->origin ? mem_printf(c->L->mem, "%s.%s", c->origin, suffix) : t->name;
  if (t->data)
    nn_init_fill(t->data, ir_numel(t), init_of(c), role, fan_in, fan_out, c->L->seed, stream);
  t->learned = true; /* the trainer's params (compiler/autodiff.h) */
  c->L->g->learned_known = true;
  return t;
}

ir_tensor *nb_learned(nn_layer *c, const char *suffix, int rank, const int64_t *dims,
                      int64_t fan_in, int64_t fan_out) {
  return nb_learned_as(c, suffix, rank, dims, NN_ROLE_WEIGHT, fan_in, fan_out);
}

ir_tensor *nb_bias(nn_layer *c, const char *suffix, int rank, const int64_t *dims,
                   int64_t fan_in) {
  return nb_learned_as(c, suffix, rank, dims, NN_ROLE_BIAS, fan_in, 0);
}

ir_tensor *nb_filled(nn_layer *c, const char *suffix, int rank, const int64_t *dims, float v) {
  ir_tensor *t = nb_weight(c, suffix, rank, dims);
  float *p = t->data;
  for (int64_t i = 0; p && i < ir_numel(t); i++)
    p[i] = v;
  /* Filled tensors are biases, scales and slopes, all learned; scalars are
   * constants, and batch-norm statistics say they are not. */
  t->learned = rank > 0;
  c->L->g->learned_known = true;
  return t;
}

ir_tensor *nb_scalar(nn_layer *c, const char *suffix, float v) {
  return nb_filled(c, suffix, 0, NULL, v);
}

ir_tensor *nb_i64s(nn_layer *c, const char *suffix, const int64_t *v, int n) {
  nn_lower *L = c->L;
  ir_tensor *t = ir_tensor_new(L->g, mem_printf(L->mem, "%s.%s", c->name, suffix));
  int64_t dims[1] = {n};
  ir_set_shape(t, IR_INT64, 1, dims);
  memcpy(ir_make_weight(L->g, t), v, sizeof *v * (size_t)n);
  return t;
}

ir_tensor *nb_f32s(nn_layer *c, const char *suffix, const float *v, int n) {
  int64_t dims[1] = {n};
  ir_tensor *t = nb_weight(c, suffix, 1, dims);
  if (t->data)
    memcpy(t->data, v, sizeof *v * (size_t)n);
  return t;
}

const char *nn_shape_str(mem_arena *mem, const nn_shape *s) {
  char *p = "[";
  for (int d = 0; d < s->rank; d++)
    p = mem_printf(mem, "%s%s%lld", p, d ? ", " : "", (long long)s->d[d]);
  return mem_printf(mem, "%s]", p);
}

bool nn_shape_eq(const nn_shape *a, const nn_shape *b) {
  if (a->rank != b->rank)
    return false;
  for (int d = 0; d < a->rank; d++)
    if (a->d[d] != b->d[d])
      return false;
  return true;
}

int64_t nn_shape_numel(const nn_shape *s) { return numel_capped(s->rank, s->d); }

#define SAT ((int64_t)1 << 61)

int64_t nn_sat_mul(int64_t a, int64_t b) { return b && a > SAT / b ? SAT : a * b; }
int64_t nn_sat_add(int64_t a, int64_t b) { return a + b > SAT ? SAT : a + b; }

nn_status nn_set_out(nn_layer *c, ir_tensor *t, const nn_shape *s) {
  if (nn_shape_numel(s) == INT64_MAX) {
    nn_error(c->L->src, c->loc, "%s '%s' would make %s, over nncc's limit of 2^40 values",
             c->def->fn.name, c->name, nn_shape_str(c->L->mem, s));
    return NN_ERR;
  }
  c->out.t = t;
  c->out.shape = *s;
  c->out.dtype = IR_FLOAT;
  return NN_OK;
}

/* A shape of `rank` axes holding n values, for a hint: [1, s, s] when n is
 * a square (rank 3), [s, s] for a sequence, [1, n] for a 1-D signal...
 * Empty when none is natural. */
static const char *reshape_hint(mem_arena *mem, int64_t n, int rank, bool sequence) {
  int sp = sequence ? 2 : rank - 1;
  int64_t side = (int64_t)llround(pow((double)n, 1.0 / sp));
  int64_t all = 1;
  for (int k = 0; k < sp; k++)
    all *= side;
  if (rank == 2 && (!sequence || all != n))
    return mem_printf(mem, "[1, %lld]", (long long)n);
  if (sp < 1 || sp > 3 || all != n)
    return "";
  if (sp == 2)
    return mem_printf(mem, "[%s%lld, %lld]", sequence ? "" : "1, ", (long long)side, (long long)side);
  return mem_printf(mem, "[1, %lld, %lld, %lld]", (long long)side, (long long)side, (long long)side);
}

nn_status nn_want_rank(nn_layer *c, int k, int rank, const char *layout) {
  nn_lower *L = c->L;
  const nn_shape *got = &c->in[k].shape;
  nn_error(L->src, c->in_loc[k], "%s '%s' wants a %s input; '%s' is %s", c->def->fn.name, c->name,
           layout, c->in_name[k], nn_shape_str(L->mem, got));
  if (got->rank == 1 && rank > 1) {
    const char *h = reshape_hint(L->mem, got->d[0], rank, strncmp(layout, "[steps", 6) == 0);
    if (*h)
      nn_hint(L->src, "reshape it first, e.g. %s2 = reshape(%s, %s)", c->in_name[k],
              c->in_name[k], h);
  } else if (got->rank > 1 && rank == 1) {
    nn_hint(L->src, "flatten it first: %s_flat = flatten(%s)", c->in_name[k], c->in_name[k]);
  }
  return NN_ERR;
}
