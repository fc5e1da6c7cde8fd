/* One arena per compile: everything the IR owns is carved from it and freed
 * at once. Allocation failure ends the process through one hook. */
#ifndef NNCC_MEM_H
#define NNCC_MEM_H

#include <stddef.h>

typedef struct mem_arena mem_arena;

mem_arena *mem_new(void);
void mem_free(mem_arena *a);
void *mem_alloc(mem_arena *a, size_t size);   /* zeroed, 16-byte aligned */
char *mem_strdup(mem_arena *a, const char *s);
char *mem_printf(mem_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Grows an array held in the arena to at least `need` elements. */
void *mem_grow(mem_arena *a, void *old, size_t elem, int *cap, int need);

/* malloc that never returns NULL (out of memory is fatal, not a user error). */
void *xmalloc(size_t size);
void *xrealloc(void *p, size_t size);

#endif
