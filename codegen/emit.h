/* What an op's emitter sees: the body buffer of its node function and a few
 * helpers for loops, indices and literals. Inputs are named in0.., outputs
 * out0..; a parameter the body never mentions is left out of the function. */
#ifndef NNCC_EMIT_H
#define NNCC_EMIT_H

#include <stdint.h>

#include "cbuf.h"
#include "ir.h"

typedef struct emit_ctx {
  cbuf *body;
  ir_graph *g;
  int counter; /* for emit_tmp names */
  bool can_fail; /* the body may `return 1;` (string room exceeded); else it falls through */
} emit_ctx;

/* Loops whose total work (iterations x work per iteration) reaches this run
 * on OpenMP threads; smaller ones stay serial. */
#define EMIT_PARALLEL_WORK 32768

#define emit_line(e, ...) cb_line((e)->body, __VA_ARGS__)
#define emit_open(e, ...) cb_open((e)->body, __VA_ARGS__)
#define emit_close(e) cb_close((e)->body)

/* for (int64_t var = 0; var < n; var++) { */
void emit_for(emit_ctx *e, const char *var, int64_t n);
/* The same, on OpenMP threads when n * work_per_iter >= EMIT_PARALLEL_WORK. */
void emit_parallel_for(emit_ctx *e, const char *var, int64_t n, int64_t work_per_iter);
/* Opens one loop per dimension of `t` with variables <prefix>0..; returns
 * how many loops it opened (close each with emit_close). Rank 0 opens none. */
int emit_loops(emit_ctx *e, const ir_tensor *t, const char *prefix);
/* Linear index into `in` for loop variables <prefix>0.. over `out`'s dims,
 * with NumPy broadcasting (in's dims align to out's trailing dims). */
const char *emit_bcast_index(emit_ctx *e, const ir_tensor *in, const ir_tensor *out,
                             const char *prefix);
/* A C literal of type float ("1.5f", "INFINITY", "NAN") or of t's C type. */
const char *emit_float(emit_ctx *e, double v);
const char *emit_literal(emit_ctx *e, ir_dtype t, double v);
/* A fresh identifier with the given stem, unique within the node. */
const char *emit_tmp(emit_ctx *e, const char *stem);
/* s as a C string literal (bytes outside printable ASCII escaped). */
const char *emit_string_literal(emit_ctx *e, const char *s);
/* Row-major strides of t, in elements. */
void emit_strides(const ir_tensor *t, int64_t *strides);

#endif
