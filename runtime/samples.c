/* Samples in their input's element type: the one conversion between what a
 * file holds and what the module reads, every value checked on the way, so
 * the module never sees NaN, a fraction where it counts, or a token id
 * outside its embedding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "elem.h"

/* The values an integer type holds: [lo, hi]. */
static void samples_type_range(rt_elem t, int64_t *lo, int64_t *hi) {
  switch (t) {
  case RT_ELEM_INT32: *lo = INT32_MIN, *hi = INT32_MAX; return;
  case RT_ELEM_INT16: *lo = INT16_MIN, *hi = INT16_MAX; return;
  case RT_ELEM_INT8: *lo = INT8_MIN, *hi = INT8_MAX; return;
  case RT_ELEM_UINT32: *lo = 0, *hi = UINT32_MAX; return;
  case RT_ELEM_UINT16: *lo = 0, *hi = UINT16_MAX; return;
  case RT_ELEM_UINT8: *lo = 0, *hi = UINT8_MAX; return;
  case RT_ELEM_BOOL: *lo = 0, *hi = 1; return;
  default: *lo = INT64_MIN, *hi = INT64_MAX; return;
  }
}

static void samples_put_int(rt_elem t, void *p, size_t i, int64_t v) {
  switch (t) {
  case RT_ELEM_INT64: ((int64_t *)p)[i] = v; return;
  case RT_ELEM_INT32: ((int32_t *)p)[i] = (int32_t)v; return;
  case RT_ELEM_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; return;
  case RT_ELEM_INT16: ((int16_t *)p)[i] = (int16_t)v; return;
  case RT_ELEM_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; return;
  case RT_ELEM_INT8: ((int8_t *)p)[i] = (int8_t)v; return;
  case RT_ELEM_UINT8: case RT_ELEM_BOOL: ((uint8_t *)p)[i] = (uint8_t)v; return;
  case RT_ELEM_FLOAT32: case RT_ELEM_FLOAT64: return;
  }
}

/* Value i for a float input; -1 (reported) when it is not finite there. */
static int samples_put_float(const rt_samples *s, const rt_input *in, void *out, size_t i) {
  double v = rt_elem_get(s->type, s->x, i);
  double got = v;
  if (in->type == RT_ELEM_FLOAT32) {
    float f = s->divisor ? (float)v / s->divisor : (float)v;
    ((float *)out)[i] = f;
    got = f;
  } else {
    ((double *)out)[i] = s->divisor ? v / s->divisor : v;
  }
  if (isfinite(got))
    return 0;
  size_t sample = i / s->features, k = i % s->features;
  if (isfinite(v))
    return rt_data_error(s->path, "sample %zu: value %zu is %g, beyond %s's range (input '%s')",
                         sample, k, v, rt_elem_name(in->type), in->name);
  return rt_data_error(s->path, "sample %zu: value %zu is %s", sample, k,
                       isnan(v) ? "NaN" : "infinite");
}

/* Value i for an integer input: whole, within the type, within in's range. */
static int samples_put_integer(const rt_samples *s, const rt_input *in, void *out, size_t i) {
  size_t sample = i / s->features, k = i % s->features;
  int64_t v;
  if (rt_elem_is_float(s->type)) {
    double f = rt_elem_get(s->type, s->x, i);
    if (!isfinite(f))
      return rt_data_error(s->path, "sample %zu: value %zu is %s; input '%s' takes whole numbers "
                           "(%s)", sample, k, isnan(f) ? "NaN" : "infinite", in->name,
                           rt_elem_name(in->type));
    if (f != floor(f))
      return rt_data_error(s->path, "sample %zu: value %zu is %g; input '%s' takes whole numbers "
                           "(%s)", sample, k, f, in->name, rt_elem_name(in->type));
    if (f < -9223372036854775808.0 || f >= 9223372036854775808.0)
      return rt_data_error(s->path, "sample %zu: value %zu is %g, outside %s's range (input "
                           "'%s')", sample, k, f, rt_elem_name(in->type), in->name);
    v = (int64_t)f;
  } else {
    v = rt_elem_get_int(s->type, s->x, i);
  }
  int64_t lo, hi;
  samples_type_range(in->type, &lo, &hi);
  if (v < lo || v > hi)
    return rt_data_error(s->path, "sample %zu: value %zu is %lld, outside %s's range (input '%s')",
                         sample, k, (long long)v, rt_elem_name(in->type), in->name);
  if (in->has_range && (v < in->lo || v >= in->hi))
    return rt_data_error(s->path, "sample %zu: %s %lld (value %zu of the sample) is outside %s "
                         "[%lld, %lld)", sample, in->value_word ? in->value_word : "value",
                         (long long)v, k, in->range_of ? in->range_of : "the valid range",
                         (long long)in->lo, (long long)in->hi);
  samples_put_int(in->type, out, i, v);
  return 0;
}

int rt_samples_convert(rt_samples *s, size_t count, const rt_input *in) {
  size_t n = count * s->features;
  /* Already the input's type: checked where it lies. */
  int in_place = s->type == in->type && !s->divisor;
  void *out = in_place ? s->x : malloc(n * rt_elem_size(in->type) + 1);
  if (!out)
    return rt_data_error(s->path, "out of memory");
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = rt_elem_is_float(in->type) ? samples_put_float(s, in, out, i)
                                    : samples_put_integer(s, in, out, i);
  if (rc) {
    if (!in_place)
      free(out);
    return -1;
  }
  if (!in_place) {
    free(s->x);
    s->x = out;
    s->type = in->type;
    s->divisor = 0;
  }
  return 0;
}
