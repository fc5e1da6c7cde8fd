/* A growable text buffer that knows the indentation of C blocks. All C text
 * nncc writes goes through one of these. */
#ifndef NNCC_CBUF_H
#define NNCC_CBUF_H

#include <stddef.h>

typedef struct cbuf {
  char *data;
  size_t len, cap;
  int indent;
} cbuf;

void cb_init(cbuf *b);
void cb_free(cbuf *b);
/* Appends text as is (no indentation, no newline). */
void cb_raw(cbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cb_bytes(cbuf *b, const char *s, size_t n);
/* One indented line. */
void cb_line(cbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<text> {" and one level deeper. */
void cb_open(cbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "}" one level up. */
void cb_close(cbuf *b);
/* Appends another buffer's text, re-indented to b's level. */
void cb_append(cbuf *b, const cbuf *other);

#endif
