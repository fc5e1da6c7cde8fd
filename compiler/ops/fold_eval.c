/* Compile-time evaluation of the elementwise ops that shape arithmetic is
 * written with (Shape -> Equal -> Where -> Concat -> Expand, Max of two
 * shapes, Mod of a length...), so such chains become weights before the op
 * that needs them at compile time. One evaluator serves every op: integer
 * and bool tensors are computed exactly in 64 bits, float and double in
 * double and rounded once to the output type (exact for + - * / and sqrt,
 * which are correctly rounded either way); other dtypes are left to codegen. */
#include "common.h"

typedef enum {
  E_ADD, E_SUB, E_MUL, E_DIV, E_MOD, E_MAX, E_MIN, E_EQ, E_LT, E_GT, E_LE, E_GE,
  E_AND, E_OR, E_XOR, E_NEG, E_ABS, E_SQRT, E_NOT, E_WHERE, E_CEIL, E_RELU,
} eval_code;

/* Ops from E_NEG on take one input; Where selects; the others fold left to
 * right over all their inputs (Max and Min take any number). */
static const char *const eval_names[] = {
    "Add", "Sub", "Mul", "Div", "Mod", "Max", "Min", "Equal", "Less", "Greater", "LessOrEqual",
    "GreaterOrEqual", "And", "Or", "Xor", "Neg", "Abs", "Sqrt", "Not", "Where", "Ceil", "Relu",
};

/* One operand: in i for the exact integer domain, else in f. */
typedef struct num {
  int64_t i;
  double f;
} num;

static bool exact_integer(ir_dtype t) {
  return t == IR_BOOL || t == IR_INT8 || t == IR_UINT8 || t == IR_INT16 || t == IR_UINT16 ||
         t == IR_INT32 || t == IR_UINT32 || t == IR_INT64;
}

/* Flat index into input t for element i of the broadcast output y. */
static int64_t bcast_index(const ir_tensor *t, const ir_tensor *y, int64_t i) {
  int64_t off = 0, stride = 1;
  for (int d = y->rank - 1, k = t->rank - 1; d >= 0; d--, k--) {
    int64_t idx = i % y->dims[d];
    i /= y->dims[d];
    if (k >= 0) {
      if (t->dims[k] != 1)
        off += idx * stride;
      stride *= t->dims[k];
    }
  }
  return off;
}

/* Wrapping arithmetic: signed overflow is undefined in C, so go through uint64. */
static int64_t wrap(uint64_t v) { return (int64_t)v; }

static int64_t int_div(int64_t a, int64_t b) {
  if (b == 0)
    return 0; /* as the emitted code does */
  if (b == -1)
    return wrap(0 - (uint64_t)a);
  return a / b;
}

/* fmod=0 takes the divisor's sign (Python's %), fmod=1 the dividend's (C's %). */
static int64_t int_mod(int64_t a, int64_t b, bool c_style) {
  if (b == 0 || b == -1)
    return 0;
  int64_t r = a % b;
  if (!c_style && r != 0 && ((r < 0) != (b < 0)))
    r += b;
  return r;
}

/* b is 0 for the unary ops. */
static int64_t eval_int(eval_code op, const ir_node *n, int64_t a, int64_t b) {
  switch (op) {
  case E_ADD: return wrap((uint64_t)a + (uint64_t)b);
  case E_SUB: return wrap((uint64_t)a - (uint64_t)b);
  case E_MUL: return wrap((uint64_t)a * (uint64_t)b);
  case E_DIV: return int_div(a, b);
  case E_MOD: return int_mod(a, b, ir_attr_int(n, "fmod", 0) != 0);
  case E_MAX: return a > b ? a : b;
  case E_MIN: return a < b ? a : b;
  case E_EQ: return a == b;
  case E_LT: return a < b;
  case E_GT: return a > b;
  case E_LE: return a <= b;
  case E_GE: return a >= b;
  case E_AND: return a && b;
  case E_OR: return a || b;
  case E_XOR: return (a != 0) != (b != 0);
  case E_NEG: return wrap(0 - (uint64_t)a);
  case E_ABS: return a < 0 ? wrap(0 - (uint64_t)a) : a;
  case E_NOT: return !a;
  case E_RELU: return a > 0 ? a : 0;
  case E_SQRT: case E_WHERE: case E_CEIL: break;
  }
  NN_BUG("eval_int: no integer rule");
}

/* Float rules match the emitters' C expressions, NaN handling included. */
static double eval_float(eval_code op, const ir_node *n, double a, double b) {
  switch (op) {
  case E_ADD: return a + b;
  case E_SUB: return a - b;
  case E_MUL: return a * b;
  case E_DIV: return a / b;
  case E_MOD: return ir_attr_int(n, "fmod", 0) ? fmod(a, b) : b == 0 ? NAN : a - b * floor(a / b);
  case E_MAX: return (b > a || isnan(b)) ? b : a;
  case E_MIN: return (b < a || isnan(b)) ? b : a;
  case E_EQ: return a == b;
  case E_LT: return a < b;
  case E_GT: return a > b;
  case E_LE: return a <= b;
  case E_GE: return a >= b;
  case E_NEG: return -a;
  case E_ABS: return fabs(a);
  case E_SQRT: return sqrt(a);
  case E_CEIL: return ceil(a);
  case E_RELU: return a > 0 ? a : 0;
  case E_AND: case E_OR: case E_XOR: case E_NOT: case E_WHERE: break;
  }
  NN_BUG("eval_float: no float rule");
}

static bool find_op(const char *name, eval_code *code) {
  for (size_t k = 0; k < sizeof eval_names / sizeof eval_names[0]; k++)
    if (!strcmp(eval_names[k], name)) {
      *code = (eval_code)k;
      return true;
    }
  return false;
}

static num read_num(const ir_tensor *t, const ir_tensor *y, int64_t i, bool integer) {
  num v = {0, 0};
  int64_t at = bcast_index(t, y, i);
  if (integer)
    v.i = ir_weight_int(t, at);
  else
    v.f = ir_weight_float(t, at);
  return v;
}

static void eval_element(eval_code op, const ir_node *n, ir_tensor *y, int64_t i, bool integer) {
  if (op == E_WHERE) {
    bool c = ir_weight_int(n->inputs[0], bcast_index(n->inputs[0], y, i)) != 0;
    const ir_tensor *src = n->inputs[c ? 1 : 2];
    int64_t at = bcast_index(src, y, i);
    size_t size = ir_dtype_size(y->dtype);
    memcpy((char *)y->data + (size_t)i * size, (const char *)src->data + (size_t)at * size, size);
    return;
  }
  num acc = read_num(n->inputs[0], y, i, integer), b = {0, 0};
  int k = op >= E_NEG ? 0 : 1;
  for (; k < n->n_inputs; k++) {
    if (k > 0)
      b = read_num(n->inputs[k], y, i, integer);
    if (integer)
      acc.i = eval_int(op, n, acc.i, b.i);
    else
      acc.f = eval_float(op, n, acc.f, b.f);
  }
  if (integer)
    store_int(y->dtype, y->data, i, acc.i, false);
  else
    store_double(y->dtype, y->data, i, acc.f);
}

nn_status fold_elementwise(ir_graph *g, ir_node *n) {
  eval_code op;
  ir_tensor *y = n->outputs[0];
  if (!find_op(n->op_type, &op))
    NN_BUG("fold_elementwise: op has no evaluation rule");
  if (n->n_outputs != 1)
    return NN_ERR;
  for (int k = 0; k < n->n_inputs; k++)
    if (!n->inputs[k])
      return NN_ERR;
  /* The dtype the op computes in: its data input's. */
  ir_dtype t = n->inputs[op == E_WHERE ? 1 : 0]->dtype;
  bool integer = exact_integer(t);
  if (!integer && t != IR_FLOAT && t != IR_DOUBLE)
    return NN_ERR;
  if (op == E_SQRT && integer)
    return NN_ERR;
  ir_make_weight(g, y);
  for (int64_t i = 0; i < ir_numel(y); i++)
    eval_element(op, n, y, i, integer);
  return NN_OK;
}
