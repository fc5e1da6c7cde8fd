/* 16-bit floats as stored in ONNX tensors (bit patterns in uint16_t). */
#ifndef NNCC_HALF_H
#define NNCC_HALF_H

#include <stdint.h>

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t b);
uint16_t float_to_bfloat16(float f);

#endif
