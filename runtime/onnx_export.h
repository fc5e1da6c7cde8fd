/* The trained model as ONNX: the forward graph's ModelProto, embedded by
 * nncc when it wrote the trainer, with each trainable initializer's raw_data
 * overwritten in place by the weights in the state blob. */
#ifndef NNCC_RT_ONNX_EXPORT_H
#define NNCC_RT_ONNX_EXPORT_H

#include "module.h"

int rt_export_onnx(const char *path, const rt_module *m, const void *state);

#endif
