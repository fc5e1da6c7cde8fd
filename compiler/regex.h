/* RegexFullMatch's patterns, compiled at compile time into a Thompson NFA
 * over Unicode code points, which codegen writes out as tables (no regex
 * library at run time). The syntax is the part of RE2's that models use:
 * literals and escapes, `.`, classes `[...]` with ranges and negation,
 * \w \W \d \D \s \S, groups `(...)` and `(?:...)`, alternation, `* + ?`,
 * `{m}` `{m,}` `{m,n}` (a lazy `?` after them changes nothing for a full
 * match), anchors `^ $` and word boundaries \b \B. Anything else is refused
 * with a message saying what. */
#ifndef NNCC_REGEX_H
#define NNCC_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem.h"

typedef enum { RX_CLASS, RX_SPLIT, RX_ASSERT, RX_MATCH } rx_kind;
/* RX_ASSERT arguments: what must hold between the previous code point and
 * the next one (-1 at either end of the text). */
enum { RX_BEGIN, RX_END, RX_WORD_BOUNDARY, RX_NOT_WORD_BOUNDARY };

typedef struct rx_state {
  rx_kind kind;
  int arg;        /* RX_CLASS: class index; RX_ASSERT: one of the enum above */
  int next, alt;  /* successors; alt only for RX_SPLIT */
} rx_state;

/* A set of code points: ranges[first .. first + count), inverted when negated. */
typedef struct rx_class {
  int first, count;
  bool negated;
} rx_class;

typedef struct rx_program {
  rx_state *states;
  int n_states, start;
  int match; /* the one RX_MATCH state */
  rx_class *classes;
  int n_classes;
  uint32_t (*ranges)[2]; /* [lo, hi], inclusive */
  int n_ranges;
} rx_program;

/* The most NFA states a pattern may take (counted repeats copy their body). */
#define RX_MAX_STATES 4096

/* Compiles pattern (UTF-8) into p; on error returns false with a message
 * in err naming the offending construct and its byte offset. */
bool rx_compile(const char *pattern, mem_arena *mem, rx_program *p, char *err, size_t err_size);
/* Whether the whole of text (UTF-8) matches: the algorithm the generated C
 * runs, kept here for constant folding and tests. */
bool rx_full_match(const rx_program *p, const char *text);
/* Decodes one UTF-8 code point at s (a malformed byte stands for itself);
 * returns it, -1 at the NUL, and sets *len to the bytes it took. */
int32_t rx_decode(const unsigned char *s, int *len);

#endif
