/* A .nn source text and its diagnostics. Every message points at a place in
 * the text: "file:line:col: error: ...", the source line, a caret under the
 * token, and an optional hint. */
#ifndef NNCC_NN_SOURCE_H
#define NNCC_NN_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "diag.h"

/* After this many errors nothing more is printed and the frontend stops
 * early: a garbled file should not scroll a thousand lines. */
#define NN_MAX_ERRORS 30

/* A span of the text. line and col are 1-based; col counts characters
 * (UTF-8 sequences count once). pos and len are byte offsets. */
typedef struct nn_loc {
  int line, col;
  int pos, len;
} nn_loc;

typedef struct nn_source {
  const char *path;
  const char *text;
  int len;
  FILE *out;         /* where diagnostics go; NULL: stderr */
  int errors;
  bool last_printed; /* the last error was printed: a hint may follow it */
} nn_source;

#include <stdarg.h>

void nn_error(nn_source *s, nn_loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void nn_verror(nn_source *s, nn_loc at, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
/* "  hint: ..." under the error just reported. */
void nn_hint(nn_source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "file:line:col: note: ..." with its line and caret, after an error. */
void nn_note(nn_source *s, nn_loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* True once NN_MAX_ERRORS errors were reported: callers stop working. */
bool nn_too_many(const nn_source *s);

#endif
