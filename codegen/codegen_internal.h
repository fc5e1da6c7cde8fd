/* Shared between codegen's files only. */
#ifndef NNCC_CODEGEN_INTERNAL_H
#define NNCC_CODEGEN_INTERNAL_H

#include "cbuf.h"
#include "ir.h"
#include "names.h"

/* The conversions for 16-bit floats that `code` (the node functions) calls. */
void emit_half_prelude(cbuf *c, const char *code);
/* String tensors (emit_strings.c): the header's nn_str typedef and
 * PREFIX_STRING_BYTES, its contract lines, and the static arrays holding the
 * string weights some node reads (by tensor id in used). */
bool graph_has_strings(const ir_graph *g);
void emit_string_header(cbuf *h, const char *guard, int64_t string_bytes);
void emit_string_contract(cbuf *h, const char *guard);
const char *string_weight_name(const ir_tensor *t, mem_arena *mem);
void emit_string_weights(cbuf *c, const ir_graph *g, const bool *used);
/* Whether text contains ident as a whole identifier. */
bool emit_mentions(const char *text, const char *ident);

/* How a module names tensor t's storage inside an entry point, as a T*
 * expression (as_const: a pointer to const). */
typedef const char *(*emit_storage_fn)(void *module, ir_tensor *t, bool as_const);
/* Node n's static function into c (named after its schedule index and
 * name, unique in globals) and its call into call (emit_node.c). */
void emit_node_function(cbuf *c, cbuf *call, ir_graph *g, name_scope *globals, int index,
                        const ir_node *n, emit_storage_fn storage, void *module);
/* size bytes as `static const _Alignas(64) unsigned char name[size]`, one
 * string literal: compilers parse strings far faster than number lists. */
void emit_blob(cbuf *c, const char *name, const unsigned char *data, int64_t size);

#endif
