#include "elem.h"

#include <string.h>

size_t rt_elem_size(rt_elem t) {
  switch (t) {
  case RT_ELEM_FLOAT64: case RT_ELEM_INT64: return 8;
  case RT_ELEM_FLOAT32: case RT_ELEM_INT32: case RT_ELEM_UINT32: return 4;
  case RT_ELEM_INT16: case RT_ELEM_UINT16: return 2;
  case RT_ELEM_INT8: case RT_ELEM_UINT8: case RT_ELEM_BOOL: return 1;
  }
  return 1;
}

const char *rt_elem_name(rt_elem t) {
  static const char *const names[] = {"float32", "float64", "int64", "int32", "int16",
                                      "int8", "uint8", "uint16", "uint32", "bool"};
  return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

int rt_elem_is_float(rt_elem t) { return t == RT_ELEM_FLOAT32 || t == RT_ELEM_FLOAT64; }

int64_t rt_elem_get_int(rt_elem t, const void *p, size_t i) {
  switch (t) {
  case RT_ELEM_INT64: { int64_t v; memcpy(&v, (const char *)p + 8 * i, 8); return v; }
  case RT_ELEM_INT32: return ((const int32_t *)p)[i];
  case RT_ELEM_UINT32: return ((const uint32_t *)p)[i];
  case RT_ELEM_INT16: return ((const int16_t *)p)[i];
  case RT_ELEM_UINT16: return ((const uint16_t *)p)[i];
  case RT_ELEM_INT8: return ((const int8_t *)p)[i];
  case RT_ELEM_UINT8: case RT_ELEM_BOOL: return ((const uint8_t *)p)[i];
  case RT_ELEM_FLOAT32: case RT_ELEM_FLOAT64: break;
  }
  return 0;
}

double rt_elem_get(rt_elem t, const void *p, size_t i) {
  if (t == RT_ELEM_FLOAT32)
    return ((const float *)p)[i];
  if (t == RT_ELEM_FLOAT64)
    return ((const double *)p)[i];
  return (double)rt_elem_get_int(t, p, i);
}
