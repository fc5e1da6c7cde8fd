/* The runtime's sources (the .c and .h files of runtime/), embedded at build time by
 * cmake/embed_runtime.cmake, for the trainers nncc writes. */
#ifndef NNCC_RUNTIME_FILES_H
#define NNCC_RUNTIME_FILES_H

typedef struct cg_runtime_file {
  const char *name; /* "trainer.c" */
  const char *text;
} cg_runtime_file;

extern const cg_runtime_file cg_runtime_files[];
extern const int cg_n_runtime_files;

#endif
