/* The .nn door: a network written in nncc's own language, lowered to the
 * same IR the ONNX loader builds (docs/language.md). */
#ifndef NNCC_NN_H
#define NNCC_NN_H

#include <stdio.h>

#include "ir.h"
#include "nn_train.h"

/* The shapes the frontend worked out for each layer's output (batch
 * first), so tests can check them against the pipeline's own inference. */
typedef struct nn_shape_log {
  struct nn_logged {
    ir_tensor *t;
    int rank;
    int64_t dims[IR_MAX_RANK];
  } *at;
  int n, cap;
} nn_shape_log;

typedef struct nn_load_options {
  nn_train_config *train; /* when not NULL: the first model's train section */
  FILE *diag;             /* where messages go; NULL: stderr */
  int64_t max_weights;    /* weight elements a model may have; 0: NN_DEFAULT_MAX_WEIGHTS */
  int *errors;            /* when not NULL: the number of errors reported */
  nn_shape_log *shapes;   /* when not NULL: filled (in the arena) */
  const char *model;      /* the model to load, by name; NULL: the file's first */
} nn_load_options;

#define NN_DEFAULT_MAX_WEIGHTS ((int64_t)1 << 28)

/* Loads one model of a .nn file, o->model or the first (every model is
 * checked). Every
 * problem is reported as file:line:col with the line and a caret; NULL
 * comes back if there was any. o may be NULL. */
ir_graph *nn_load(const char *path, mem_arena *mem, const nn_load_options *o);
/* The same from text in memory (len bytes; need not be NUL-terminated). */
ir_graph *nn_load_text(const char *path, const char *text, size_t len, mem_arena *mem,
                       const nn_load_options *o);

/* The reference tables of docs/language.md (layers, activations,
 * initialisers, train settings) as markdown, from the compiler's own tables. */
void nn_doc_tables(FILE *f);

#endif
