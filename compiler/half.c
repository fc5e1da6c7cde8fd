/* IEEE half precision and bfloat16 <-> float32, bit-exact, rounding to
 * nearest even. The generated code carries the same conversions
 * (codegen/emit_model.c's prelude) so folded and run-time casts agree. */
#include "half.h"

#include <string.h>

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) /* inf or NaN */
    return float_of(sign | 0x7f800000u | man << 13);
  if (exp == 0) { /* zero or subnormal: value = man * 2^-24 */
    float v = (float)man * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return float_of(sign | (exp + 112) << 23 | man << 13);
}

uint16_t float_to_half(float f) {
  uint32_t u = bits_of(f), sign = (u >> 16) & 0x8000;
  uint32_t abs = u & 0x7fffffffu;
  if (abs >= 0x7f800000u) /* inf or NaN (keep NaN quiet and non-zero) */
    return (uint16_t)(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 | ((abs >> 13) & 0x3ff) : 0));
  if (abs >= 0x477ff000u) /* rounds to beyond the largest half */
    return (uint16_t)(sign | 0x7c00);
  if (abs < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
    float v = float_of(abs) * 16777216.0f; /* in units of 2^-24 */
    uint32_t q = (uint32_t)v;
    float rest = v - (float)q;
    if (rest > 0.5f || (rest == 0.5f && (q & 1)))
      q++;
    return (uint16_t)(sign | q);
  }
  uint32_t r = abs + 0xfffu + ((abs >> 13) & 1); /* round to nearest even at bit 13 */
  return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float bfloat16_to_float(uint16_t b) { return float_of((uint32_t)b << 16); }

uint16_t float_to_bfloat16(float f) {
  uint32_t u = bits_of(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN stays NaN */
    return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}
