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
/* Writes the graph as a ModelProto (IR version 8) through a temporary file:
 * weights that nodes read become initializers, attribute tensors stay
 * attributes, each domain is imported at the highest opset its nodes carry,
 * open input dims keep their names (outputs then give only their rank).
 * Nothing is written when a node holds an attribute the loader could not
 * keep (reported). */
nn_status onnx_write(const ir_graph *g, const char *path);

#endif
