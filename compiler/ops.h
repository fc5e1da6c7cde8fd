/* The op registry: one row per operator, each in the file of its family
 * (compiler/ops/<family>.c). A row carries everything about the op: shape
 * rule, constant folder and C emitter, side by side.
 * To add an op, copy compiler/ops/TEMPLATE.c's pattern. */
#ifndef NNCC_OPS_H
#define NNCC_OPS_H

#include "diag.h"
#include "ir.h"

struct emit_ctx;

enum {
  OP_FOLD_ON_SHAPES = 1 << 0, /* fold needs only the input shapes (Shape, Size) */
  OP_ELEMENTWISE = 1 << 1,    /* output element i depends only on inputs' element i */
  OP_UPDATES_STATE = 1 << 2,  /* writes its IR_STATE inputs in place (training); kept by dce */
  OP_TAKES_SEQUENCES = 1 << 3, /* reads sequence/optional values (compiler/ops/sequence.c) */
  OP_STATS_STAY_FLOAT = 1 << 4, /* 16-bit float X: only output 0 goes back to 16 bits */
};

struct ad_ctx;

typedef struct op_def {
  const char *name;   /* ONNX op_type */
  const char *domain; /* "" is the default ONNX domain */
  /* Checks attributes and input shapes, sets every output's dtype and shape.
   * Reports each problem with diag_node and returns NN_ERR. */
  nn_status (*infer)(ir_graph *g, ir_node *n);
  /* Optional: computes the outputs at compile time (ir_make_weight on each)
   * when every input is a weight (or, with OP_FOLD_ON_SHAPES, always).
   * Returns NN_OK when folded, NN_ERR to leave the node for codegen (no message). */
  nn_status (*fold)(ir_graph *g, ir_node *n);
  /* Writes the body of the node's C function; inputs are named in0.., outputs out0.. */
  void (*emit)(struct emit_ctx *e, const ir_node *n);
  unsigned flags;
  /* Bit k: input k must be known at compile time (a shape, axes, pads...).
   * `nncc run` and --freeze compile such graph inputs in from their data. */
  unsigned const_inputs;
  /* Optional: the gradient rule (compiler/autodiff.h). Reads the gradients of
   * n's outputs and gives gradients to the inputs that need one. */
  nn_status (*grad)(struct ad_ctx *ad, const ir_node *n);
} op_def;

#define OP_CONST(k) (1u << (k))

/* Each family file defines one table, terminated by a row with a NULL name. */
#define OP_FAMILIES(X)                                                         \
  X(elementwise)                                                               \
  X(logic)                                                                     \
  X(activation)                                                                \
  X(gemm)                                                                      \
  X(conv)                                                                      \
  X(pool)                                                                      \
  X(normalization)                                                             \
  X(layernorm)                                                                 \
  X(einsum)                                                                    \
  X(linalg)                                                                    \
  X(reduction)                                                                 \
  X(shape)                                                                     \
  X(movement)                                                                  \
  X(resize)                                                                    \
  X(loss)                                                                      \
  X(attention)                                                                 \
  X(select)                                                                    \
  X(indexing)                                                                  \
  X(recurrent)                                                                 \
  X(quantize)                                                                  \
  X(qlinear)                                                                   \
  X(sample)                                                                    \
  X(signal)                                                                    \
  X(roi)                                                                       \
  X(conv_grad)                                                                 \
  X(pool_grad)                                                                 \
  X(norm_grad)                                                                 \
  X(dropout_train)                                                             \
  X(resize_grad)                                                               \
  X(pad_grad)                                                                  \
  X(recurrent_grad)                                                            \
  X(train)                                                                     \
  X(optimize)                                                                  \
  X(preview_training)                                                          \
  X(gradient)                                                                  \
  X(control)                                                                   \
  X(sequence)                                                                \
  X(ml)                                                                        \
  X(kv_cache)                                                                  \
  X(data_dependent) \
  X(strings)                                                                   \
  X(label_encoder)

#define X(family) extern const op_def op_family_##family[];
OP_FAMILIES(X)
#undef X

const op_def *op_find(const char *domain, const char *name);
/* Reports n when it takes or makes strings but is not an op that handles them
 * (compiler/ops/strings.c). */
nn_status check_string_use(ir_graph *g, const ir_node *n);
/* Bytes of arena room n needs for the strings it makes at run time; 0 for
 * ops that make none (pass_strings.c gives it). */
int64_t string_room(const ir_graph *g, const ir_node *n);
/* Calls fn on every registered op, in family order (for docs and `nncc ops`). */
void op_each(void (*fn)(const op_def *op, const char *family, void *arg), void *arg);

#endif
