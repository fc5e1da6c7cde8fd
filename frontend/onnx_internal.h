/* Shared between the ONNX frontend's files only. */
#ifndef NNCC_ONNX_INTERNAL_H
#define NNCC_ONNX_INTERNAL_H

#include "onnx.pb-c.h"
#include "ir.h"

nn_status onnx_decode_tensor(const char *path, mem_arena *mem, const Onnx__TensorProto *tp,
                             ir_tensor *t, const char *what);
/* ONNX's name for a TensorProto.DataType number, e.g. "FLOAT16". */
const char *onnx_dtype_name(int dtype);

/* A node as the graph will hold it, after local functions are expanded:
 * names renamed per call, attribute references resolved. */
typedef struct onnx_flat_node {
  const Onnx__NodeProto *np; /* as written, in the graph or a function body */
  const char *name, *op_type, *domain;
  int opset;                 /* from the function's opset_import; 0: the model's */
  const char **inputs, **outputs;
  size_t n_input, n_output;
  const Onnx__AttributeProto **attrs; /* resolved values... */
  const char **attr_names;            /* ...under these names */
  size_t n_attribute;
} onnx_flat_node;

/* The main graph's nodes with every call of a model-local function replaced
 * by the function's body (onnx_function.c). Adds to *errors what it reports. */
onnx_flat_node *onnx_flatten_graph(const char *path, mem_arena *mem, const Onnx__ModelProto *m,
                                   size_t *count, int *errors);
const Onnx__FunctionProto *onnx_find_function(const Onnx__ModelProto *m, const char *domain,
                                              const char *op_type);

#endif
