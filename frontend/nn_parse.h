/* The .nn parser: tokens to a syntax tree, reporting every syntax error it
 * can find in one run (after an error it resumes at the next line). */
#ifndef NNCC_NN_PARSE_H
#define NNCC_NN_PARSE_H

#include "mem.h"
#include "nn_ast.h"
#include "nn_lex.h"

nn_file *nn_parse(nn_source *s, const nn_tokens *toks, mem_arena *mem);
/* Parses text as one value (a default written in .nn syntax); NULL when it
 * is not exactly one value. */
nn_value *nn_parse_value_text(const char *text, mem_arena *mem);

#endif
