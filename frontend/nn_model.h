/* The state of lowering one model of a .nn file, shared by nn_lower.c
 * (statements in order) and nn_call.c (a layer that calls an earlier
 * model). Private to the .nn frontend. */
#ifndef NNCC_NN_MODEL_H
#define NNCC_NN_MODEL_H

#include "nn_ast.h"
#include "nn_lower.h"
#include "nn_train.h"

/* ---- names: an open-addressing hash table ---- */

typedef struct sym {
  const char *name;
  nn_loc loc;   /* its definition */
  int stmt;     /* the defining statement's index */
  bool defined; /* lowered already (else it comes later in the file) */
  nn_val v;
} sym;

typedef struct symtab {
  sym *s;
  int cap, n;
  mem_arena *mem;
} symtab;

sym *nn_sym_find(const symtab *t, const char *name);

/* ---- one model ---- */

/* Most layers a file may expand to through model calls: each call copies
 * the called model's layers, so calls of calls multiply. */
#define MAX_EXPANDED_LAYERS (1 << 14)

/* What a later model needs to use an earlier one. */
typedef struct model_info {
  bool ok;              /* lowered without errors */
  uint64_t seed;
  const nn_bound *init; /* its train block's init, or NULL */
} model_info;

typedef struct file_ctx {
  const nn_file *f;
  model_info *info; /* per model, filled as each is lowered */
  int64_t layers;   /* layers lowered so far, calls expanded */
  bool too_big;     /* past MAX_EXPANDED_LAYERS (reported) */
  nn_loc top;       /* the statement of the model being lowered (not of a model it calls) */
} file_ctx;

typedef struct model_ctx {
  nn_lower L;
  symtab syms;
  const nn_model *m;
  file_ctx *F;
  int index;             /* m's index in the file */
  const char *prefix;    /* inside a model call: the calling layer's name */
  int stmt;              /* the statement being lowered */
  bool clean;            /* no error before lowering began */
  nn_train_config train;
} model_ctx;

/* Every input and layer name of M->m, before lowering: duplicates are
 * reported, and a use before the definition can say where it is. */
void nn_declare_names(model_ctx *M);
/* The value an identifier names at the current statement; NULL after
 * reporting (or quietly, setting *quiet_fail, when it names a failed layer). */
const nn_val *nn_resolve(model_ctx *M, const nn_value *id, bool *quiet_fail);
/* A layer statement: a layer of the table, or a call of an earlier model. */
void nn_lower_layer_stmt(model_ctx *M, const nn_stmt *st);
/* An input's element type (reported when unknown: IR_UNDEFINED). */
ir_dtype nn_input_dtype(model_ctx *M, const nn_stmt *st);
/* Records v's shape for the caller's shape log (L->log must be set). */
void nn_log_shape(nn_lower *L, const nn_val *v);

/* ---- model calls (nn_call.c) ---- */

/* NAME = model(inputs..., out=OUTPUT) for model k of the file; `me` is NAME's symbol. */
void nn_lower_model_call(model_ctx *M, const nn_stmt *st, sym *me, int k);

#endif
