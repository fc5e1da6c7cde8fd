/* The register-blocked GEMM micro-kernel (compiler/ops/gemm_tile.c): an
 * mr x (nv * 8) block of Y kept in vector accumulators while the k loop
 * streams one column of A and one row of B per step. */
#ifndef NNCC_GEMM_TILE_H
#define NNCC_GEMM_TILE_H

#include "common.h"

#define GT_MR 6  /* rows per tile: 6 x 2 accumulators + 2 B vectors + 1 A broadcast fit 16 registers */
#define GT_VEC 8 /* floats per vector accumulator (AVX) */
#define GT_NR 16 /* columns per full tile */

typedef struct {
  int mr, nv;         /* rows, vectors of GT_VEC columns */
  const char *a;      /* A(r, k) = a[r * lda + k] */
  int64_t lda;
  const char *b;      /* B(k, j) = b[k * ldb + j] */
  int64_t ldb;
  const char *y;      /* Y(r, j) = y[r * ldy + j] */
  int64_t ldy;
  const char *kc;     /* k steps, an expression */
  const char *first;  /* condition: Y starts from the bias (else Y += A B); NULL: always */
  const char *bias;   /* row r starts at bias[r]; NULL: at zero */
  const char *cols;   /* valid columns of a partial tile (an expression); NULL: all */
  bool clamp;         /* clamp Y to [lo, hi] (infinite: no bound) when storing... */
  double lo, hi;
  const char *last;   /* ...if this condition holds (the last k pass); NULL: always */
} gemm_tile;

/* Declares the vector types the tiles use; once, at the top of the body
 * (clamps: some tile clamps, which needs the mask type). */
void emit_gemm_tile_types(emit_ctx *e, bool clamps);
/* One tile: Y = (first ? bias : Y) + A B over kc steps. */
void emit_gemm_tile(emit_ctx *e, const gemm_tile *t);

#endif
