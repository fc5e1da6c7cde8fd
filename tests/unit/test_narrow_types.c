/* The 8/4/2-bit types (compiler/narrow.c): every bit pattern round-trips,
 * rounding is to nearest even at every midpoint, saturation and the NaN/Inf
 * rules of each float8 variant, E8M0's rounding modes, and the packing of
 * 4- and 2-bit values as ONNX lays them out. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "narrow.h"
#include "npy.h"

static const ir_dtype small_floats[] = {IR_FLOAT8E4M3FN, IR_FLOAT8E4M3FNUZ, IR_FLOAT8E5M2,
                                        IR_FLOAT8E5M2FNUZ, IR_FLOAT4E2M1};

static int patterns(ir_dtype t) { return t == IR_FLOAT4E2M1 ? 16 : 256; }

Test(narrow, known_values) {
  cr_assert_eq(narrow_to_float(IR_FLOAT8E4M3FN, 0x7e), 448.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT8E4M3FN, 0x01), ldexpf(1, -9)); /* smallest subnormal */
  cr_assert_eq(narrow_to_float(IR_FLOAT8E4M3FN, 0x38), 1.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT8E4M3FNUZ, 0x7f), 240.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT8E4M3FNUZ, 0x40), 1.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT8E5M2, 0x7b), 57344.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT8E5M2, 0x3c), 1.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT8E5M2FNUZ, 0x7f), 57344.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT8E5M2FNUZ, 0x40), 1.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT4E2M1, 0x7), 6.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT4E2M1, 0x1), 0.5f);
  cr_assert_eq(narrow_to_float(IR_FLOAT4E2M1, 0xc), -2.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT8E8M0, 127), 1.0f);
  cr_assert_eq(narrow_to_float(IR_FLOAT8E8M0, 0), ldexpf(1, -127));
  cr_assert(isnan(narrow_to_float(IR_FLOAT8E8M0, 0xff)));
}

Test(narrow, nan_and_inf_patterns) {
  cr_assert(isnan(narrow_to_float(IR_FLOAT8E4M3FN, 0x7f)));
  cr_assert(isnan(narrow_to_float(IR_FLOAT8E4M3FN, 0xff)));
  cr_assert(isnan(narrow_to_float(IR_FLOAT8E4M3FNUZ, 0x80)));
  cr_assert(isnan(narrow_to_float(IR_FLOAT8E5M2FNUZ, 0x80)));
  cr_assert(isinf(narrow_to_float(IR_FLOAT8E5M2, 0x7c)));
  cr_assert_lt(narrow_to_float(IR_FLOAT8E5M2, 0xfc), 0.0f);
  cr_assert(isnan(narrow_to_float(IR_FLOAT8E5M2, 0x7d)));
  cr_assert(isnan(narrow_to_float(IR_FLOAT8E5M2, 0xfe)));
  /* No other pattern is NaN or infinite. */
  for (size_t k = 0; k < sizeof small_floats / sizeof *small_floats; k++) {
    int special = 0;
    for (int b = 0; b < patterns(small_floats[k]); b++)
      special += !isfinite(narrow_to_float(small_floats[k], (uint8_t)b));
    int want[] = {2, 1, 8, 1, 0};
    cr_assert_eq(special, want[k], "type %d: %d special patterns", small_floats[k], special);
  }
}

/* Every finite pattern decodes and encodes back to itself (both saturation
 * modes); FNUZ types have no -0, so 0x80 is their NaN, not a zero. */
Test(narrow, round_trip_every_pattern) {
  for (size_t k = 0; k < sizeof small_floats / sizeof *small_floats; k++) {
    ir_dtype t = small_floats[k];
    for (int b = 0; b < patterns(t); b++) {
      float v = narrow_to_float(t, (uint8_t)b);
      if (!isfinite(v))
        continue;
      cr_assert_eq(narrow_from_float(t, v, true), b, "type %d pattern 0x%02x", t, b);
      cr_assert_eq(narrow_from_float(t, v, false), b, "type %d pattern 0x%02x", t, b);
    }
  }
  for (int b = 1; b < 255; b++)
    cr_assert_eq(e8m0_from_float(narrow_to_float(IR_FLOAT8E8M0, (uint8_t)b), true, E8M0_ROUND_UP), b);
  /* 2^-127 is a float32 subnormal: its fraction bits are set, so "up"
   * (as ONNX's reference reads the bits) gives 2^-126; "down" keeps it. */
  cr_assert_eq(e8m0_from_float(ldexpf(1, -127), true, E8M0_ROUND_UP), 1);
  cr_assert_eq(e8m0_from_float(ldexpf(1, -127), true, E8M0_ROUND_DOWN), 0);
}

/* Between two neighbours the value goes to the nearer one; at the midpoint
 * to the one with an even mantissa (an even code). */
Test(narrow, rounds_to_nearest_even) {
  for (size_t k = 0; k < sizeof small_floats / sizeof *small_floats; k++) {
    ir_dtype t = small_floats[k];
    unsigned max = t == IR_FLOAT4E2M1 ? 7 : t == IR_FLOAT8E4M3FN ? 0x7e : t == IR_FLOAT8E5M2 ? 0x7b : 0x7f;
    for (unsigned c = 0; c < max; c++) {
      double lo = narrow_to_float(t, (uint8_t)c), hi = narrow_to_float(t, (uint8_t)(c + 1));
      double mid = (lo + hi) / 2, step = (hi - lo) / 64;
      unsigned even = c % 2 == 0 ? c : c + 1;
      cr_assert_eq(narrow_from_float(t, mid, true), even, "type %d between 0x%02x and 0x%02x", t, c, c + 1);
      cr_assert_eq(narrow_from_float(t, mid - step, true), c);
      cr_assert_eq(narrow_from_float(t, mid + step, true), c + 1);
      unsigned sign = t == IR_FLOAT4E2M1 ? 0x8 : 0x80;
      bool fnuz = t == IR_FLOAT8E4M3FNUZ || t == IR_FLOAT8E5M2FNUZ;
      unsigned neg_even = fnuz && even == 0 ? 0 : sign | even; /* FNUZ: -0 is 0 */
      cr_assert_eq(narrow_from_float(t, -mid, true), neg_even);
    }
  }
}

Test(narrow, saturation_and_overflow) {
  /* E4M3FN: 464 is the midpoint of 448 and (missing) 480: even -> 448. */
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, 464, false), 0x7e);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, 465, false), 0x7f); /* NaN */
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, 465, true), 0x7e);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, -1e9, true), 0xfe);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, -INFINITY, true), 0xfe);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, INFINITY, false), 0x7f);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, -INFINITY, false), 0xff);
  /* E5M2 keeps infinities when not saturating. */
  cr_assert_eq(narrow_from_float(IR_FLOAT8E5M2, 61440, false), 0x7c);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E5M2, 61439, false), 0x7b);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E5M2, -INFINITY, false), 0xfc);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E5M2, INFINITY, true), 0x7b);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E5M2, 1e30f, true), 0x7b);
  /* FNUZ: overflow without saturation and NaN of either sign are 0x80. */
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FNUZ, 1000, false), 0x80);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E5M2FNUZ, -INFINITY, false), 0x80);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E5M2FNUZ, -NAN, true), 0x80);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FNUZ, -1000, true), 0xff);
  /* float4 has neither: it always saturates; NaN gives 0. */
  cr_assert_eq(narrow_from_float(IR_FLOAT4E2M1, 100, false), 0x7);
  cr_assert_eq(narrow_from_float(IR_FLOAT4E2M1, -INFINITY, false), 0xf);
  cr_assert_eq(narrow_from_float(IR_FLOAT4E2M1, NAN, false), 0x0);
}

Test(narrow, zeros_and_nan) {
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, -0.0, true), 0x80);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E5M2, -0.0, true), 0x80);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FNUZ, -0.0, true), 0x00);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E5M2FNUZ, -1e-30, true), 0x00); /* underflow, no -0 */
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, -1e-30, true), 0x80);
  cr_assert_eq(narrow_from_float(IR_FLOAT4E2M1, -0.1, true), 0x8);
  cr_assert(isnan(narrow_to_float(IR_FLOAT8E4M3FN, narrow_from_float(IR_FLOAT8E4M3FN, NAN, true))));
  cr_assert(isnan(narrow_to_float(IR_FLOAT8E5M2, narrow_from_float(IR_FLOAT8E5M2, -NAN, false))));
  /* Subnormals, and rounding up into the smallest normal. */
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, ldexp(1, -9), true), 0x01);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, ldexp(1, -10), true), 0x00); /* tie -> even 0 */
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, ldexp(1.5, -10), true), 0x01);
  cr_assert_eq(narrow_from_float(IR_FLOAT8E4M3FN, ldexp(7.5, -9), true), 0x08); /* tie -> 2^-6 */
}

Test(narrow, e8m0_rounding_modes) {
  float three = 3.0f; /* between 2 (128) and 4 (129) */
  cr_assert_eq(e8m0_from_float(three, true, E8M0_ROUND_UP), 129);
  cr_assert_eq(e8m0_from_float(three, true, E8M0_ROUND_DOWN), 128);
  cr_assert_eq(e8m0_from_float(three, true, E8M0_ROUND_NEAREST), 129); /* tie rounds up */
  cr_assert_eq(e8m0_from_float(2.9f, true, E8M0_ROUND_NEAREST), 128);
  cr_assert_eq(e8m0_from_float(3.1f, true, E8M0_ROUND_NEAREST), 129);
  cr_assert_eq(e8m0_from_float(-4.0f, true, E8M0_ROUND_UP), 129); /* sign ignored */
  cr_assert_eq(e8m0_from_float(NAN, true, E8M0_ROUND_UP), 0xff);
  cr_assert_eq(e8m0_from_float(INFINITY, true, E8M0_ROUND_UP), 0xff);
  cr_assert_eq(e8m0_from_float(0.0f, true, E8M0_ROUND_UP), 0);
  float big = ldexpf(1.5f, 127); /* above the largest power, 2^127 (254) */
  cr_assert_eq(e8m0_from_float(big, true, E8M0_ROUND_UP), 254);
  cr_assert_eq(e8m0_from_float(big, false, E8M0_ROUND_UP), 255);
  cr_assert_eq(e8m0_from_float(big, false, E8M0_ROUND_NEAREST), 255);
}

Test(narrow, integer_wrap_and_ranges) {
  cr_assert_eq(narrow_wrap_int(IR_INT4, 9), -7);
  cr_assert_eq(narrow_wrap_int(IR_INT4, -9), 7);
  cr_assert_eq(narrow_wrap_int(IR_INT4, 7), 7);
  cr_assert_eq(narrow_wrap_int(IR_UINT4, 17), 1);
  cr_assert_eq(narrow_wrap_int(IR_UINT4, -1), 15);
  cr_assert_eq(narrow_wrap_int(IR_INT2, 2), -2);
  cr_assert_eq(narrow_wrap_int(IR_UINT2, 5), 1);
  cr_assert_eq(int_dtype_min(IR_INT4), -8);
  cr_assert_eq(int_dtype_max(IR_UINT4), 15);
  cr_assert_eq(int_dtype_min(IR_INT2), -2);
  cr_assert_eq(int_dtype_max(IR_UINT2), 3);
  cr_assert_eq(int_dtype_max(IR_INT16), 32767);
}

/* ONNX's layout: element 0 in the low bits; an odd count leaves the last
 * high nibble 0. Bytes from onnx.numpy_helper.from_array. */
Test(narrow, packing_matches_onnx) {
  const uint8_t int4_packed[] = {0xe1, 0x03}; /* int4 [1, -2, 3] */
  uint8_t v[8];
  narrow_unpack(IR_INT4, int4_packed, v, 3);
  cr_assert_eq((int8_t)v[0], 1);
  cr_assert_eq((int8_t)v[1], -2);
  cr_assert_eq((int8_t)v[2], 3);
  uint8_t back[2];
  narrow_pack(IR_INT4, v, back, 3);
  cr_assert_eq(back[0], 0xe1);
  cr_assert_eq(back[1], 0x03);
  const uint8_t int2_packed[] = {25, 3}; /* int2 [1, -2, 1, 0, -1] */
  narrow_unpack(IR_INT2, int2_packed, v, 5);
  int8_t want[] = {1, -2, 1, 0, -1};
  for (int i = 0; i < 5; i++)
    cr_assert_eq((int8_t)v[i], want[i]);
  narrow_pack(IR_INT2, v, back, 5);
  cr_assert_eq(back[0], 25);
  cr_assert_eq(back[1], 3);
  narrow_unpack(IR_UINT4, (const uint8_t[]){0xf8}, v, 2);
  cr_assert_eq(v[0], 8);
  cr_assert_eq(v[1], 15);
  cr_assert_eq(narrow_packed_size(IR_UINT2, 5), 2);
  cr_assert_eq(narrow_packed_size(IR_FLOAT4E2M1, 3), 2);
  cr_assert_eq(narrow_packed_size(IR_FLOAT8E5M2, 3), 3);
}

/* `nncc run` writes 4/2-bit outputs as ml_dtypes does (value in the low
 * bits, upper bits 0) and reads them back sign-extended. */
Test(narrow, npy_int4_round_trip) {
  mem_arena *mem = mem_new();
  ir_tensor t = {.dtype = IR_INT4, .rank = 1, .dims = {3}};
  int8_t data[3] = {-8, -1, 7};
  char path[] = "/tmp/nncc_test_narrow_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  cr_assert_eq(npy_write(path, &t, data), NN_OK);
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f);
  unsigned char buf[256];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  cr_assert_geq(n, 3);
  cr_assert_eq(buf[n - 3], 0x8);
  cr_assert_eq(buf[n - 2], 0xf);
  cr_assert_eq(buf[n - 1], 0x7);
  buf[n - 3] = '\0'; /* the header text, after the 10-byte preamble (which holds a 0) */
  cr_assert_not_null(strstr((const char *)buf + 10, "'descr': 'int4'"));
  ir_tensor back = {0};
  cr_assert_eq(npy_read(path, mem, &back), NN_OK);
  cr_assert_eq(back.dtype, IR_INT4);
  cr_assert_eq(((int8_t *)back.data)[0], -8);
  cr_assert_eq(((int8_t *)back.data)[1], -1);
  cr_assert_eq(((int8_t *)back.data)[2], 7);
  remove(path);
  mem_free(mem);
}
