/* IDX files (the MNIST family's format), plain or gzip-compressed. */
#ifndef NNCC_RT_IDX_H
#define NNCC_RT_IDX_H

#include <stddef.h>
#include <stdint.h>

typedef struct idx_file {
  int rank;
  uint32_t dims[4];
  size_t count;    /* dims[0]: number of records */
  size_t record;   /* bytes per record (product of the other dims) */
  uint8_t *data;   /* count * record bytes, unsigned 8-bit */
} idx_file;

/* Loads path; on failure prints "path: what is wrong" to stderr and returns -1. */
int idx_load(const char *path, idx_file *out);
void idx_free(idx_file *f);

#endif
