/* NumPy .npy files (format 1.0-3.0, little-endian, C order): inputs and
 * outputs of `nncc run`, and datasets for training. */
#ifndef NNCC_NPY_H
#define NNCC_NPY_H

#include "diag.h"
#include "ir.h"

/* Reads path into t as a weight (dtype, dims, data). */
nn_status npy_read(const char *path, mem_arena *mem, ir_tensor *t);
/* Writes t's dtype, dims and `data` (numel * dtype size bytes). */
nn_status npy_write(const char *path, const ir_tensor *t, const void *data);

#endif
