/* The graph IR: tensors and nodes in schedule order. Every pass reads and
 * rewrites this, and nothing here knows about ONNX protobufs or C text. */
#ifndef NNCC_IR_H
#define NNCC_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "mem.h"

#define IR_MAX_RANK 8

/* Element types, numbered as ONNX's TensorProto.DataType so the frontend
 * maps them one to one. */
#define IR_DTYPES(X)                                                           \
  X(UNDEFINED, 0, "undefined", "void", 0)                                      \
  X(FLOAT, 1, "float32", "float", 4)                                           \
  X(UINT8, 2, "uint8", "uint8_t", 1)                                           \
  X(INT8, 3, "int8", "int8_t", 1)                                              \
  X(UINT16, 4, "uint16", "uint16_t", 2)                                        \
  X(INT16, 5, "int16", "int16_t", 2)                                           \
  X(INT32, 6, "int32", "int32_t", 4)                                           \
  X(INT64, 7, "int64", "int64_t", 8)                                           \
  X(STRING, 8, "string", "nn_str", 8) /* pointer to NUL-terminated UTF-8 */    \
  X(BOOL, 9, "bool", "uint8_t", 1)                                             \
  X(FLOAT16, 10, "float16", "uint16_t", 2) /* bits; computed in float32 */     \
  X(DOUBLE, 11, "float64", "double", 8)                                        \
  X(UINT32, 12, "uint32", "uint32_t", 4)                                       \
  X(UINT64, 13, "uint64", "uint64_t", 8)                                      \
  X(BFLOAT16, 16, "bfloat16", "uint16_t", 2)                                   \
  /* 8/4/2-bit types, one element per byte (compiler/narrow.h) */              \
  X(FLOAT8E4M3FN, 17, "float8e4m3fn", "uint8_t", 1)                            \
  X(FLOAT8E4M3FNUZ, 18, "float8e4m3fnuz", "uint8_t", 1)                        \
  X(FLOAT8E5M2, 19, "float8e5m2", "uint8_t", 1)                                \
  X(FLOAT8E5M2FNUZ, 20, "float8e5m2fnuz", "uint8_t", 1)                        \
  X(UINT4, 21, "uint4", "uint8_t", 1)                                          \
  X(INT4, 22, "int4", "int8_t", 1)                                             \
  X(FLOAT4E2M1, 23, "float4e2m1", "uint8_t", 1)                                \
  X(FLOAT8E8M0, 24, "float8e8m0", "uint8_t", 1)                                \
  X(UINT2, 25, "uint2", "uint8_t", 1)                                          \
  X(INT2, 26, "int2", "int8_t", 1)

typedef enum {
#define X(id, num, name, ctype, size) IR_##id = num,
  IR_DTYPES(X)
#undef X
} ir_dtype;

typedef enum {
  IR_ACTIVATION, /* produced and consumed inside the graph: lives in the arena */
  IR_INPUT,      /* supplied by the caller */
  IR_WEIGHT,     /* constant data known at compile time */
  IR_STATE,      /* mutable data in the caller's state blob at `offset` (training);
                    `data` holds its initial value, or NULL for zeros */
} ir_kind;

/* What a state tensor is for (the trainer's state table says it). */
typedef enum { IR_ROLE_NONE, IR_ROLE_PARAM, IR_ROLE_GRAD, IR_ROLE_OPTIMIZER,
               IR_ROLE_BUFFER } ir_state_role;

/* Which entry point of a training module runs a node (docs/training.md). */
typedef enum { IR_PHASE_FORWARD, IR_PHASE_BACKWARD, IR_PHASE_UPDATE } ir_phase;

typedef struct ir_tensor {
  int id;                        /* unique in its graph; indexes analysis arrays */
  char *name;
  ir_dtype dtype;
  int rank;
  int64_t dims[IR_MAX_RANK];
  char *dim_params[IR_MAX_RANK]; /* symbolic names of open dims (inputs only) */
  bool shaped;                   /* dtype and dims are known */
  ir_kind kind;
  bool is_output;                /* a graph output: written to the caller's buffer */
  /* Data-dependent shape (NonZero, Unique...): dims are upper bounds, the
   * actual dims are known at run time only; such a tensor may only be a
   * graph output. `actual_shape` (pass_bounded.c) is the int64[rank] output
   * the producing node writes them into; the data is dense in those dims. */
  bool bounded;
  struct ir_tensor *actual_shape;
  void *data;                    /* IR_WEIGHT: numel * dtype size bytes */
  int64_t offset;                /* arena offset (planner), weight blob offset (codegen)
                                    or state blob offset (state planner) */
  bool learned;                  /* a frontend says: a weight training changes */
  bool no_fold;                  /* a Gradient node differentiates through its value
                                    (pass_gradient.c): nodes reading it are not folded */
  ir_state_role role;            /* IR_STATE only */
  struct ir_seq *seq;            /* non-NULL: a sequence or optional value, not data */
} ir_tensor;

/* A sequence or optional known at compile time (compiler/ops/sequence.c):
 * a list of tensors, each of which may itself be a sequence. Ops on them
 * fold away during inference; only their tensor elements reach the C code. */
typedef struct ir_seq {
  bool optional;                 /* an optional: n is 0 (absent) or 1 */
  int n;                         /* -1: a graph input whose length is not bound yet */
  ir_tensor **items;
  ir_dtype elem_dtype;           /* element type, for empty sequences */
} ir_seq;

typedef enum { IR_ATTR_FLOAT, IR_ATTR_INT, IR_ATTR_STRING, IR_ATTR_TENSOR,
               IR_ATTR_FLOATS, IR_ATTR_INTS, IR_ATTR_STRINGS, IR_ATTR_OTHER } ir_attr_type;

typedef struct ir_attr {
  char *name;
  ir_attr_type type;
  double f;
  int64_t i;
  char *s;
  int n;            /* element count of floats/ints/strings */
  double *floats;
  int64_t *ints;
  char **strings;
  ir_tensor *t;     /* IR_ATTR_TENSOR: a weight tensor not in the graph's list */
  struct ir_graph *graph; /* IR_ATTR_OTHER holding a subgraph (If, Loop, Scan...):
                             its nodes read outer-scope tensors directly */
} ir_attr;

struct op_def;

typedef struct ir_node {
  char *name;
  char *op_type;
  char *domain;               /* "" for the default ONNX domain */
  int opset;                  /* opset version of the node's domain */
  const struct op_def *op;    /* registry row, NULL when unsupported */
  int n_inputs, n_outputs, n_attrs;
  ir_tensor **inputs;         /* NULL for an omitted optional input */
  ir_tensor **outputs;        /* NULL for an omitted optional output */
  ir_attr *attrs;
  bool dead;                  /* removed by a pass; dropped by ir_compact */
  ir_dtype narrow_to;         /* computed in float32 for 16-bit float inputs: outputs go back to this */
  ir_phase phase;             /* training modules: forward, backward or update */
} ir_node;

typedef struct ir_graph {
  mem_arena *mem;             /* owns every byte of the graph */
  const char *path;           /* source file, for error messages */
  char *name;
  ir_tensor **tensors;
  int n_tensors, cap_tensors;
  int next_id;                /* ids handed out so far */
  ir_node **nodes;            /* schedule order */
  int n_nodes, cap_nodes;
  ir_tensor **inputs, **outputs;
  int n_inputs, n_outputs;
  int64_t arena_bytes;        /* set by the planner: activations */
  int64_t state_bytes;        /* set by the state planner: IR_STATE tensors */
  bool learned_known;         /* the frontend marked every learned weight (.nn) */
  /* ONNX outputs of sequence or optional type, before they became tensor
   * outputs (compiler/ops/sequence.c): output k of the model is
   * outputs[out_first[k]..+out_count[k]), out_kind[k] 'T' a tensor (or a
   * present optional's), 'S' a sequence, 'N' an absent optional. NULL when
   * every output is a tensor. */
  int n_model_outputs;
  int *out_first, *out_count;
  char *out_kind;
  bool sequence_io;           /* some input or output was a sequence or optional */
  struct ir_graph *parent;    /* a subgraph's enclosing graph; NULL for the model */
  int64_t string_bytes;       /* longest string (with its NUL) an op makes or splits */
#define IR_STRING_BYTES_DEFAULT 256 /* --string-bytes */
} ir_graph;

const char *ir_dtype_name(ir_dtype t);
const char *ir_dtype_ctype(ir_dtype t);
size_t ir_dtype_size(ir_dtype t);
bool ir_dtype_known(int t);

ir_graph *ir_graph_new(mem_arena *mem, const char *path);
ir_tensor *ir_tensor_new(ir_graph *g, const char *name);
ir_tensor *ir_tensor_find(const ir_graph *g, const char *name);
ir_node *ir_node_new(ir_graph *g, const char *op_type, int n_inputs, int n_outputs);
/* A new node placed at schedule position pos (later nodes move down one). */
ir_node *ir_node_insert(ir_graph *g, int pos, const char *op_type, int n_inputs, int n_outputs);
/* Adds an integer attribute to n. */
void ir_node_set_int_attr(ir_graph *g, ir_node *n, const char *name, int64_t v);
/* Orders nodes so each runs after the producers of its inputs, keeping the
 * file's order where it allows; reports a cycle. */
nn_status ir_schedule(ir_graph *g);
/* Drops dead nodes and tensors that nothing references any more. */
void ir_compact(ir_graph *g);

int64_t ir_numel(const ir_tensor *t);
size_t ir_bytes(const ir_tensor *t);
void ir_set_shape(ir_tensor *t, ir_dtype dtype, int rank, const int64_t *dims);
/* "[1,3,224,224]" into buf. */
const char *ir_shape_str(const ir_tensor *t, char *buf, size_t size);

/* Turns t into a weight holding fresh zeroed storage of its shape. */
void *ir_make_weight(ir_graph *g, ir_tensor *t);
/* Reads element i of a weight of any integer or float dtype. */
int64_t ir_weight_int(const ir_tensor *t, int64_t i);
double ir_weight_float(const ir_tensor *t, int64_t i);

const ir_attr *ir_attr_find(const ir_node *n, const char *name);
int64_t ir_attr_int(const ir_node *n, const char *name, int64_t dflt);
double ir_attr_float(const ir_node *n, const char *name, double dflt);
const char *ir_attr_string(const ir_node *n, const char *name, const char *dflt);
/* Integer list attribute; returns its length (0 when absent) and sets *vals. */
int ir_attr_ints(const ir_node *n, const char *name, const int64_t **vals);

/* Present input k (non-NULL), else NULL; safe for k past the end. */
ir_tensor *ir_in(const ir_node *n, int k);
ir_tensor *ir_out(const ir_node *n, int k);

#endif
