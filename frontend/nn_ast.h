/* The .nn syntax tree: what the parser builds and the lowering reads. All of
 * it lives in the compile arena. */
#ifndef NNCC_NN_AST_H
#define NNCC_NN_AST_H

#include <stdbool.h>
#include <stdint.h>

#include "nn_source.h"

/* Most axes of one sample: the IR allows 8, one goes to the batch. */
#define NN_MAX_RANK 7
/* Largest size, count or dimension a file may write: keeps every product of
 * a few of them far from int64 overflow. */
#define NN_MAX_DIM (1 << 30)

typedef enum { NN_V_INT, NN_V_REAL, NN_V_BOOL, NN_V_IDENT, NN_V_STRING, NN_V_LIST, NN_V_CALL } nn_vkind;

typedef struct nn_value nn_value;

typedef struct nn_call_arg {
  const char *name; /* NULL for a positional argument */
  nn_loc name_loc;
  nn_value *value;
} nn_call_arg;

struct nn_value {
  nn_vkind kind;
  nn_loc loc;       /* the value's first token: a list's '[', a call's name */
  int64_t i;        /* NN_V_INT, NN_V_BOOL */
  double f;         /* NN_V_REAL (and NN_V_INT, converted) */
  const char *s;    /* NN_V_IDENT, NN_V_STRING, NN_V_CALL's name */
  nn_value **items; /* NN_V_LIST */
  int n_items;
  nn_call_arg *args; /* NN_V_CALL */
  int n_args;
  bool bad;         /* from a malformed token (reported): checks stay quiet */
};

typedef enum { NN_S_INPUT, NN_S_LAYER, NN_S_OUTPUT, NN_S_SEED } nn_skind;

typedef struct nn_stmt {
  nn_skind kind;
  nn_loc loc;           /* the statement's first token */
  const char *name;     /* input or layer name */
  nn_loc name_loc;
  nn_value *call;       /* NN_S_LAYER: an NN_V_CALL */
  int rank;             /* NN_S_INPUT: one sample's shape */
  int64_t dims[NN_MAX_RANK];
  const char *dtype;    /* NN_S_INPUT: element type name, NULL for float32 */
  nn_loc dtype_loc;
  nn_value **outputs;   /* NN_S_OUTPUT: identifiers */
  int n_outputs;
  int64_t seed;         /* NN_S_SEED */
  bool broken;          /* had a syntax error (reported) after its name */
} nn_stmt;

/* One line of a train block: `name = value`, or a call standing alone
 * (then name is the call's name and value the call). */
typedef struct nn_setting {
  const char *name;
  nn_loc loc;
  nn_value *value;
  bool bare_call;
} nn_setting;

typedef struct nn_model {
  const char *name;
  nn_loc loc; /* the name */
  nn_stmt *stmts;
  int n_stmts, cap_stmts;
  bool has_train;
  nn_loc train_loc;
  nn_setting *train;
  int n_train, cap_train;
} nn_model;

typedef struct nn_file {
  nn_model *models;
  int n_models, cap_models;
  nn_stmt *seed; /* a `seed N` statement before the first model */
} nn_file;

#endif
