/* The 8-, 4- and 2-bit element types: float8 (E4M3FN, E4M3FNUZ, E5M2,
 * E5M2FNUZ, E8M0), float4 (E2M1) and int4/uint4/int2/uint2. nncc keeps one
 * element per byte: float bit patterns in the low bits of a uint8_t, integers
 * as sign- or zero-extended int8_t/uint8_t values. ONNX packs the 4- and
 * 2-bit types (first element in the low bits); only the loader, the writer
 * and `nncc run` see that packing. Conversions follow the ONNX Cast spec and
 * its reference (ml_dtypes) bit for bit; the generated code carries the same
 * ones (codegen/emit_half.c). */
#ifndef NNCC_NARROW_H
#define NNCC_NARROW_H

#include <stdbool.h>
#include <stdint.h>

#include "ir.h"

/* float8 (any variant, E8M0 included) and float4. */
bool narrow_is_float(ir_dtype t);
/* int4, uint4, int2, uint2. */
bool narrow_is_int(ir_dtype t);
/* Bits per element in ONNX's packed layout: 4 or 2, 0 for byte-sized types. */
int narrow_packed_bits(ir_dtype t);
/* ONNX's packed byte count for n elements of t (ir_bytes otherwise). */
size_t narrow_packed_size(ir_dtype t, int64_t n);
/* Unpacks n packed elements (low bits first) into one byte each,
 * sign-extending the signed types; and back. */
void narrow_unpack(ir_dtype t, const uint8_t *packed, uint8_t *out, int64_t n);
void narrow_pack(ir_dtype t, const uint8_t *in, uint8_t *packed, int64_t n);

/* Where a small float type keeps NaN and Inf: E4M3FN (NaN s.1111111),
 * FNUZ (0x80 is the only NaN, no negative zero), E5M2 (0x7c Inf, above NaN),
 * float4 (neither). */
enum { NARROW_FN, NARROW_FNUZ, NARROW_INF, NARROW_NONE };
/* t's "mbits, bias, sign bit, max code, kind" as C text, the trailing
 * arguments of the generated nn_small_to_float and nn_float_to_small. */
const char *narrow_c_params(ir_dtype t);

/* The value of bit pattern b of a narrow float type (NaN, +-Inf included). */
float narrow_to_float(ir_dtype t, uint8_t b);
/* x rounded to nearest even in a float8/float4 type (a double is rounded to
 * float32 first by the caller, as ONNX's reference does). saturate: values beyond
 * the largest finite one (infinities included) become it; otherwise they
 * become Inf (E5M2) or NaN (the types without Inf). float4 always saturates.
 * E8M0 goes through e8m0_from_float. */
uint8_t narrow_from_float(ir_dtype t, float x, bool saturate);

/* In the order of the generated nn_float_to_e8m0's mode argument. */
typedef enum { E8M0_ROUND_UP, E8M0_ROUND_DOWN, E8M0_ROUND_NEAREST } e8m0_round;
/* The power of two 2^(b-127) holding x (its sign ignored), as Cast's
 * round_mode says; NaN and Inf become NaN (0xff); saturate stops rounding
 * up at the largest exponent. */
uint8_t e8m0_from_float(float x, bool saturate, e8m0_round mode);

/* v wrapped to t's bit width (two's complement), then sign-extended for the
 * signed types: 9 -> -7 in int4, 17 -> 1 in uint4. */
int64_t narrow_wrap_int(ir_dtype t, int64_t v);
/* Smallest and largest value of an integer type, narrow or not. */
int64_t int_dtype_min(ir_dtype t);
int64_t int_dtype_max(ir_dtype t);

#endif
