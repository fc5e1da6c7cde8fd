#include "cbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

void cb_init(cbuf *b) { memset(b, 0, sizeof *b); }

void cb_free(cbuf *b) {
  free(b->data);
  cb_init(b);
}

static void reserve(cbuf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1)
    cap *= 2;
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
}

void cb_bytes(cbuf *b, const char *s, size_t n) {
  reserve(b, n);
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
}

static void vappend(cbuf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  char probe[1];
  int n = vsnprintf(probe, sizeof probe, fmt, ap);
  reserve(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  b->len += (size_t)n;
}

void cb_raw(cbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vappend(b, fmt, ap);
  va_end(ap);
}

static void indent(cbuf *b) {
  for (int i = 0; i < b->indent; i++)
    cb_bytes(b, "  ", 2);
}

void cb_line(cbuf *b, const char *fmt, ...) {
  indent(b);
  va_list ap;
  va_start(ap, fmt);
  vappend(b, fmt, ap);
  va_end(ap);
  cb_bytes(b, "\n", 1);
}

void cb_open(cbuf *b, const char *fmt, ...) {
  indent(b);
  va_list ap;
  va_start(ap, fmt);
  vappend(b, fmt, ap);
  va_end(ap);
  cb_bytes(b, " {\n", 3);
  b->indent++;
}

void cb_close(cbuf *b) {
  if (b->indent > 0)
    b->indent--;
  indent(b);
  cb_bytes(b, "}\n", 2);
}

void cb_append(cbuf *b, const cbuf *other) {
  const char *p = other->data, *end = other->data + other->len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
    if (n > 1)
      indent(b);
    cb_bytes(b, p, n);
    p += n;
  }
}
