/* Pattern -> syntax tree (recursive descent, one function per rule) ->
 * Thompson NFA. Counted repeats copy their body's states, so the tree is
 * kept and turned into states once per copy. */
#include "regex.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_EMPTY, T_CLASS, T_ASSERT, T_CAT, T_ALT, T_REPEAT } tree_kind;

typedef struct tree {
  tree_kind kind;
  int arg;              /* T_CLASS: class index; T_ASSERT: assertion */
  int min, max;         /* T_REPEAT: max -1 for no limit */
  struct tree *a, *b;   /* T_CAT, T_ALT: both; T_REPEAT: a */
} tree;

typedef struct parser {
  const char *pattern, *p;
  mem_arena *mem;
  rx_program *prog;
  int cap_classes, cap_ranges, cap_states;
  char *err;
  size_t err_size;
  bool failed;
} parser;

static bool fail(parser *P, const char *what) {
  if (!P->failed)
    snprintf(P->err, P->err_size, "%s at offset %d", what, (int)(P->p - P->pattern));
  P->failed = true;
  return false;
}

static tree *node(parser *P, tree_kind kind, tree *a, tree *b) {
  tree *t = mem_alloc(P->mem, sizeof *t);
  t->kind = kind;
  t->a = a;
  t->b = b;
  return t;
}

/* ---- classes ---- */

static void add_range(parser *P, uint32_t lo, uint32_t hi) {
  rx_program *g = P->prog;
  g->ranges = mem_grow(P->mem, g->ranges, sizeof *g->ranges, &P->cap_ranges, g->n_ranges + 1);
  g->ranges[g->n_ranges][0] = lo;
  g->ranges[g->n_ranges][1] = hi;
  g->n_ranges++;
}

/* A new class whose ranges are the ones added from here on. */
static int begin_class(parser *P, bool negated) {
  rx_program *g = P->prog;
  g->classes = mem_grow(P->mem, g->classes, sizeof *g->classes, &P->cap_classes, g->n_classes + 1);
  g->classes[g->n_classes] = (rx_class){.first = g->n_ranges, .negated = negated};
  return g->n_classes++;
}

static void end_class(parser *P, int k) {
  P->prog->classes[k].count = P->prog->n_ranges - P->prog->classes[k].first;
}

static const uint32_t word_ranges[][2] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
static const uint32_t digit_ranges[][2] = {{'0', '9'}};
static const uint32_t space_ranges[][2] = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}};

/* Adds the ranges of \w \d \s, or of their complements (\W \D \S), sorted. */
static void add_perl_class(parser *P, char letter) {
  const uint32_t(*r)[2] = word_ranges;
  int n = 4;
  char lower = (char)(letter | 0x20);
  if (lower == 'd')
    r = digit_ranges, n = 1;
  else if (lower == 's')
    r = space_ranges, n = 3;
  if (letter == lower) {
    for (int i = 0; i < n; i++)
      add_range(P, r[i][0], r[i][1]);
    return;
  }
  uint32_t next = 0;
  for (int i = 0; i < n; next = r[i][1] + 1, i++)
    if (r[i][0] > next)
      add_range(P, next, r[i][0] - 1);
  add_range(P, next, 0x10ffff);
}

static tree *class_tree(parser *P, int k) {
  tree *t = node(P, T_CLASS, NULL, NULL);
  t->arg = k;
  return t;
}

/* ---- escapes and literals ---- */

/* One literal code point at P->p (after any backslash was taken); -1 and a
 * message when the escape is not supported. */
static int32_t escaped_literal(parser *P) {
  char c = *P->p;
  const char *controls = "n\nt\tr\rf\fv\va\a";
  for (const char *k = controls; *k; k += 2)
    if (c == k[0]) {
      P->p++;
      return (unsigned char)k[1];
    }
  if (c == 'x') { /* \xHH or \x{H...} */
    const char *s = ++P->p;
    long v = -1;
    char *end;
    if (*s == '{') {
      v = strtol(s + 1, &end, 16);
      if (end == s + 1 || *end != '}' || s[1] == '-' || s[1] == '+')
        v = -1;
      else
        P->p = end + 1;
    } else if (isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1])) {
      char hex[3] = {s[0], s[1], 0};
      v = strtol(hex, NULL, 16);
      P->p += 2;
    }
    if (v < 0 || v > 0x10ffff) {
      fail(P, "malformed \\x escape");
      return -1;
    }
    return (int32_t)v;
  }
  if ((c >= 0 && c < 0x7f) && !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
    P->p++;
    return (unsigned char)c; /* escaped punctuation stands for itself */
  }
  char what[64];
  snprintf(what, sizeof what, "unsupported escape '\\%c'", c ? c : '0');
  fail(P, what);
  return -1;
}

static int32_t literal(parser *P) {
  int len;
  int32_t c = rx_decode((const unsigned char *)P->p, &len);
  P->p += len;
  return c;
}

/* class := '[' '^'? item+ ']'; item := \w | char ('-' char)? */
static tree *parse_class(parser *P) {
  P->p++; /* '[' */
  bool negated = *P->p == '^';
  P->p += negated;
  if (P->p[0] == '[' && P->p[1] == ':')
    return fail(P, "POSIX classes [:name:] are not supported"), NULL;
  int k = begin_class(P, negated);
  bool first = true;
  while (*P->p && (*P->p != ']' || first)) {
    first = false;
    int32_t lo;
    if (*P->p == '\\') {
      P->p++;
      char c = *P->p;
      if (strchr("wWdDsS", c) && c) {
        P->p++;
        add_perl_class(P, c);
        continue;
      }
      lo = escaped_literal(P);
    } else {
      lo = literal(P);
    }
    if (lo < 0)
      return NULL;
    int32_t hi = lo;
    if (P->p[0] == '-' && P->p[1] && P->p[1] != ']') {
      P->p++;
      if (*P->p == '\\') {
        P->p++;
        hi = escaped_literal(P);
      } else {
        hi = literal(P);
      }
      if (hi < 0)
        return NULL;
      if (hi < lo)
        return fail(P, "class range out of order"), NULL;
    }
    add_range(P, (uint32_t)lo, (uint32_t)hi);
  }
  if (*P->p != ']')
    return fail(P, "missing ']'"), NULL;
  P->p++;
  end_class(P, k);
  return class_tree(P, k);
}

/* ---- the grammar ---- */

static tree *parse_alt(parser *P);

/* atom := '(' ('?:')? alt ')' | class | '.' | '^' | '$' | '\' escape | literal */
static tree *parse_atom(parser *P) {
  char c = *P->p;
  if (c == '(') {
    P->p++;
    if (P->p[0] == '?') {
      if (P->p[1] != ':')
        return fail(P, "group flags and named groups (?...) are not supported"), NULL;
      P->p += 2;
    }
    tree *t = parse_alt(P);
    if (!t)
      return NULL;
    if (*P->p != ')')
      return fail(P, "missing ')'"), NULL;
    P->p++;
    return t;
  }
  if (c == '[')
    return parse_class(P);
  if (c == '^' || c == '$') {
    P->p++;
    tree *t = node(P, T_ASSERT, NULL, NULL);
    t->arg = c == '^' ? RX_BEGIN : RX_END;
    return t;
  }
  if (c == '.') { /* anything but a newline */
    P->p++;
    int k = begin_class(P, true);
    add_range(P, '\n', '\n');
    end_class(P, k);
    return class_tree(P, k);
  }
  if (c == '*' || c == '+' || c == '?') /* a '{' that is no count is a literal, as in RE2 */
    return fail(P, "repetition with nothing to repeat"), NULL;
  int32_t lit;
  if (c == '\\') {
    P->p++;
    char e = *P->p;
    if (e == 'b' || e == 'B') {
      P->p++;
      tree *t = node(P, T_ASSERT, NULL, NULL);
      t->arg = e == 'b' ? RX_WORD_BOUNDARY : RX_NOT_WORD_BOUNDARY;
      return t;
    }
    if (e && strchr("wWdDsS", e)) {
      P->p++;
      int k = begin_class(P, false);
      add_perl_class(P, e);
      end_class(P, k);
      return class_tree(P, k);
    }
    lit = escaped_literal(P);
  } else {
    lit = literal(P);
  }
  if (lit < 0)
    return NULL;
  int k = begin_class(P, false);
  add_range(P, (uint32_t)lit, (uint32_t)lit);
  end_class(P, k);
  return class_tree(P, k);
}

/* "{m}", "{m,}" or "{m,n}" at P->p: reads the counts; false when it is not one. */
static bool counted(parser *P, int *min, int *max) {
  const char *s = P->p + 1;
  char *end;
  long lo = strtol(s, &end, 10), hi;
  if (end == s || *s == '-' || *s == '+')
    return false;
  if (*end == '}') {
    hi = lo;
  } else if (end[0] == ',' && end[1] == '}') {
    hi = -1;
    end++;
  } else if (*end == ',') {
    s = end + 1;
    hi = strtol(s, &end, 10);
    if (end == s || *s == '-' || *s == '+' || *end != '}')
      return false;
  } else {
    return false;
  }
  if (lo > 1000 || hi > 1000 || (hi >= 0 && hi < lo))
    return fail(P, "repeat count out of range (at most 1000, and {m,n} with m <= n)");
  *min = (int)lo;
  *max = (int)hi;
  P->p = end + 1;
  return true;
}

/* repeat := atom ('*' | '+' | '?' | '{m}' | '{m,}' | '{m,n}')* ('?' for laziness) */
static tree *parse_repeat(parser *P) {
  tree *t = parse_atom(P);
  while (t) {
    int min, max;
    char c = *P->p;
    if (c == '*' || c == '+' || c == '?') {
      P->p++;
      min = c == '+';
      max = c == '?' ? 1 : -1;
    } else if (c == '{' && counted(P, &min, &max)) {
      ;
    } else {
      break;
    }
    if (*P->p == '?') /* lazy: the same language */
      P->p++;
    tree *r = node(P, T_REPEAT, t, NULL);
    r->min = min;
    r->max = max;
    t = r;
  }
  return P->failed ? NULL : t;
}

/* cat := repeat* */
static tree *parse_cat(parser *P) {
  tree *t = node(P, T_EMPTY, NULL, NULL);
  while (*P->p && *P->p != '|' && *P->p != ')') {
    tree *r = parse_repeat(P);
    if (!r)
      return NULL;
    t = t->kind == T_EMPTY ? r : node(P, T_CAT, t, r);
  }
  return t;
}

/* alt := cat ('|' cat)* */
static tree *parse_alt(parser *P) {
  tree *t = parse_cat(P);
  while (t && *P->p == '|') {
    P->p++;
    tree *r = parse_cat(P);
    if (!r)
      return NULL;
    t = node(P, T_ALT, t, r);
  }
  return t;
}

/* ---- tree -> states ---- */

static int new_state(parser *P, rx_kind kind, int arg, int next, int alt) {
  rx_program *g = P->prog;
  if (g->n_states >= RX_MAX_STATES) {
    fail(P, "pattern too large (more than 4096 NFA states; large counted repeats?)");
    return 0;
  }
  g->states = mem_grow(P->mem, g->states, sizeof *g->states, &P->cap_states, g->n_states + 1);
  g->states[g->n_states] = (rx_state){kind, arg, next, alt};
  return g->n_states++;
}

/* States for t that continue to `next`; returns t's entry state. Built back
 * to front, so every successor exists before the state pointing at it. */
static int build(parser *P, const tree *t, int next) {
  if (P->failed)
    return 0;
  switch (t->kind) {
  case T_EMPTY: return next;
  case T_CLASS: return new_state(P, RX_CLASS, t->arg, next, -1);
  case T_ASSERT: return new_state(P, RX_ASSERT, t->arg, next, -1);
  case T_CAT: return build(P, t->a, build(P, t->b, next));
  case T_ALT: {
    int b = build(P, t->b, next);
    return new_state(P, RX_SPLIT, 0, build(P, t->a, next), b);
  }
  case T_REPEAT: {
    int entry = next;
    if (t->max < 0) { /* a loop: split -> body -> back to the split */
      int loop = new_state(P, RX_SPLIT, 0, -1, next);
      int body = build(P, t->a, loop); /* may move the states: index after */
      P->prog->states[loop].next = body;
      entry = loop;
    } else {
      for (int k = t->min; k < t->max; k++) /* optional copies, innermost last */
        entry = new_state(P, RX_SPLIT, 0, build(P, t->a, entry), next), next = entry;
    }
    for (int k = 0; k < t->min; k++)
      entry = build(P, t->a, entry);
    return entry;
  }
  }
  return next;
}

bool rx_compile(const char *pattern, mem_arena *mem, rx_program *prog, char *err, size_t err_size) {
  memset(prog, 0, sizeof *prog);
  parser P = {.pattern = pattern, .p = pattern, .mem = mem, .prog = prog, .err = err,
              .err_size = err_size};
  tree *t = parse_alt(&P);
  if (t && *P.p == ')')
    fail(&P, "unmatched ')'");
  if (!t || P.failed)
    return fail(&P, "syntax error");
  prog->match = new_state(&P, RX_MATCH, 0, -1, -1);
  prog->start = build(&P, t, prog->match);
  return !P.failed;
}

/* ---- matching ---- */

int32_t rx_decode(const unsigned char *s, int *len) {
  int32_t c = s[0];
  *len = 1;
  if (!c) {
    *len = 0;
    return -1;
  }
  if ((c & 0xe0) == 0xc0 && (s[1] & 0xc0) == 0x80) {
    *len = 2;
    return (c & 0x1f) << 6 | (s[1] & 0x3f);
  }
  if ((c & 0xf0) == 0xe0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80) {
    *len = 3;
    return (c & 0x0f) << 12 | (s[1] & 0x3f) << 6 | (s[2] & 0x3f);
  }
  if ((c & 0xf8) == 0xf0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 &&
      (s[3] & 0xc0) == 0x80) {
    *len = 4;
    return (c & 0x07) << 18 | (s[1] & 0x3f) << 12 | (s[2] & 0x3f) << 6 | (s[3] & 0x3f);
  }
  return c;
}

static bool in_class(const rx_program *p, int k, int32_t c) {
  const rx_class *cl = &p->classes[k];
  bool found = false;
  for (int r = cl->first; r < cl->first + cl->count && !found; r++)
    found = (uint32_t)c >= p->ranges[r][0] && (uint32_t)c <= p->ranges[r][1];
  return c >= 0 && found != cl->negated;
}

static bool is_word(int32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool holds(int assertion, int32_t prev, int32_t next) {
  switch (assertion) {
  case RX_BEGIN: return prev < 0;
  case RX_END: return next < 0;
  case RX_WORD_BOUNDARY: return is_word(prev) != is_word(next);
  default: return is_word(prev) == is_word(next);
  }
}

/* Seeds -> the class and match states reachable without consuming, between
 * code points prev and next. */
static int closure(const rx_program *p, const int *seeds, int n_seeds, int32_t prev, int32_t next,
                   unsigned char *on, int *stack, int *list) {
  int n = 0, sp = 0;
  memset(on, 0, (size_t)p->n_states);
  for (int i = n_seeds - 1; i >= 0; i--)
    if (!on[seeds[i]]) {
      on[seeds[i]] = 1;
      stack[sp++] = seeds[i];
    }
  while (sp > 0) {
    int x = stack[--sp];
    const rx_state *s = &p->states[x];
    int push[2] = {-1, -1};
    if (s->kind == RX_SPLIT)
      push[0] = s->alt, push[1] = s->next;
    else if (s->kind == RX_ASSERT && holds(s->arg, prev, next))
      push[0] = s->next;
    else if (s->kind == RX_CLASS || s->kind == RX_MATCH)
      list[n++] = x;
    for (int k = 0; k < 2; k++)
      if (push[k] >= 0 && !on[push[k]]) {
        on[push[k]] = 1;
        stack[sp++] = push[k];
      }
  }
  return n;
}

bool rx_full_match(const rx_program *p, const char *text) {
  int S = p->n_states;
  int *seeds = malloc(sizeof *seeds * (size_t)S * 3);
  unsigned char *on = malloc((size_t)S);
  int *stack = seeds + S, *list = seeds + 2 * S;
  const unsigned char *s = (const unsigned char *)text;
  int n_seeds = 1, len;
  int32_t prev = -1;
  bool matched = false;
  seeds[0] = p->start;
  for (;;) {
    int32_t c = rx_decode(s, &len);
    int n = closure(p, seeds, n_seeds, prev, c, on, stack, list);
    if (c < 0) {
      matched = on[p->match];
      break;
    }
    n_seeds = 0;
    for (int i = 0; i < n; i++)
      if (p->states[list[i]].kind == RX_CLASS && in_class(p, p->states[list[i]].arg, c))
        seeds[n_seeds++] = p->states[list[i]].next;
    if (n_seeds == 0)
      break;
    prev = c;
    s += len;
  }
  free(seeds);
  free(on);
  return matched;
}
