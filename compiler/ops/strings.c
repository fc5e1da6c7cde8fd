/* String operators: StringConcat, StringNormalizer, StringSplit and
 * RegexFullMatch, and which other ops may carry strings. Elements are nn_str
 * (const char *) pointing at NUL-terminated UTF-8. New strings go into the
 * node's byte room (pass_strings.c), in slots: one per string made, or one
 * per input string for StringSplit's pieces; a string that does not fit
 * makes the node, and the entry point, return 1. */
#include <stdio.h>

#include "common.h"
#include "names.h"
#include "regex.h"

#define FMT(...) mem_printf(e->g->mem, __VA_ARGS__)

static nn_status check_strings(ir_graph *g, const ir_node *n, int k) {
  const ir_tensor *t = ir_in(n, k);
  if (!t || t->dtype != IR_STRING)
    return diag_node(g->path, n, "input %d must be a string tensor", k);
  return NN_OK;
}

/* "out<k>" of the node's byte room: its last output (pass_strings.c). */
static const char *room(emit_ctx *e, const ir_node *n) {
  return FMT("out%d", n->n_outputs - 1);
}

/* Room per slot: one string for StringConcat and StringNormalizer (slot i:
 * output element i); all the pieces of one input string for StringSplit (its
 * bytes, fewer than B, and a NUL per piece, at most B: 2B). */
static int64_t slot_bytes(const ir_graph *g, const ir_node *n) {
  return strcmp(n->op_type, "StringSplit") == 0 ? 2 * g->string_bytes : g->string_bytes;
}

int64_t string_room(const ir_graph *g, const ir_node *n) {
  const ir_tensor *out = ir_out(n, 0);
  if (!n->op || !out || strcmp(n->domain, "") != 0)
    return 0;
  if (strcmp(n->op_type, "StringSplit") == 0)
    return ir_numel(n->inputs[0]) * slot_bytes(g, n);
  bool changes_case = strcmp(ir_attr_string(n, "case_change_action", "NONE"), "NONE") != 0;
  if (strcmp(n->op_type, "StringConcat") == 0 ||
      (strcmp(n->op_type, "StringNormalizer") == 0 && changes_case))
    return ir_numel(out) * slot_bytes(g, n);
  return 0;
}

/* Slot i of the byte room as a char *. */
static const char *slot(emit_ctx *e, const ir_node *n, const char *i) {
  return FMT("(char *)%s + (%s) * %lld", room(e, n), i, (long long)slot_bytes(e->g, n));
}

/* ---- StringConcat ---- */

static nn_status infer_concat(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 2, 2) || check_strings(g, n, 0) || check_strings(g, n, 1))
    return NN_ERR;
  return infer_broadcast(g, n, n->outputs[0], true);
}

static void emit_concat(emit_ctx *e, const ir_node *n) {
  const ir_tensor *a = n->inputs[0], *b = n->inputs[1], *y = n->outputs[0];
  if (ir_numel(y) == 0)
    return;
  e->can_fail = true;
  int loops = emit_loops(e, y, "d");
  emit_line(e, "const int64_t i = %s;", emit_bcast_index(e, y, y, "d"));
  emit_line(e, "const char *a = in0[%s], *b = in1[%s];", emit_bcast_index(e, a, y, "d"),
            emit_bcast_index(e, b, y, "d"));
  emit_line(e, "const size_t la = strlen(a), lb = strlen(b);");
  emit_line(e, "char *s = %s;", slot(e, n, "i"));
  emit_line(e, "if (la + lb >= %lld)", (long long)e->g->string_bytes);
  emit_line(e, "  return 1;");
  emit_line(e, "memcpy(s, a, la);");
  emit_line(e, "memcpy(s + la, b, lb + 1);");
  emit_line(e, "out0[i] = s;");
  for (int i = 0; i < loops; i++)
    emit_close(e);
}

/* ---- StringNormalizer ---- */

static bool c_locale(const ir_node *n);

/* [C] or [1, C]; stopwords make the kept count data dependent. */
static nn_status infer_normalizer(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1) || check_strings(g, n, 0))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (!(x->rank == 1 || (x->rank == 2 && x->dims[0] == 1)))
    return diag_node(g->path, n, "the input must be [C] or [1, C], not rank %d", x->rank);
  const char *mode = ir_attr_string(n, "case_change_action", "NONE");
  if (strcmp(mode, "NONE") && strcmp(mode, "LOWER") && strcmp(mode, "UPPER"))
    return diag_node(g->path, n, "case_change_action must be NONE, LOWER or UPPER, not '%s'", mode);
  const ir_attr *locale = ir_attr_find(n, "locale");
  if (locale && locale->type == IR_ATTR_STRING && locale->s[0] && strncmp(locale->s, "en", 2) &&
      !c_locale(n))
    return diag_node(g->path, n, "locale '%s': nncc changes case for English text only", locale->s);
  const ir_attr *stop = ir_attr_find(n, "stopwords");
  int64_t dims[2] = {1, x->dims[x->rank - 1]};
  if (stop && stop->n > 0 && dims[1] == 0)
    dims[1] = 1; /* everything removed still leaves one empty string */
  ir_set_shape(n->outputs[0], IR_STRING, x->rank, x->rank == 1 ? dims + 1 : dims);
  n->outputs[0]->bounded = stop && stop->n > 0;
  return NN_OK;
}

/* The C (POSIX) locale changes the case of ASCII letters only. */
static bool c_locale(const ir_node *n) {
  const char *l = ir_attr_string(n, "locale", "");
  return strcmp(l, "C") == 0 || strcmp(l, "POSIX") == 0;
}

/* Case mapping of one code point in generated C: ASCII, Latin-1, Greek and
 * Cyrillic, whose cases differ by a fixed offset and keep their UTF-8 length. */
static void emit_case_change(emit_ctx *e, bool upper, bool ascii) {
  if (ascii) {
    emit_line(e, upper ? "if (c >= 0x61 && c <= 0x7a) c -= 0x20;" : "if (c >= 0x41 && c <= 0x5a) c += 0x20;");
    return;
  }
  if (upper) {
    emit_line(e, "if ((c >= 0x61 && c <= 0x7a) || (c >= 0xe0 && c <= 0xfe && c != 0xf7) ||"
                 " (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) || (c >= 0x430 && c <= 0x44f)) c -= 0x20;");
    emit_line(e, "else if (c >= 0x450 && c <= 0x45f) c -= 0x50;");
  } else {
    emit_line(e, "if ((c >= 0x41 && c <= 0x5a) || (c >= 0xc0 && c <= 0xde && c != 0xd7) ||"
                 " (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) || (c >= 0x410 && c <= 0x42f)) c += 0x20;");
    emit_line(e, "else if (c >= 0x400 && c <= 0x40f) c += 0x50;");
  }
}

/* Decodes the UTF-8 code point at s (a valid one, or one byte taken as is):
 * sets c and len. */
static void emit_decode(emit_ctx *e, const char *s) {
  emit_line(e, "int32_t c = %s[0];", s);
  emit_line(e, "int64_t len = 1;");
  emit_open(e, "if ((c & 0xe0) == 0xc0 && (%s[1] & 0xc0) == 0x80)", s);
  emit_line(e, "c = (c & 0x1f) << 6 | (%s[1] & 0x3f);", s);
  emit_line(e, "len = 2;");
  emit_close(e);
  emit_open(e, "else if ((c & 0xf0) == 0xe0 && (%s[1] & 0xc0) == 0x80 && (%s[2] & 0xc0) == 0x80)", s, s);
  emit_line(e, "c = (c & 0x0f) << 12 | (%s[1] & 0x3f) << 6 | (%s[2] & 0x3f);", s, s);
  emit_line(e, "len = 3;");
  emit_close(e);
  emit_open(e, "else if ((c & 0xf8) == 0xf0 && (%s[1] & 0xc0) == 0x80 && (%s[2] & 0xc0) == 0x80 && "
               "(%s[3] & 0xc0) == 0x80)", s, s, s);
  emit_line(e, "c = (c & 0x07) << 18 | (%s[1] & 0x3f) << 12 | (%s[2] & 0x3f) << 6 | (%s[3] & 0x3f);",
            s, s, s);
  emit_line(e, "len = 4;");
  emit_close(e);
}

/* Comparison of a string with a stopword: exact, or after both are mapped
 * to upper case (case_sensitive = 0). */
static void emit_stopword_test(emit_ctx *e, const ir_node *n, const char *text) {
  const ir_attr *stop = ir_attr_find(n, "stopwords");
  bool sensitive = ir_attr_int(n, "is_case_sensitive", 0) != 0;
  emit_line(e, "int stop = 0;");
  emit_line(e, "static const char *const stopwords[%d] = {", stop->n);
  for (int k = 0; k < stop->n; k++)
    emit_line(e, "  %s,", emit_string_literal(e, stop->strings[k]));
  emit_line(e, "};");
  emit_open(e, "for (int w = 0; w < %d && !stop; w++)", stop->n);
  if (sensitive) {
    emit_line(e, "stop = strcmp(%s, stopwords[w]) == 0;", text);
  } else {
    emit_line(e, "const unsigned char *p = (const unsigned char *)%s, *q = (const unsigned char *)stopwords[w];", text);
    emit_open(e, "for (;;)");
    emit_open(e, "if (!*p || !*q)");
    emit_line(e, "stop = !*p && !*q;");
    emit_line(e, "break;");
    emit_close(e);
    emit_line(e, "int32_t cp[2];");
    emit_line(e, "int64_t lens[2];");
    emit_open(e, "for (int side = 0; side < 2; side++)");
    emit_line(e, "const unsigned char *s = side ? q : p;");
    emit_decode(e, "s");
    emit_case_change(e, true, c_locale(n));
    emit_line(e, "cp[side] = c;");
    emit_line(e, "lens[side] = len;");
    emit_close(e);
    emit_line(e, "if (cp[0] != cp[1]) break;");
    emit_line(e, "p += lens[0];");
    emit_line(e, "q += lens[1];");
    emit_close(e);
  }
  emit_close(e);
}

static void emit_normalizer(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  const ir_attr *stop = ir_attr_find(n, "stopwords");
  const char *mode = ir_attr_string(n, "case_change_action", "NONE");
  bool change = strcmp(mode, "NONE") != 0, stops = stop && stop->n > 0;
  int64_t c = x->dims[x->rank - 1], cap = y->dims[y->rank - 1];
  if (c == 0 && !stops)
    return;
  emit_line(e, "int64_t k = 0;");
  if (change)
    e->can_fail = true;
  emit_for(e, "i", c);
  if (stops) {
    emit_stopword_test(e, n, "in0[i]");
    emit_line(e, "if (stop) continue;");
  }
  if (!change) {
    emit_line(e, "out0[k++] = in0[i];");
  } else {
    emit_line(e, "const unsigned char *s = (const unsigned char *)in0[i];");
    emit_line(e, "unsigned char *d = (unsigned char *)(%s);", slot(e, n, "k"));
    emit_line(e, "if (strlen(in0[i]) >= %lld)", (long long)e->g->string_bytes);
    emit_line(e, "  return 1;");
    emit_line(e, "out0[k++] = (const char *)d;");
    emit_open(e, "while (*s)");
    emit_decode(e, "s");
    emit_line(e, "const int32_t was = c;");
    emit_case_change(e, strcmp(mode, "UPPER") == 0, c_locale(n));
    emit_open(e, "if (c == was)"); /* unchanged: copy the bytes as they are */
    emit_line(e, "memcpy(d, s, (size_t)len);");
    emit_close(e);
    emit_open(e, "else if (len == 1)");
    emit_line(e, "d[0] = (unsigned char)c;");
    emit_close(e);
    emit_open(e, "else");
    emit_line(e, "d[0] = (unsigned char)(0xc0 | c >> 6);");
    emit_line(e, "d[1] = (unsigned char)(0x80 | (c & 0x3f));");
    emit_close(e);
    emit_line(e, "d += len;");
    emit_line(e, "s += len;");
    emit_close(e);
    emit_line(e, "*d = 0;");
  }
  emit_close(e);
  if (!stops)
    return;
  /* Nothing left: one empty string, as onnxruntime gives. */
  emit_line(e, "if (k == 0) out0[k++] = \"\";");
  emit_line(e, "for (int64_t j = k; j < %lld; j++) out0[j] = \"\";", (long long)cap);
  const ir_tensor *s = y->actual_shape;
  for (int j = 0; s && j < n->n_outputs; j++)
    if (n->outputs[j] == s) {
      if (y->rank == 2)
        emit_line(e, "out%d[0] = 1;", j);
      emit_line(e, "out%d[%d] = k;", j, y->rank - 1);
    }
}

/* ---- StringSplit ---- */

/* Y: [X dims..., pieces], at most maxsplit + 1 pieces, and no more than a
 * string of string_bytes - 1 bytes can hold; Z: the piece counts. */
static nn_status infer_split(ir_graph *g, ir_node *n) {
  if (check_arity(g, n, 1, 1) || check_strings(g, n, 0))
    return NN_ERR;
  const ir_tensor *x = n->inputs[0];
  if (x->rank >= IR_MAX_RANK)
    return diag_node(g->path, n, "rank %d input: the output would pass nncc's rank limit", x->rank);
  int64_t pieces = g->string_bytes; /* a string of B - 1 bytes has at most B pieces */
  const ir_attr *ms = ir_attr_find(n, "maxsplit");
  if (ms && ms->i >= 0 && ms->i + 1 < pieces)
    pieces = ms->i + 1;
  int64_t dims[IR_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  dims[x->rank] = pieces;
  ir_set_shape(n->outputs[0], IR_STRING, x->rank + 1, dims);
  n->outputs[0]->bounded = true;
  if (ir_out(n, 1))
    ir_set_shape(n->outputs[1], IR_INT64, x->rank, x->dims);
  return NN_OK;
}

/* Copies the piece s[0, len) into the input element's room, NUL-terminated
 * (its pieces fit: fewer than B bytes in all, plus one NUL each). */
static void emit_piece(emit_ctx *e, const char *len) {
  emit_line(e, "memcpy(room, s, %s);", len);
  emit_line(e, "room[%s] = 0;", len);
  emit_line(e, "out0[i * widest + pieces] = room;");
  emit_line(e, "room += %s + 1;", len);
}

static void emit_split(emit_ctx *e, const ir_node *n) {
  const ir_tensor *x = n->inputs[0], *y = n->outputs[0];
  int64_t count = ir_numel(x), cap = y->dims[y->rank - 1], B = e->g->string_bytes;
  const char *delim = ir_attr_string(n, "delimiter", "");
  const ir_attr *ms = ir_attr_find(n, "maxsplit");
  int64_t maxsplit = ms && ms->i >= 0 ? ms->i : cap; /* splits allowed */
  const char *shape = NULL;
  for (int j = 0; y->actual_shape && j < n->n_outputs; j++)
    if (n->outputs[j] == y->actual_shape)
      shape = FMT("out%d", j);
  e->can_fail = true;
  /* Pass 1: count pieces, to know the actual last dim (the widest row). */
  emit_line(e, "int64_t widest = 0;");
  emit_line(e, "(void)widest;");
  for (int pass = 0; pass < 2 && count > 0; pass++) {
    emit_for(e, "i", count);
    emit_line(e, "const char *s = in0[i];");
    emit_line(e, "int64_t pieces = 0;");
    emit_line(e, "if (strlen(s) >= %lld) return 1;", (long long)B);
    if (pass) {
      emit_line(e, "char *room = %s;", slot(e, n, "i"));
    }
    if (delim[0]) {
      size_t dl = strlen(delim);
      emit_line(e, "const char *delim = %s;", emit_string_literal(e, delim));
      /* "" has no pieces, as in onnxruntime (Python's split gives one). */
      emit_open(e, "while (*s || pieces > 0)");
      emit_line(e, "const char *at = pieces < %lld ? strstr(s, delim) : NULL;", (long long)maxsplit);
      if (pass) {
        emit_line(e, "const size_t len = at ? (size_t)(at - s) : strlen(s);");
        emit_piece(e, "len");
      }
      emit_line(e, "pieces++;");
      emit_line(e, "if (!at) break;");
      emit_line(e, "s = at + %zu;", dl);
      emit_close(e);
    } else { /* runs of whitespace separate; leading and trailing ones are dropped */
      emit_open(e, "for (;;)");
      emit_line(e, "while (*s == ' ' || (*s >= '\\t' && *s <= '\\r')) s++;");
      emit_line(e, "if (!*s) break;");
      emit_line(e, "size_t len = 0;");
      emit_open(e, "if (pieces < %lld)", (long long)maxsplit);
      emit_line(e, "while (s[len] && !(s[len] == ' ' || (s[len] >= '\\t' && s[len] <= '\\r'))) len++;");
      emit_close(e);
      emit_open(e, "else"); /* the rest, without its trailing whitespace (as the spec and onnxruntime) */
      emit_line(e, "len = strlen(s);");
      emit_line(e, "while (len && (s[len - 1] == ' ' || (s[len - 1] >= '\\t' && s[len - 1] <= '\\r'))) len--;");
      emit_close(e);
      if (pass)
        emit_piece(e, "len");
      emit_line(e, "pieces++;");
      emit_line(e, "s += len;");
      emit_close(e);
    }
    if (!pass) {
      emit_line(e, "if (pieces > %lld) return 1;", (long long)cap);
      emit_line(e, "if (pieces > widest) widest = pieces;");
    } else {
      if (ir_out(n, 1))
        emit_line(e, "out1[i] = pieces;");
      emit_line(e, "for (; pieces < widest; pieces++) out0[i * widest + pieces] = \"\";");
    }
    emit_close(e);
  }
  /* Slots past the actual shape stay valid strings too. */
  emit_line(e, "for (int64_t j = %lld * widest; j < %lld; j++) out0[j] = \"\";", (long long)count,
            (long long)ir_numel(y));
  for (int d = 0; shape && d < y->rank; d++)
    emit_line(e, "%s[%d] = %s;", shape, d,
              d == y->rank - 1 ? "widest" : FMT("%lld", (long long)y->dims[d]));
}

/* ---- RegexFullMatch ---- */

static nn_status compile_pattern(ir_graph *g, const ir_node *n, rx_program *p) {
  const char *pattern = ir_attr_string(n, "pattern", NULL);
  char err[160];
  if (!pattern)
    return diag_node(g->path, n, "the 'pattern' attribute is missing");
  if (!rx_compile(pattern, g->mem, p, err, sizeof err))
    return diag_node(g->path, n, "pattern '%s': %s", pattern, err);
  return NN_OK;
}

static nn_status infer_regex(ir_graph *g, ir_node *n) {
  rx_program p;
  if (check_arity(g, n, 1, 1) || check_strings(g, n, 0) || compile_pattern(g, n, &p))
    return NN_ERR;
  ir_set_shape(n->outputs[0], IR_BOOL, n->inputs[0]->rank, n->inputs[0]->dims);
  return NN_OK;
}

static nn_status fold_regex(ir_graph *g, ir_node *n) {
  rx_program p;
  if (compile_pattern(g, n, &p))
    return NN_ERR;
  uint8_t *y = ir_make_weight(g, n->outputs[0]);
  char *const *x = n->inputs[0]->data;
  for (int64_t i = 0; i < ir_numel(n->inputs[0]); i++)
    y[i] = rx_full_match(&p, x[i]);
  return NN_OK;
}

/* One static table of the program: "static const T name[n] = {...};". */
static void emit_table(emit_ctx *e, const char *type, const char *name, int n,
                       long long (*get)(const rx_program *, int), const rx_program *p) {
  cbuf *b = e->body;
  cb_line(b, "static const %s %s[%d] = {", type, name, n ? n : 1);
  b->indent++;
  char line[256];
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    len += (size_t)snprintf(line + len, sizeof line - len, "%lld,", get(p, i));
    if (len > 90 || i + 1 == n) {
      cb_line(b, "%s", line);
      len = 0;
    }
  }
  if (n == 0)
    cb_line(b, "0");
  b->indent--;
  cb_line(b, "};");
}

static long long st_kind(const rx_program *p, int i) { return p->states[i].kind; }
static long long st_arg(const rx_program *p, int i) { return p->states[i].arg; }
static long long st_next(const rx_program *p, int i) { return p->states[i].next; }
static long long st_alt(const rx_program *p, int i) { return p->states[i].alt; }
static long long rg_lo(const rx_program *p, int i) { return p->ranges[i][0]; }
static long long rg_hi(const rx_program *p, int i) { return p->ranges[i][1]; }
static long long cl_first(const rx_program *p, int i) { return p->classes[i].first; }
static long long cl_count(const rx_program *p, int i) { return p->classes[i].count; }
static long long cl_negated(const rx_program *p, int i) { return p->classes[i].negated; }

/* Pushes state `v` (an expression) on the closure stack unless already on. */
static void emit_push(emit_ctx *e, const char *v) {
  emit_line(e, "if (%s >= 0 && !on[%s]) { on[%s] = 1; stack[sp++] = %s; }", v, v, v, v);
}

/* Thompson simulation, as rx_full_match (compiler/regex.c) runs it. */
static void emit_regex(emit_ctx *e, const ir_node *n) {
  rx_program p;
  int64_t count = ir_numel(n->inputs[0]);
  if (count == 0 || compile_pattern(e->g, n, &p))
    return;
  int S = p.n_states;
  emit_line(e, "/* The NFA of %s", names_comment(e->g->mem, ir_attr_string(n, "pattern", "")));
  emit_line(e, " * state kind 0 consumes a code point of class arg, 1 forks to next and alt,");
  emit_line(e, " * 2 asserts arg (0 ^, 1 $, 2 \\b, 3 \\B), 3 accepts. */");
  emit_table(e, "unsigned char", "kind", S, st_kind, &p);
  emit_table(e, "int32_t", "arg", S, st_arg, &p);
  emit_table(e, "int32_t", "next", S, st_next, &p);
  emit_table(e, "int32_t", "alt", S, st_alt, &p);
  emit_table(e, "uint32_t", "lo", p.n_ranges, rg_lo, &p);
  emit_table(e, "uint32_t", "hi", p.n_ranges, rg_hi, &p);
  emit_table(e, "int32_t", "first", p.n_classes, cl_first, &p);
  emit_table(e, "int32_t", "count", p.n_classes, cl_count, &p);
  emit_table(e, "unsigned char", "negated", p.n_classes, cl_negated, &p);
  emit_for(e, "i", count);
  emit_line(e, "const unsigned char *s = (const unsigned char *)in0[i];");
  emit_line(e, "int32_t seeds[%d], stack[%d], list[%d], n_seeds = 1, prev = -1;", S, S, S);
  emit_line(e, "unsigned char on[%d];", S);
  emit_line(e, "seeds[0] = %d;", p.start);
  emit_line(e, "out0[i] = 0;");
  emit_open(e, "for (;;)");
  emit_decode(e, "s");
  emit_line(e, "if (!s[0]) c = -1;");
  emit_line(e, "int32_t n = 0, sp = 0;");
  emit_line(e, "memset(on, 0, sizeof on);");
  emit_open(e, "for (int32_t k = n_seeds - 1; k >= 0; k--)");
  emit_push(e, "seeds[k]");
  emit_close(e);
  emit_open(e, "while (sp > 0)");
  emit_line(e, "const int32_t x = stack[--sp];");
  emit_open(e, "if (kind[x] == 1)");
  emit_push(e, "alt[x]");
  emit_push(e, "next[x]");
  emit_close(e);
  emit_open(e, "else if (kind[x] == 2)");
  emit_line(e, "const int wp = (prev >= '0' && prev <= '9') || (prev >= 'A' && prev <= 'Z') || "
               "(prev >= 'a' && prev <= 'z') || prev == '_';");
  emit_line(e, "const int wc = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || "
               "(c >= 'a' && c <= 'z') || c == '_';");
  emit_line(e, "if (arg[x] == 0 ? prev < 0 : arg[x] == 1 ? c < 0 : arg[x] == 2 ? wp != wc : wp == wc)");
  emit_line(e, "  %s", "{ if (!on[next[x]]) { on[next[x]] = 1; stack[sp++] = next[x]; } }");
  emit_close(e);
  emit_open(e, "else");
  emit_line(e, "list[n++] = x;");
  emit_close(e);
  emit_close(e);
  emit_open(e, "if (c < 0)");
  emit_line(e, "out0[i] = on[%d];", p.match);
  emit_line(e, "break;");
  emit_close(e);
  emit_line(e, "n_seeds = 0;");
  emit_open(e, "for (int32_t k = 0; k < n; k++)");
  emit_line(e, "const int32_t x = list[k];");
  emit_line(e, "if (kind[x] != 0) continue;");
  emit_line(e, "int found = 0;");
  emit_line(e, "for (int32_t r = first[arg[x]]; r < first[arg[x]] + count[arg[x]] && !found; r++)");
  emit_line(e, "  found = (uint32_t)c >= lo[r] && (uint32_t)c <= hi[r];");
  emit_line(e, "if (found != negated[arg[x]]) seeds[n_seeds++] = next[x];");
  emit_close(e);
  emit_line(e, "if (n_seeds == 0) break;");
  emit_line(e, "prev = c;");
  emit_line(e, "s += len;");
  emit_close(e);
  emit_close(e);
}

const op_def op_family_strings[] = {
    {"StringConcat", "", infer_concat, NULL, emit_concat, 0},
    {"StringNormalizer", "", infer_normalizer, NULL, emit_normalizer, 0},
    {"StringSplit", "", infer_split, NULL, emit_split, 0},
    {"RegexFullMatch", "", infer_regex, fold_regex, emit_regex, 0},
    {NULL, NULL, NULL, NULL, NULL, 0},
};

/* Ops whose code only moves elements (or compares them with strcmp, or are
 * the string ops above), so that nn_str pointers pass through them intact.
 * Others would do arithmetic or write numeric literals into pointers. */
static const char *const string_ops[] = {
    "Identity", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Concat",
    "Slice", "Gather", "GatherElements", "GatherND", "Expand", "Tile", "Split", "Where",
    "Shape", "Size", "Constant", "Equal", "StringConcat", "StringNormalizer", "StringSplit",
    "RegexFullMatch", "LabelEncoder",
};

nn_status check_string_use(ir_graph *g, const ir_node *n) {
  bool strings = false;
  for (int k = 0; k < n->n_inputs + n->n_outputs; k++) {
    const ir_tensor *t = k < n->n_inputs ? n->inputs[k] : n->outputs[k - n->n_inputs];
    strings |= t && t->dtype == IR_STRING;
  }
  for (size_t i = 0; strings && i < sizeof string_ops / sizeof *string_ops; i++)
    if (strcmp(n->op_type, string_ops[i]) == 0)
      return NN_OK;
  return strings ? diag_node(g->path, n, "%s on string tensors is not supported", n->op_type) : NN_OK;
}
