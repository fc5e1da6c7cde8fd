/* Whole-file reads and atomic writes, shared by the frontends and the CLI. */
#ifndef NNCC_FILE_H
#define NNCC_FILE_H

#include <stddef.h>

#include "diag.h"

/* Reads a whole file into a malloc'd buffer (NUL-terminated); reports and
 * returns NULL on failure. */
unsigned char *file_read(const char *path, size_t *size);
/* Writes data to path through a temporary file and a rename, so a failed
 * compile never leaves a half-written output behind. */
nn_status file_write_atomic(const char *path, const void *data, size_t size);
/* The directory part of path ("." when none), malloc'd. */
char *file_dirname(const char *path);

#endif
