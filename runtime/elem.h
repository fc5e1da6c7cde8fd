/* Element types of data: sizes, names, reading an item whatever its type. */
#ifndef NNCC_RT_ELEM_H
#define NNCC_RT_ELEM_H

#include <stddef.h>
#include <stdint.h>

#include "module.h"

size_t rt_elem_size(rt_elem t);
/* NumPy's name: "float32", "int64", "bool"... */
const char *rt_elem_name(rt_elem t);
int rt_elem_is_float(rt_elem t);
/* Item i of an array of type t, as a double (exact for every type but int64
 * beyond 2^53). */
double rt_elem_get(rt_elem t, const void *p, size_t i);
/* Item i of an array of an integer type, exactly. */
int64_t rt_elem_get_int(rt_elem t, const void *p, size_t i);

#endif
