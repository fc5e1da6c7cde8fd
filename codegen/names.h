/* Names from the model never reach C raw: they become identifiers made of
 * [A-Za-z0-9_], never a keyword, unique in their scope; and comment text
 * that cannot close the comment. */
#ifndef NNCC_NAMES_H
#define NNCC_NAMES_H

#include "mem.h"

typedef struct name_scope {
  mem_arena *mem;
  char **names;
  int n, cap;
} name_scope;

void names_init(name_scope *s, mem_arena *mem);
/* Reserves a name as is (it must already be a valid identifier). */
void names_reserve(name_scope *s, const char *name);
/* A valid, unused identifier close to `raw`, at most `max_len` characters. */
const char *names_make(name_scope *s, const char *raw, int max_len);
/* "dir/name.c" -> "name" as a C identifier (a default symbol prefix). */
const char *names_base_ident(mem_arena *mem, const char *path);
/* `raw` with "*" "/" pairs and newlines defused, for use inside a comment. */
const char *names_comment(mem_arena *mem, const char *raw);

#endif
