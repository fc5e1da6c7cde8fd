/* 8/4/2-bit element types: packing and conversions (see narrow.h). */
#include "narrow.h"

#include <math.h>
#include <string.h>

/* A small float format: sign, exponent and mantissa fields. The generated
 * code's nn_small_to_float/nn_float_to_small take the same parameters. */
typedef struct fmt {
  int mbits, bias;
  unsigned sign; /* the sign bit: 0x80, or 0x8 for float4 */
  unsigned max;  /* largest finite magnitude code */
  int kind;      /* where NaN and Inf are (narrow.h's NARROW_*) */
} fmt;

static fmt format_of(ir_dtype t) {
  switch ((int)t) {
  case IR_FLOAT8E4M3FN: return (fmt){3, 7, 0x80, 0x7e, NARROW_FN};
  case IR_FLOAT8E4M3FNUZ: return (fmt){3, 8, 0x80, 0x7f, NARROW_FNUZ};
  case IR_FLOAT8E5M2: return (fmt){2, 15, 0x80, 0x7b, NARROW_INF};
  case IR_FLOAT8E5M2FNUZ: return (fmt){2, 16, 0x80, 0x7f, NARROW_FNUZ};
  case IR_FLOAT4E2M1: return (fmt){1, 1, 0x8, 0x7, NARROW_NONE};
  default: NN_BUG("not a small float type");
  }
}

const char *narrow_c_params(ir_dtype t) {
  switch ((int)t) {
  case IR_FLOAT8E4M3FN: return "3, 7, 0x80, 0x7e, 0";
  case IR_FLOAT8E4M3FNUZ: return "3, 8, 0x80, 0x7f, 1";
  case IR_FLOAT8E5M2: return "2, 15, 0x80, 0x7b, 2";
  case IR_FLOAT8E5M2FNUZ: return "2, 16, 0x80, 0x7f, 1";
  case IR_FLOAT4E2M1: return "1, 1, 0x8, 0x7, 3";
  default: NN_BUG("not a small float type");
  }
}

bool narrow_is_float(ir_dtype t) {
  return t == IR_FLOAT8E4M3FN || t == IR_FLOAT8E4M3FNUZ || t == IR_FLOAT8E5M2 ||
         t == IR_FLOAT8E5M2FNUZ || t == IR_FLOAT4E2M1 || t == IR_FLOAT8E8M0;
}

bool narrow_is_int(ir_dtype t) {
  return t == IR_INT4 || t == IR_UINT4 || t == IR_INT2 || t == IR_UINT2;
}

int narrow_packed_bits(ir_dtype t) {
  if (t == IR_INT4 || t == IR_UINT4 || t == IR_FLOAT4E2M1)
    return 4;
  return t == IR_INT2 || t == IR_UINT2 ? 2 : 0;
}

size_t narrow_packed_size(ir_dtype t, int64_t n) {
  int bits = narrow_packed_bits(t);
  if (!bits)
    return (size_t)n * ir_dtype_size(t);
  int per_byte = 8 / bits;
  return (size_t)((n + per_byte - 1) / per_byte);
}

void narrow_unpack(ir_dtype t, const uint8_t *packed, uint8_t *out, int64_t n) {
  int bits = narrow_packed_bits(t), per_byte = 8 / bits;
  unsigned mask = (1u << bits) - 1;
  bool sign = t == IR_INT4 || t == IR_INT2;
  for (int64_t i = 0; i < n; i++) {
    unsigned v = (packed[i / per_byte] >> (i % per_byte * bits)) & mask;
    out[i] = (uint8_t)(sign && (v >> (bits - 1)) ? v | ~mask : v);
  }
}

void narrow_pack(ir_dtype t, const uint8_t *in, uint8_t *packed, int64_t n) {
  int bits = narrow_packed_bits(t), per_byte = 8 / bits;
  unsigned mask = (1u << bits) - 1;
  memset(packed, 0, narrow_packed_size(t, n));
  for (int64_t i = 0; i < n; i++)
    packed[i / per_byte] |= (uint8_t)((in[i] & mask) << (i % per_byte * bits));
}

float narrow_to_float(ir_dtype t, uint8_t b) {
  if (t == IR_FLOAT8E8M0)
    return b == 0xff ? NAN : ldexpf(1.0f, (int)b - 127);
  fmt f = format_of(t);
  unsigned mag = b & (f.sign - 1), e = mag >> f.mbits, m = mag & ((1u << f.mbits) - 1);
  if ((f.kind == NARROW_FNUZ && b == 0x80) || (f.kind == NARROW_FN && mag == 0x7f) ||
      (f.kind == NARROW_INF && mag > 0x7c))
    return NAN;
  float v;
  if (f.kind == NARROW_INF && mag == 0x7c)
    v = INFINITY;
  else if (e) /* normal: implicit leading one */
    v = ldexpf((float)((1u << f.mbits) | m), (int)e - f.bias - f.mbits);
  else /* subnormal */
    v = ldexpf((float)m, 1 - f.bias - f.mbits);
  return b & f.sign ? -v : v;
}

/* v >= 0 rounded to the nearest integer, ties to even. */
static double round_even(double v) {
  double fl = floor(v), rest = v - fl;
  if (rest > 0.5 || (rest == 0.5 && fmod(fl, 2.0) != 0.0))
    fl += 1.0;
  return fl;
}

uint8_t narrow_from_float(ir_dtype t, float x, bool saturate) {
  fmt f = format_of(t);
  unsigned s = signbit(x) ? f.sign : 0, code;
  unsigned nan = f.kind == NARROW_FNUZ ? 0x80 : f.kind == NARROW_INF ? s | 0x7e
               : f.kind == NARROW_NONE ? 0 : s | 0x7f;
  if (f.kind == NARROW_NONE) /* float4: no NaN nor Inf, so NaN gives 0 and the rest saturates */
    saturate = true;
  if (isnan(x))
    return (uint8_t)nan;
  double a = fabs((double)x);
  int emin = 1 - f.bias, e;
  if (isinf(a)) {
    code = f.max + 1;
  } else if (a < ldexp(1.0, emin)) { /* subnormal: units of 2^(emin - mbits) */
    code = (unsigned)round_even(ldexp(a, f.mbits - emin));
  } else {
    frexp(a, &e); /* a = fr * 2^e with fr in [0.5, 1): its exponent field is e - 1 + bias */
    if (e - 1 + f.bias > 255)
      code = f.max + 1;
    else /* the significand rounds into [2^mbits, 2^(mbits+1)]; a carry bumps the exponent */
      code = ((unsigned)(e - 2 + f.bias) << f.mbits) +
             (unsigned)round_even(ldexp(a, f.mbits - e + 1));
  }
  if (code > f.max) {
    if (!saturate)
      return (uint8_t)(f.kind == NARROW_INF ? s | 0x7c : nan);
    code = f.max;
  }
  if (f.kind == NARROW_FNUZ && code == 0) /* no negative zero */
    return 0;
  return (uint8_t)(s | code);
}

uint8_t e8m0_from_float(float x, bool saturate, e8m0_round mode) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  unsigned e = (bits >> 23) & 0xff;
  /* nearest: the guard bit decides, and a tie (only the guard bit set)
   * rounds up unless the exponent field is 0, as ONNX's reference does.
   * up: the reference tests the fraction with the mask 0x4fffff, so fraction
   * bits 20 and 21 alone do not round up; kept so results agree with it. */
  bool up = mode == E8M0_ROUND_NEAREST ? (bits & 0x400000) && ((bits & 0x3fffff) || e > 0)
          : mode == E8M0_ROUND_UP ? (bits & 0x4fffff) != 0 : false;
  if (e == 0xff)
    return 0xff;
  if (up && saturate && e == 0xfe)
    up = false;
  return (uint8_t)(e + up);
}

int64_t narrow_wrap_int(ir_dtype t, int64_t v) {
  int bits = narrow_packed_bits(t);
  uint64_t mask = (UINT64_C(1) << bits) - 1, u = (uint64_t)v & mask;
  if ((t == IR_INT4 || t == IR_INT2) && (u >> (bits - 1)))
    return (int64_t)u - (int64_t)(mask + 1);
  return (int64_t)u;
}

int64_t int_dtype_min(ir_dtype t) {
  switch ((int)t) {
  case IR_INT2: return -2;
  case IR_INT4: return -8;
  case IR_INT8: return INT8_MIN;
  case IR_INT16: return INT16_MIN;
  case IR_INT32: return INT32_MIN;
  case IR_INT64: return INT64_MIN;
  default: return 0;
  }
}

int64_t int_dtype_max(ir_dtype t) {
  switch ((int)t) {
  case IR_INT2: return 1;
  case IR_UINT2: return 3;
  case IR_INT4: return 7;
  case IR_UINT4: return 15;
  case IR_INT8: return INT8_MAX;
  case IR_UINT8: case IR_BOOL: return UINT8_MAX;
  case IR_INT16: return INT16_MAX;
  case IR_UINT16: return UINT16_MAX;
  case IR_INT32: return INT32_MAX;
  case IR_UINT32: return UINT32_MAX;
  default: return INT64_MAX;
  }
}
