/* Located diagnostics for .nn files, in the style of C compilers, so editors
 * and people find the spot at once. */
#include <stdarg.h>
#include <string.h>

#include "nn_source.h"

static FILE *out_of(const nn_source *s) { return s->out ? s->out : stderr; }

static bool is_cont(unsigned char c) { return (c & 0xC0) == 0x80; }

/* The line holding byte pos: its start and end offsets. */
static void line_span(const nn_source *s, int pos, int *start, int *end) {
  if (pos > s->len)
    pos = s->len;
  int a = pos, b = pos;
  while (a > 0 && s->text[a - 1] != '\n')
    a--;
  while (b < s->len && s->text[b] != '\n')
    b++;
  *start = a;
  *end = b;
}

/* The source line, then a caret line: tabs are copied so the caret lines up,
 * control bytes print as '?' so they cannot garble a terminal. */
static void show_line(const nn_source *s, nn_loc at) {
  FILE *f = out_of(s);
  int a, b;
  line_span(s, at.pos, &a, &b);
  if (b > 0 && b > a && s->text[b - 1] == '\r')
    b--;
  fprintf(f, "%5d | ", at.line);
  for (int i = a; i < b; i++) {
    unsigned char c = (unsigned char)s->text[i];
    fputc(c == '\t' || c >= 0x20 ? (c == 0x7f ? '?' : c) : '?', f);
  }
  fputs("\n      | ", f);
  int pos = at.pos < a ? a : at.pos > b ? b : at.pos;
  for (int i = a; i < pos; i++)
    if (!is_cont((unsigned char)s->text[i]))
      fputc(s->text[i] == '\t' ? '\t' : ' ', f);
  fputc('^', f);
  int end = at.pos + at.len > b ? b : at.pos + at.len, chars = 0;
  for (int i = pos; i < end; i++)
    chars += !is_cont((unsigned char)s->text[i]);
  for (int i = 1; i < chars; i++)
    fputc('~', f);
  fputc('\n', f);
}

static void report(nn_source *s, nn_loc at, const char *kind, const char *fmt, va_list ap) {
  FILE *f = out_of(s);
  fprintf(f, "%s:%d:%d: %s: ", s->path, at.line, at.col, kind);
  vfprintf(f, fmt, ap);
  fputc('\n', f);
  show_line(s, at);
}

void nn_verror(nn_source *s, nn_loc at, const char *fmt, va_list ap) {
  s->errors++;
  s->last_printed = s->errors <= NN_MAX_ERRORS;
  if (s->last_printed)
    report(s, at, "error", fmt, ap);
}

void nn_error(nn_source *s, nn_loc at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  nn_verror(s, at, fmt, ap);
  va_end(ap);
}

void nn_hint(nn_source *s, const char *fmt, ...) {
  if (!s->last_printed)
    return;
  FILE *f = out_of(s);
  va_list ap;
  va_start(ap, fmt);
  fputs("  hint: ", f);
  vfprintf(f, fmt, ap);
  fputc('\n', f);
  va_end(ap);
}

void nn_note(nn_source *s, nn_loc at, const char *fmt, ...) {
  if (!s->last_printed)
    return;
  va_list ap;
  va_start(ap, fmt);
  report(s, at, "note", fmt, ap);
  va_end(ap);
}

bool nn_too_many(const nn_source *s) { return s->errors >= NN_MAX_ERRORS; }
