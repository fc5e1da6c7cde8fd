/* The ONNX door: the only code that sees protobuf-c types. */
#ifndef NNCC_ONNX_H
#define NNCC_ONNX_H

#include "diag.h"
#include "ir.h"

/* Loads a ModelProto into a graph in schedule order, or reports every
 * problem it finds and returns NULL. */
ir_graph *onnx_load(const char *path, mem_arena *mem);
/* Reads a serialized TensorProto file (a test_data_set's input_0.pb) into t
 * as a weight: dtype, dims and data. */
nn_status onnx_read_tensor_file(const char *path, mem_arena *mem, ir_tensor *t);
/* Reads a serialized SequenceProto (optional: an OptionalProto) into t->seq,
 * elements as weights, nested values recursively (frontend/onnx_value.c). */
nn_status onnx_read_value_file(const char *path, mem_arena *mem, bool optional, ir_tensor *t);
/* Writes the graph as a ModelProto (IR version 8) through a temporary file:
 * weights that nodes read become initializers, attribute tensors stay
 * attributes, each domain is imported at the highest opset its nodes carry,
 * open input dims keep their names (outputs then give only their rank).
 * Nothing is written when a node holds an attribute the loader could not
 * keep (reported). */
nn_status onnx_write(const ir_graph *g, const char *path);
/* The same ModelProto in memory: *bytes is malloc'd (the caller frees it). */
nn_status onnx_serialize(const ir_graph *g, unsigned char **bytes, size_t *size);

/* Where each initializer's raw_data lies in a serialized ModelProto (read
 * from the protobuf wire format, frontend/onnx_offsets.c). */
typedef struct onnx_raw_span {
  const char *name; /* points into a copy the caller frees with onnx_free_spans */
  size_t offset, bytes;
} onnx_raw_span;
/* Fills *spans (malloc'd, *n entries); NN_ERR when the bytes are not a
 * well-formed ModelProto (an internal error for bytes nncc wrote). */
nn_status onnx_initializer_spans(const unsigned char *model, size_t size, onnx_raw_span **spans,
                                 int *n);
void onnx_free_spans(onnx_raw_span *spans, int n);

#endif
