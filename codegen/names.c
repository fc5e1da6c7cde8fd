#include "names.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const c_reserved[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
    "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
    "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
    "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "_Alignas",
    "_Alignof", "_Atomic", "_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn",
    "_Static_assert", "_Thread_local", "bool", "true", "false", "NULL", "main",
    "INFINITY", "NAN", "errno", "asm", "typeof", "int8_t", "int16_t", "int32_t",
    "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t", "size_t", "ptrdiff_t", NULL};

void names_init(name_scope *s, mem_arena *mem) {
  memset(s, 0, sizeof *s);
  s->mem = mem;
}

static bool taken(const name_scope *s, const char *name) {
  for (const char *const *k = c_reserved; *k; k++)
    if (strcmp(*k, name) == 0)
      return true;
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->names[i], name) == 0)
      return true;
  return false;
}

void names_reserve(name_scope *s, const char *name) {
  s->names = mem_grow(s->mem, s->names, sizeof *s->names, &s->cap, s->n + 1);
  s->names[s->n++] = mem_strdup(s->mem, name);
}

const char *names_make(name_scope *s, const char *raw, int max_len) {
  char base[128];
  int len = 0;
  if (max_len > 100)
    max_len = 100;
  if (!raw[0] || isdigit((unsigned char)raw[0]))
    base[len++] = 'v';
  for (const char *p = raw; *p && len < max_len; p++) {
    char c = *p;
    base[len++] = isalnum((unsigned char)c) ? c : '_';
  }
  base[len] = '\0';
  /* Identifiers with "__" or a leading "_X" are reserved to the implementation. */
  for (int i = 0; i + 1 < len; i++)
    if (base[i] == '_' && base[i + 1] == '_')
      base[i + 1] = 'x';
  if (base[0] == '_')
    base[0] = 'v';
  char name[160];
  snprintf(name, sizeof name, "%s", base);
  for (int k = 2; taken(s, name); k++)
    snprintf(name, sizeof name, "%s_%d", base, k);
  names_reserve(s, name);
  return s->names[s->n - 1];
}

const char *names_comment(mem_arena *mem, const char *raw) {
  size_t n = strlen(raw);
  char *out = mem_alloc(mem, 2 * n + 1);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    char c = raw[i];
    if (c == '\n' || c == '\r' || (unsigned char)c < 0x20)
      c = ' ';
    out[k++] = c;
    /* Break up both comment delimiters and trigraph-like "??". */
    if ((c == '*' && raw[i + 1] == '/') || (c == '/' && raw[i + 1] == '*') ||
        (c == '?' && raw[i + 1] == '?'))
      out[k++] = ' ';
  }
  out[k] = '\0';
  return out;
}

const char *names_base_ident(mem_arena *mem, const char *path) {
  const char *slash = strrchr(path, '/');
  char *b = mem_strdup(mem, slash ? slash + 1 : path);
  char *dot = strrchr(b, '.');
  if (dot && dot != b)
    *dot = '\0';
  name_scope s;
  names_init(&s, mem);
  return names_make(&s, b, 40);
}
