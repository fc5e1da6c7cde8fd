#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "ir.h"

static int error_count;
static int quiet;

static void vreport(const char *kind, const char *path, const char *fmt, va_list ap) {
  fprintf(stderr, "nncc: %s: ", kind);
  if (path)
    fprintf(stderr, "%s: ", path);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

nn_status diag_error(const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("error", path, fmt, ap);
  va_end(ap);
  error_count++;
  return NN_ERR;
}

nn_status diag_node(const char *path, const ir_node *n, const char *fmt, ...) {
  fprintf(stderr, "nncc: error: %s: node '%s' (%s): ", path ? path : "<model>",
          n->name && n->name[0] ? n->name : "<unnamed>", n->op_type);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  error_count++;
  return NN_ERR;
}

void diag_warn(const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport("warning", path, fmt, ap);
  va_end(ap);
}

void diag_note(const char *fmt, ...) {
  if (quiet)
    return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nncc: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int diag_error_count(void) { return error_count; }
void diag_reset(void) { error_count = 0; }
void diag_set_quiet(int q) { quiet = q; }

void diag_fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nncc: fatal: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

void diag_bug(const char *file, int line, const char *msg) {
  fprintf(stderr, "nncc: internal error at %s:%d: %s\n", file, line, msg);
  abort();
}
