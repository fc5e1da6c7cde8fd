/* Shared between the ONNX frontend's files only. */
#ifndef NNCC_ONNX_INTERNAL_H
#define NNCC_ONNX_INTERNAL_H

#include "onnx.pb-c.h"
#include "ir.h"

nn_status onnx_decode_tensor(const char *path, mem_arena *mem, const Onnx__TensorProto *tp,
                             ir_tensor *t, const char *what);
/* ONNX's name for a TensorProto.DataType number, e.g. "FLOAT16". */
const char *onnx_dtype_name(int dtype);

#endif
