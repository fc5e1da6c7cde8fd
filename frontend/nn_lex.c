/* The .nn lexer: one pass over the bytes, tokens into an arena array. Every
 * malformed piece is reported and skipped, so the parser always gets a
 * token stream ending in NN_T_EOF. */
#include "nn_lex.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
  nn_source *s;
  bool *bad_line;
  mem_arena *mem;
  int pos, line, col;
  nn_tokens out;
  int cap;
} lexer;

static const struct {
  const char *word;
  nn_tok_kind kind;
} keywords[] = {
    {"model", NN_T_MODEL}, {"input", NN_T_INPUT}, {"output", NN_T_OUTPUT},
    {"train", NN_T_TRAIN}, {"true", NN_T_TRUE},   {"false", NN_T_FALSE},
};

static int peek(const lexer *L, int ahead) {
  int p = L->pos + ahead;
  return p < L->s->len ? (unsigned char)L->s->text[p] : -1;
}

/* Moves one byte; columns count characters, so UTF-8 continuation bytes
 * do not advance them. */
static void advance(lexer *L) {
  unsigned char c = (unsigned char)L->s->text[L->pos++];
  if (c == '\n') {
    L->line++;
    L->col = 1;
  } else if ((c & 0xC0) != 0x80) {
    L->col++;
  }
}

/* A lexical error: reported, and its line marked for the parser. */
static void lex_error(lexer *L, nn_loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void lex_error(lexer *L, nn_loc at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  nn_verror(L->s, at, fmt, ap);
  va_end(ap);
  L->bad_line[at.line] = true;
}

static nn_loc here(const lexer *L) { return (nn_loc){L->line, L->col, L->pos, 0}; }

static nn_tok *push(lexer *L, nn_tok_kind kind, nn_loc at) {
  L->out.t = mem_grow(L->mem, L->out.t, sizeof *L->out.t, &L->cap, L->out.n + 1);
  nn_tok *t = &L->out.t[L->out.n++];
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->loc = at;
  t->loc.len = L->pos - at.pos;
  return t;
}

static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_alnum(int c) { return is_alpha(c) || is_digit(c); }

static char *slice(const lexer *L, nn_loc at) {
  int n = L->pos - at.pos;
  char *p = mem_alloc(L->mem, (size_t)n + 1);
  memcpy(p, L->s->text + at.pos, (size_t)n);
  return p;
}

static void lex_word(lexer *L) {
  nn_loc at = here(L);
  while (is_alnum(peek(L, 0)))
    advance(L);
  char *w = slice(L, at);
  nn_tok_kind kind = NN_T_IDENT;
  for (size_t k = 0; k < sizeof keywords / sizeof *keywords; k++)
    if (strcmp(w, keywords[k].word) == 0)
      kind = keywords[k].kind;
  push(L, kind, at)->s = w;
}

/* digits [ "." digits ] [ ("e"|"E") ["+"|"-"] digits ], or "." digits.
 * A letter or digit glued to the end makes the whole word malformed. */
static void lex_number(lexer *L) {
  nn_loc at = here(L);
  bool real = false;
  while (is_digit(peek(L, 0)))
    advance(L);
  if (peek(L, 0) == '.') {
    real = true;
    advance(L);
    while (is_digit(peek(L, 0)))
      advance(L);
  }
  int e = peek(L, 0);
  if ((e == 'e' || e == 'E') &&
      (is_digit(peek(L, 1)) || ((peek(L, 1) == '+' || peek(L, 1) == '-') && is_digit(peek(L, 2))))) {
    real = true;
    advance(L);
    advance(L);
    while (is_digit(peek(L, 0)))
      advance(L);
  }
  bool junk = false;
  while (is_alnum(peek(L, 0)) || peek(L, 0) == '.') {
    junk = true;
    advance(L);
  }
  char *text = slice(L, at);
  nn_tok *t = push(L, real ? NN_T_REAL : NN_T_INT, at);
  const char *src = L->s->text + at.pos; /* messages quote the source itself */
  errno = 0;
  if (real)
    t->f = strtod(text, NULL); /* a malformed number keeps its numeric prefix */
  else
    t->i = strtoll(text, NULL, 10);
  t->bad = junk || (errno == ERANGE && (!real || isinf(t->f)));
  if (junk) {
    lex_error(L, t->loc, "malformed number '%.*s'", t->loc.len, src);
    if (memchr(src, 'x', (size_t)t->loc.len))
      nn_hint(L->s, "sizes in several dimensions are lists, e.g. [3, 3]");
  } else if (errno == ERANGE && (!real || isinf(t->f))) {
    lex_error(L, t->loc, "%s '%.*s' is too large", real ? "number" : "integer", t->loc.len, src);
    t->i = 1;
    t->f = 1;
  }
}

/* "..." with \" \\ \n \t escapes, on one line. */
static void lex_string(lexer *L) {
  nn_loc at = here(L);
  advance(L);
  int span = 0; /* bytes up to the closing quote or the end of the line */
  while (L->pos + span < L->s->len && L->s->text[L->pos + span] != '"' &&
         L->s->text[L->pos + span] != '\n')
    span += L->s->text[L->pos + span] == '\\' && L->pos + span + 1 < L->s->len ? 2 : 1;
  char *buf = mem_alloc(L->mem, (size_t)span + 1);
  int n = 0;
  for (;;) {
    int c = peek(L, 0);
    if (c < 0 || c == '\n') {
      nn_tok *t = push(L, NN_T_STRING, at);
      t->s = buf;
      lex_error(L, at, "unterminated string");
      nn_hint(L->s, "a string ends with \" on the same line");
      return;
    }
    if (c == '"')
      break;
    if (c == '\\') {
      nn_loc esc = here(L);
      advance(L);
      c = peek(L, 0);
      if (c == 'n' || c == 't' || c == '"' || c == '\\') {
        buf[n++] = c == 'n' ? '\n' : c == 't' ? '\t' : (char)c;
        advance(L);
      } else {
        esc.len = c >= 0x20 && c < 0x7f ? 2 : 1;
        lex_error(L, esc, "unknown escape in a string (only \\\" \\\\ \\n \\t)");
      }
      continue;
    }
    buf[n++] = (char)c;
    advance(L);
  }
  advance(L);
  push(L, NN_T_STRING, at)->s = buf;
}

static void lex_comment(lexer *L) {
  while (peek(L, 0) >= 0 && peek(L, 0) != '\n')
    advance(L);
}

/* A character that starts no token: reported once, and a whole UTF-8
 * sequence is skipped as one. */
static void lex_stray(lexer *L) {
  nn_loc at = here(L);
  int c = peek(L, 0);
  advance(L);
  while (peek(L, 0) >= 0 && (peek(L, 0) & 0xC0) == 0x80 && c >= 0xC0)
    advance(L);
  at.len = L->pos - at.pos;
  if (c >= 0x20 && c < 0x7f)
    lex_error(L, at, "unexpected character '%c'", c);
  else
    lex_error(L, at, "unexpected byte 0x%02x", c);
  if (c == ';')
    nn_hint(L->s, "a statement ends at the end of its line; no ';' is needed");
  else if (c == ':')
    nn_hint(L->s, "options are written name=value, e.g. kernel=3");
}

static const nn_tok_kind single[128] = {
    ['('] = NN_T_LPAREN, [')'] = NN_T_RPAREN, ['['] = NN_T_LBRACK, [']'] = NN_T_RBRACK,
    ['{'] = NN_T_LBRACE, ['}'] = NN_T_RBRACE, [','] = NN_T_COMMA, ['='] = NN_T_EQ,
    ['-'] = NN_T_MINUS,
};

nn_tokens nn_lex(nn_source *s, mem_arena *mem) {
  lexer L = {.s = s, .mem = mem, .line = 1, .col = 1};
  int lines = 2;
  for (int i = 0; i < s->len; i++)
    lines += s->text[i] == '\n';
  L.bad_line = mem_alloc(mem, sizeof *L.bad_line * (size_t)(lines + 1));
  while (L.pos < s->len && !nn_too_many(s)) {
    int c = peek(&L, 0);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      advance(&L);
    } else if (c == '#') {
      lex_comment(&L);
    } else if (c == '\n') {
      nn_loc at = here(&L);
      advance(&L);
      if (L.out.n == 0 || L.out.t[L.out.n - 1].kind != NN_T_NEWLINE)
        push(&L, NN_T_NEWLINE, at)->loc.len = 0;
    } else if (is_alpha(c)) {
      lex_word(&L);
    } else if (is_digit(c) || (c == '.' && is_digit(peek(&L, 1)))) {
      lex_number(&L);
    } else if (c == '"') {
      lex_string(&L);
    } else if (c < 128 && single[c]) {
      nn_loc at = here(&L);
      advance(&L);
      push(&L, single[c], at);
    } else {
      lex_stray(&L);
    }
  }
  nn_loc end = here(&L);
  L.pos = s->len;
  push(&L, NN_T_EOF, end)->loc.len = 0;
  L.out.bad_line = L.bad_line;
  L.out.n_lines = lines;
  return L.out;
}

const char *nn_tok_desc(mem_arena *mem, const nn_tok *t) {
  switch (t->kind) {
  case NN_T_EOF: return "the end of the file";
  case NN_T_NEWLINE: return "the end of the line";
  case NN_T_INT: return mem_printf(mem, "the number %lld", (long long)t->i);
  case NN_T_REAL: return mem_printf(mem, "the number %g", t->f);
  case NN_T_STRING: return "a string";
  case NN_T_IDENT: return mem_printf(mem, "'%s'", t->s);
  case NN_T_MODEL: case NN_T_INPUT: case NN_T_OUTPUT: case NN_T_TRAIN: case NN_T_TRUE:
  case NN_T_FALSE:
    return mem_printf(mem, "the keyword '%s'", t->s);
  default: {
    static const char punct[] = "()[]{},=-";
    return mem_printf(mem, "'%c'", punct[t->kind - NN_T_LPAREN]);
  }
  }
}
