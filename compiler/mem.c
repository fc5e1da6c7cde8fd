#include "mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

typedef struct chunk {
  struct chunk *next;
  size_t used, size;
  _Alignas(16) unsigned char data[];
} chunk;

struct mem_arena {
  chunk *head;
};

void *xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p)
    diag_fatal("out of memory (%zu bytes)", size);
  return p;
}

void *xrealloc(void *p, size_t size) {
  p = realloc(p, size ? size : 1);
  if (!p)
    diag_fatal("out of memory (%zu bytes)", size);
  return p;
}

mem_arena *mem_new(void) {
  mem_arena *a = xmalloc(sizeof *a);
  a->head = NULL;
  return a;
}

void mem_free(mem_arena *a) {
  if (!a)
    return;
  for (chunk *c = a->head, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(a);
}

void *mem_alloc(mem_arena *a, size_t size) {
  size = (size + 15) & ~(size_t)15;
  chunk *c = a->head;
  if (!c || c->size - c->used < size) {
    size_t cap = size > (1u << 20) ? size : (1u << 20);
    c = xmalloc(sizeof *c + cap);
    c->size = cap;
    c->used = 0;
    /* Big one-off blocks go behind the current chunk so its free tail stays usable. */
    if (a->head && size > (1u << 19)) {
      c->next = a->head->next;
      a->head->next = c;
    } else {
      c->next = a->head;
      a->head = c;
    }
  }
  void *p = c->data + c->used;
  c->used += size;
  memset(p, 0, size);
  return p;
}

char *mem_strdup(mem_arena *a, const char *s) {
  size_t n = strlen(s);
  char *d = mem_alloc(a, n + 1);
  memcpy(d, s, n + 1);
  return d;
}

char *mem_printf(mem_arena *a, const char *fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  char probe[1]; /* measures the length (a NULL buffer upsets -Wformat-truncation) */
  int n = vsnprintf(probe, sizeof probe, fmt, ap);
  va_end(ap);
  char *s = mem_alloc(a, (size_t)n + 1);
  vsnprintf(s, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  return s;
}

void *mem_grow(mem_arena *a, void *old, size_t elem, int *cap, int need) {
  if (need <= *cap)
    return old;
  int ncap = *cap ? *cap : 8;
  while (ncap < need)
    ncap *= 2;
  void *p = mem_alloc(a, elem * (size_t)ncap);
  if (old)
    memcpy(p, old, elem * (size_t)*cap);
  *cap = ncap;
  return p;
}
