/* The 16-bit (and 8/4-bit) float conversions the generated code needs, written into the
 * prelude of models whose code calls them (only those: clang warns about
 * unused static inline functions). They mirror
 * compiler/half.c bit for bit, so folded and run-time casts agree. */
#include <string.h>

#include "codegen_internal.h"

/* Each function with the names it calls, in definition order. */
static const struct {
  const char *name, *needs1, *needs2, *text;
} functions[] = {
    {"nn_bits_to_float", NULL, NULL,
     "static inline float nn_bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }\n"},
    {"nn_float_to_bits", NULL, NULL,
     "static inline uint32_t nn_float_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }\n"},
    {"nn_half_to_float", "nn_bits_to_float", NULL,
     "static inline float nn_half_to_float(uint16_t h) {\n"
     "  uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;\n"
     "  if (e == 0x1f) return nn_bits_to_float(sign | 0x7f800000u | m << 13);\n"
     "  if (e == 0) { float v = (float)m * (1.0f / 16777216.0f); return sign ? -v : v; }\n"
     "  return nn_bits_to_float(sign | (e + 112) << 23 | m << 13);\n"
     "}\n"},
    {"nn_float_to_half", "nn_bits_to_float", "nn_float_to_bits",
     "static inline uint16_t nn_float_to_half(float f) {\n"
     "  uint32_t u = nn_float_to_bits(f), sign = (u >> 16) & 0x8000, a = u & 0x7fffffffu;\n"
     "  if (a >= 0x7f800000u)\n"
     "    return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0));\n"
     "  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);\n"
     "  if (a < 0x38800000u) {\n"
     "    float v = nn_bits_to_float(a) * 16777216.0f;\n"
     "    uint32_t q = (uint32_t)v;\n"
     "    float rest = v - (float)q;\n"
     "    if (rest > 0.5f || (rest == 0.5f && (q & 1))) q++;\n"
     "    return (uint16_t)(sign | q);\n"
     "  }\n"
     "  return (uint16_t)(sign | ((a + 0xfffu + ((a >> 13) & 1) - 0x38000000u) >> 13));\n"
     "}\n"},
    {"nn_bf16_to_float", "nn_bits_to_float", NULL,
     "static inline float nn_bf16_to_float(uint16_t b) { return nn_bits_to_float((uint32_t)b << 16); }\n"},
    {"nn_float_to_bf16", "nn_float_to_bits", NULL,
     "static inline uint16_t nn_float_to_bf16(float f) {\n"
     "  uint32_t u = nn_float_to_bits(f);\n"
     "  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);\n"
     "  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);\n"
     "}\n"},
    /* 8- and 4-bit floats, mirroring compiler/narrow.c; the trailing
     * arguments come from narrow_c_params. */
    {"nn_small_to_float", NULL, NULL,
     "static inline float nn_small_to_float(unsigned b, int mbits, int bias, unsigned sign,\n"
     "                                      unsigned max, int kind) {\n"
     "  unsigned mag = b & (sign - 1), e = mag >> mbits, m = mag & ((1u << mbits) - 1);\n"
     "  float v;\n"
     "  (void)max;\n"
     "  if ((kind == 1 && b == 0x80) || (kind == 0 && mag == 0x7f) || (kind == 2 && mag > 0x7c))\n"
     "    return NAN;\n"
     "  if (kind == 2 && mag == 0x7c) v = INFINITY;\n"
     "  else if (e) v = ldexpf((float)((1u << mbits) | m), (int)e - bias - mbits);\n"
     "  else v = ldexpf((float)m, 1 - bias - mbits);\n"
     "  return b & sign ? -v : v;\n"
     "}\n"},
    {"nn_round_even", NULL, NULL,
     "static inline double nn_round_even(double v) {\n"
     "  double fl = floor(v), rest = v - fl;\n"
     "  if (rest > 0.5 || (rest == 0.5 && fmod(fl, 2.0) != 0.0)) fl += 1.0;\n"
     "  return fl;\n"
     "}\n"},
    {"nn_float_to_small", "nn_round_even", NULL,
     "static inline uint8_t nn_float_to_small(float x, int mbits, int bias, unsigned sign,\n"
     "                                        unsigned max, int kind, int saturate) {\n"
     "  unsigned s = signbit(x) ? sign : 0, code;\n"
     "  unsigned nan = kind == 1 ? 0x80 : kind == 2 ? s | 0x7e : kind == 3 ? 0 : s | 0x7f;\n"
     "  if (kind == 3) saturate = 1;\n"
     "  if (isnan(x)) return (uint8_t)nan;\n"
     "  double a = fabs((double)x);\n"
     "  int emin = 1 - bias, e;\n"
     "  if (isinf(a)) {\n"
     "    code = max + 1;\n"
     "  } else if (a < ldexp(1.0, emin)) {\n"
     "    code = (unsigned)nn_round_even(ldexp(a, mbits - emin));\n"
     "  } else {\n"
     "    frexp(a, &e);\n"
     "    if (e - 1 + bias > 255) code = max + 1;\n"
     "    else code = ((unsigned)(e - 2 + bias) << mbits) + (unsigned)nn_round_even(ldexp(a, mbits - e + 1));\n"
     "  }\n"
     "  if (code > max) {\n"
     "    if (!saturate) return (uint8_t)(kind == 2 ? s | 0x7c : nan);\n"
     "    code = max;\n"
     "  }\n"
     "  if (kind == 1 && code == 0) return 0;\n"
     "  return (uint8_t)(s | code);\n"
     "}\n"},
    {"nn_e8m0_to_float", NULL, NULL,
     "static inline float nn_e8m0_to_float(uint8_t b) { return b == 0xff ? NAN : ldexpf(1.0f, (int)b - 127); }\n"},
    {"nn_float_to_e8m0", "nn_float_to_bits", NULL,
     "static inline uint8_t nn_float_to_e8m0(float x, int saturate, int mode) {\n"
     "  uint32_t u = nn_float_to_bits(x), e = (u >> 23) & 0xff;\n"
     "  int up = mode == 2 ? (u & 0x400000) && ((u & 0x3fffff) || e > 0)\n"
     "         : mode == 0 ? (u & 0x4fffff) != 0 : 0;\n"
     "  if (e == 0xff) return 0xff;\n"
     "  if (up && saturate && e == 0xfe) up = 0;\n"
     "  return (uint8_t)(e + (uint32_t)up);\n"
     "}\n"},
};

enum { N_FUNCTIONS = sizeof functions / sizeof *functions };

void emit_half_prelude(cbuf *c, const char *code) {
  bool used[N_FUNCTIONS] = {false};
  /* Callers come after their callees in the table: walk back to mark needs. */
  for (int i = N_FUNCTIONS - 1; i >= 0; i--) {
    used[i] = used[i] || emit_mentions(code, functions[i].name);
    for (int k = 0; used[i] && k < N_FUNCTIONS; k++)
      if ((functions[i].needs1 && strcmp(functions[k].name, functions[i].needs1) == 0) ||
          (functions[i].needs2 && strcmp(functions[k].name, functions[i].needs2) == 0))
        used[k] = true;
  }
  bool any = false;
  for (int i = 0; i < N_FUNCTIONS; i++)
    if (used[i]) {
      cb_raw(c, "%s", functions[i].text);
      any = true;
    }
  if (any)
    cb_raw(c, "\n");
}
