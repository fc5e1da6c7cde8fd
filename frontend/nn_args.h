/* Named things that take arguments -- layers, activations, initialisers,
 * losses, optimizers, schedules -- are table rows that start with an
 * nn_fn_def: a name and its parameters, each with a type, a range and a
 * default written in .nn syntax. One binder matches a call's arguments to
 * them and reports every mistake; the lowering then reads arguments by name. */
#ifndef NNCC_NN_ARGS_H
#define NNCC_NN_ARGS_H

#include "mem.h"
#include "nn_ast.h"

#define NN_MAX_PARAMS 16

typedef enum {
  NP_TENSOR,  /* the name of an earlier layer or input */
  NP_TENSORS, /* a list of such names */
  NP_INT,
  NP_INTS,    /* an integer, or a list of integers (one per axis) */
  NP_REAL,    /* a number */
  NP_BOOL,
  NP_CHOICE,  /* one of the words in `choices` ("a|b|c"), bare or quoted */
  NP_PADDING, /* valid, same, an integer or a list of integers */
  NP_SHAPE,   /* a list of dimensions; one may be -1 */
  NP_FN,      /* a name from `fns`, bare or called with its own arguments */
} nn_ptype;

typedef enum {
  NR_ANY,
  NR_POS,      /* > 0 */
  NR_NONNEG,   /* >= 0 */
  NR_FRACTION, /* 0 <= x < 1 */
  NR_SEED,     /* >= 0, up to INT64_MAX (the only range past NN_MAX_DIM) */
} nn_range;

struct nn_fn_set;

typedef struct nn_param {
  const char *name;
  nn_ptype type;
  nn_range range;
  const char *dflt;              /* .nn syntax; NULL: required; "": optional, see doc */
  const char *choices;           /* NP_CHOICE */
  const struct nn_fn_set *fns;   /* NP_FN */
  const char *doc;               /* what an absent "" parameter means, for the docs */
} nn_param;

typedef struct nn_fn_def {
  const char *name;
  int n_pos;                       /* leading parameters that may be given by position */
  nn_param params[NN_MAX_PARAMS];  /* up to the first with a NULL name */
} nn_fn_def;

/* A table whose rows each start with an nn_fn_def; a NULL name ends it. */
typedef struct nn_fn_set {
  const char *what;    /* "activation": how messages name a row */
  const char *example; /* "relu" */
  const void *rows;
  size_t stride;
} nn_fn_set;

typedef struct nn_bound {
  const nn_fn_def *def;
  nn_loc loc;                          /* the call, or the bare name */
  const nn_value *v[NN_MAX_PARAMS];    /* the argument, else its default, else NULL */
  bool given[NN_MAX_PARAMS];
  struct nn_bound *sub[NN_MAX_PARAMS]; /* NP_FN: the function's own arguments */
} nn_bound;

/* (Not "nn_bind": nanomsg, which Criterion loads, exports that name.)
 * Binds call (an NN_V_CALL, or an NN_V_IDENT naming def with no arguments)
 * to def's parameters; reports every problem and returns NN_ERR if any. */
nn_status nn_bind_args(nn_source *s, mem_arena *mem, const nn_fn_def *def, const nn_value *call,
                  nn_bound *out);

const nn_fn_def *nn_fn_find(const nn_fn_set *set, const char *name);
const nn_fn_def *nn_fn_at(const nn_fn_set *set, int i); /* NULL past the end */
/* The candidate closest to name by edit distance, when close enough to be
 * a typo; else NULL. */
const char *nn_closest(const char *name, const char *const *cands, int n);
const char *nn_closest_in_set(const nn_fn_set *set, const char *name);
/* "conv2d(x, filters)" */
const char *nn_signature(mem_arena *mem, const nn_fn_def *def);
/* How messages name a value: "the number 3", "'relu'", "a list". */
const char *nn_value_desc(mem_arena *mem, const nn_value *v);

int nn_param_index(const nn_fn_def *def, const char *name); /* -1 when absent */
const nn_value *nn_arg(const nn_bound *b, const char *name);
bool nn_arg_given(const nn_bound *b, const char *name);
int64_t nn_arg_int(const nn_bound *b, const char *name);
double nn_arg_real(const nn_bound *b, const char *name);
bool nn_arg_bool(const nn_bound *b, const char *name);
/* The word of an NP_CHOICE, NP_FN or NP_PADDING argument; NULL when the
 * argument is a number or list. */
const char *nn_arg_word(const nn_bound *b, const char *name);
nn_loc nn_arg_loc(const nn_bound *b, const char *name); /* the call's place when defaulted */
const nn_bound *nn_arg_fn(const nn_bound *b, const char *name);
/* An integer (repeated n times) or a list of n integers. */
nn_status nn_arg_ints(nn_source *s, const nn_bound *b, const char *name, int n, int64_t *out);
/* Both sides of n axes: one integer for all, a list of n (one per axis, both
 * sides) or 2n (begin and end of each axis in turn). */
nn_status nn_arg_sides(nn_source *s, const nn_bound *b, const char *name, int n, int64_t *begin,
                       int64_t *end);

#endif
