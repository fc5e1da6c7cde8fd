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

#endif
