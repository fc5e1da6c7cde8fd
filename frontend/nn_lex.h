/* Tokens of the .nn language, each with its place in the text. */
#ifndef NNCC_NN_LEX_H
#define NNCC_NN_LEX_H

#include <stdint.h>

#include "mem.h"
#include "nn_source.h"

typedef enum {
  NN_T_EOF, NN_T_NEWLINE, NN_T_IDENT, NN_T_INT, NN_T_REAL, NN_T_STRING,
  NN_T_LPAREN, NN_T_RPAREN, NN_T_LBRACK, NN_T_RBRACK, NN_T_LBRACE, NN_T_RBRACE,
  NN_T_COMMA, NN_T_EQ, NN_T_MINUS,
  NN_T_MODEL, NN_T_INPUT, NN_T_OUTPUT, NN_T_TRAIN, NN_T_TRUE, NN_T_FALSE,
} nn_tok_kind;

typedef struct nn_tok {
  nn_tok_kind kind;
  nn_loc loc;
  const char *s; /* identifier or keyword spelling, string contents */
  int64_t i;     /* NN_T_INT */
  double f;      /* NN_T_REAL */
  bool bad;      /* malformed (reported): users stay quiet about it */
} nn_tok;

typedef struct nn_tokens {
  nn_tok *t;
  int n;          /* the last one is always NN_T_EOF */
  bool *bad_line; /* [line]: the lexer reported an error there */
  int n_lines;
} nn_tokens;

/* Splits the whole text into tokens, reporting bad characters, numbers and
 * strings as it goes (each is skipped, or kept with a usable value, so
 * lexing always finishes). Runs of blank lines and comments give one
 * NN_T_NEWLINE. The parser stays quiet about lines marked in bad_line: one
 * mistake gives one message. */
nn_tokens nn_lex(nn_source *s, mem_arena *mem);
/* How a message names a token: "'dense'", "')'", "the number 3", "the end of the line". */
const char *nn_tok_desc(mem_arena *mem, const nn_tok *t);

#endif
