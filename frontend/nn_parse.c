/* Recursive descent over the token array, one function per rule; the rule
 * is written above each function. After a syntax error the parser resumes
 * at the next line (or the next '}' in a train block), so one run reports
 * every independent mistake. */
#include "nn_parse.h"

#include <stdarg.h>
#include <string.h>

/* Values nest (lists of lists, calls in calls) at most this deep. */
#define MAX_DEPTH 32

typedef struct parser {
  nn_source *s;
  mem_arena *mem;
  const nn_tokens *toks;
  const nn_tok *t;
  int n, pos;
  int depth;
} parser;

static const nn_tok *cur(const parser *P) { return &P->t[P->pos]; }
static const nn_tok *ahead(const parser *P, int k) {
  return &P->t[P->pos + k < P->n ? P->pos + k : P->n - 1];
}
static bool at(const parser *P, nn_tok_kind k) { return cur(P)->kind == k; }
static const nn_tok *next(parser *P) {
  const nn_tok *t = cur(P);
  if (t->kind != NN_T_EOF)
    P->pos++;
  return t;
}
static bool accept(parser *P, nn_tok_kind k) {
  if (!at(P, k))
    return false;
  next(P);
  return true;
}
static const char *desc(const parser *P, const nn_tok *t) { return nn_tok_desc(P->mem, t); }

/* A syntax error, unless the lexer already complained about that line: one
 * mistake, one message. (The hints and notes that follow stay quiet too.) */
static void syntax_error(parser *P, nn_loc at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void syntax_error(parser *P, nn_loc at, const char *fmt, ...) {
  if (P->toks && at.line < P->toks->n_lines && P->toks->bad_line[at.line]) {
    P->s->last_printed = false;
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  nn_verror(P->s, at, fmt, ap);
  va_end(ap);
}

/* Reports "expected WHAT, found TOKEN" at the current token. */
static void expected(parser *P, const char *what) {
  syntax_error(P, cur(P)->loc, "expected %s, found %s", what, desc(P, cur(P)));
}

static void skip_newlines(parser *P) {
  while (at(P, NN_T_NEWLINE))
    next(P);
}

/* A line break may come before a closing bracket: skips to `close` when
 * only newlines stand before it. */
static void skip_newlines_before(parser *P, nn_tok_kind close) {
  int k = P->pos;
  while (P->t[k].kind == NN_T_NEWLINE)
    k++;
  if (P->t[k].kind == close)
    P->pos = k;
}

/* Error recovery: drops the rest of the line (stopping at a '}' too when
 * inside a train block) and the line break. */
static void skip_line(parser *P, bool in_train) {
  while (!at(P, NN_T_NEWLINE) && !at(P, NN_T_EOF) && !(in_train && at(P, NN_T_RBRACE)))
    next(P);
  skip_newlines(P);
}

#define GROW(arr, n, cap) (arr) = mem_grow(P->mem, (arr), sizeof *(arr), &(cap), (n) + 1)

static nn_value *new_value(parser *P, nn_vkind kind, const nn_tok *t) {
  nn_value *v = mem_alloc(P->mem, sizeof *v);
  v->kind = kind;
  v->loc = t->loc;
  return v;
}

static nn_value *parse_value(parser *P);

/* list = "[" [ value { "," value } [ "," ] ] "]" */
static nn_value *parse_list(parser *P) {
  const nn_tok *open = next(P);
  nn_value *v = new_value(P, NN_V_LIST, open);
  int cap = 0;
  skip_newlines(P);
  while (!at(P, NN_T_RBRACK)) {
    nn_value *item = parse_value(P);
    if (!item)
      return NULL;
    GROW(v->items, v->n_items, cap);
    v->items[v->n_items++] = item;
    skip_newlines_before(P, NN_T_RBRACK);
    if (accept(P, NN_T_COMMA)) {
      skip_newlines(P);
      continue;
    }
    if (!at(P, NN_T_RBRACK)) {
      expected(P, "',' or ']' in the list");
      nn_note(P->s, open->loc, "the list starts here");
      return NULL;
    }
  }
  next(P);
  return v;
}

/* call = ident "(" [ arg { "," arg } [ "," ] ] ")"
 * arg  = [ ident "=" ] value */
static nn_value *parse_call(parser *P) {
  const nn_tok *name = next(P);
  const nn_tok *open = next(P);
  nn_value *v = new_value(P, NN_V_CALL, name);
  v->s = name->s;
  int cap = 0;
  skip_newlines(P);
  while (!at(P, NN_T_RPAREN)) {
    nn_call_arg a = {0};
    if (at(P, NN_T_IDENT) && ahead(P, 1)->kind == NN_T_EQ) {
      a.name = cur(P)->s;
      a.name_loc = cur(P)->loc;
      next(P);
      next(P);
    }
    if (!(a.value = parse_value(P)))
      return NULL;
    GROW(v->args, v->n_args, cap);
    v->args[v->n_args++] = a;
    skip_newlines_before(P, NN_T_RPAREN);
    if (accept(P, NN_T_COMMA)) {
      skip_newlines(P);
      continue;
    }
    if (!at(P, NN_T_RPAREN)) {
      expected(P, mem_printf(P->mem, "',' or ')' in the call to '%s'", name->s));
      nn_note(P->s, open->loc, "the call opens here");
      return NULL;
    }
  }
  next(P);
  return v;
}

/* number = [ "-" ] ( int | real ) */
static nn_value *parse_number(parser *P) {
  const nn_tok *first = cur(P);
  bool neg = accept(P, NN_T_MINUS);
  if (!at(P, NN_T_INT) && !at(P, NN_T_REAL)) {
    expected(P, "a number after '-'");
    return NULL;
  }
  const nn_tok *t = next(P);
  nn_value *v = new_value(P, t->kind == NN_T_INT ? NN_V_INT : NN_V_REAL, first);
  v->loc.len = t->loc.pos + t->loc.len - first->loc.pos;
  v->i = neg ? -t->i : t->i; /* |INT64_MIN| is unreachable: the lexer caps at INT64_MAX */
  v->f = t->kind == NN_T_INT ? (double)v->i : neg ? -t->f : t->f;
  v->bad = t->bad;
  return v;
}

/* value = number | ident | string | "true" | "false" | list | call */
static nn_value *parse_value(parser *P) {
  if (P->depth >= MAX_DEPTH) {
    syntax_error(P, cur(P)->loc, "values nest more than %d deep", MAX_DEPTH);
    return NULL;
  }
  P->depth++;
  nn_value *v = NULL;
  const nn_tok *t = cur(P);
  switch (t->kind) {
  case NN_T_MINUS: case NN_T_INT: case NN_T_REAL:
    v = parse_number(P);
    break;
  case NN_T_TRUE: case NN_T_FALSE:
    v = new_value(P, NN_V_BOOL, next(P));
    v->i = t->kind == NN_T_TRUE;
    break;
  case NN_T_STRING:
    v = new_value(P, NN_V_STRING, next(P));
    v->s = t->s;
    break;
  case NN_T_LBRACK:
    v = parse_list(P);
    break;
  case NN_T_IDENT:
    if (ahead(P, 1)->kind == NN_T_LPAREN) {
      v = parse_call(P);
    } else {
      v = new_value(P, NN_V_IDENT, next(P));
      v->s = t->s;
    }
    break;
  default:
    expected(P, "a value");
    break;
  }
  P->depth--;
  return v;
}

/* Ends a statement: a line break or the end of the file. */
static bool end_statement(parser *P, const char *what) {
  if (at(P, NN_T_EOF))
    return true;
  if (!at(P, NN_T_NEWLINE)) {
    syntax_error(P, cur(P)->loc, "expected the end of the line after the %s, found %s", what,
                 desc(P, cur(P)));
    return false;
  }
  skip_newlines(P);
  return true;
}

/* input_decl = "input" ident shape [ ident ]
 * shape      = "[" int { "," int } "]" */
static bool parse_input(parser *P, nn_stmt *st) {
  next(P);
  if (!at(P, NN_T_IDENT)) {
    expected(P, "the input's name");
    return false;
  }
  st->kind = NN_S_INPUT;
  st->name = cur(P)->s;
  st->name_loc = next(P)->loc;
  if (!at(P, NN_T_LBRACK)) {
    expected(P, "the shape of one sample, e.g. [1, 28, 28]");
    return false;
  }
  nn_value *shape = parse_list(P);
  if (!shape)
    return false;
  if (shape->n_items == 0 || shape->n_items > NN_MAX_RANK) {
    syntax_error(P, shape->loc, "an input has 1 to %d dimensions, not %d", NN_MAX_RANK, shape->n_items);
    return false;
  }
  for (int k = 0; k < shape->n_items; k++) {
    const nn_value *d = shape->items[k];
    if (d->bad) { /* reported by the lexer: keep going with its value */
      st->dims[st->rank++] = d->i > 0 ? d->i : 1;
      continue;
    }
    if (d->kind != NN_V_INT || d->i < 1 || d->i > NN_MAX_DIM) {
      syntax_error(P, d->loc, "a dimension is an integer from 1 to %d", NN_MAX_DIM);
      nn_hint(P->s, "give one sample's shape; the batch dimension is added");
      return false;
    }
    st->dims[st->rank++] = d->i;
  }
  if (at(P, NN_T_IDENT)) {
    st->dtype = cur(P)->s;
    st->dtype_loc = next(P)->loc;
  }
  return true;
}

/* output_decl = "output" ident { "," ident } */
static bool parse_output(parser *P, nn_stmt *st) {
  next(P);
  st->kind = NN_S_OUTPUT;
  int cap = 0;
  do {
    if (!at(P, NN_T_IDENT)) {
      expected(P, "the name of a layer or input");
      return false;
    }
    nn_value *v = new_value(P, NN_V_IDENT, cur(P));
    v->s = next(P)->s;
    GROW(st->outputs, st->n_outputs, cap);
    st->outputs[st->n_outputs++] = v;
  } while (accept(P, NN_T_COMMA));
  return true;
}

/* seed_decl = "seed" int    ("seed" is an ordinary identifier elsewhere) */
static bool parse_seed(parser *P, nn_stmt *st) {
  next(P);
  st->kind = NN_S_SEED;
  if (!at(P, NN_T_INT)) {
    syntax_error(P, cur(P)->loc, "the seed is an integer from 0 to %lld", (long long)INT64_MAX);
    return false;
  }
  st->seed = next(P)->i;
  return true;
}

static bool is_seed_decl(const parser *P) {
  return at(P, NN_T_IDENT) && strcmp(cur(P)->s, "seed") == 0 &&
         (ahead(P, 1)->kind == NN_T_INT || ahead(P, 1)->kind == NN_T_MINUS ||
          ahead(P, 1)->kind == NN_T_REAL);
}

/* layer_def = ident "=" call */
static bool parse_layer(parser *P, nn_stmt *st) {
  st->kind = NN_S_LAYER;
  st->name = cur(P)->s;
  st->name_loc = next(P)->loc;
  next(P); /* '=' */
  if (!at(P, NN_T_IDENT) || ahead(P, 1)->kind != NN_T_LPAREN) {
    expected(P, "a layer call like dense(x, 10) after '='");
    if (strcmp(st->name, "seed") == 0)
      nn_hint(P->s, "a seed is set with 'seed N' on its own line, or seed = N in train { }");
    return false;
  }
  st->call = parse_call(P);
  return st->call != NULL;
}

/* train_stmt = ident "=" value | call */
static bool parse_setting(parser *P, nn_model *m) {
  nn_setting set = {0};
  if (at(P, NN_T_IDENT) && ahead(P, 1)->kind == NN_T_EQ) {
    set.name = cur(P)->s;
    set.loc = next(P)->loc;
    next(P);
    set.value = parse_value(P);
  } else if (at(P, NN_T_IDENT) && ahead(P, 1)->kind == NN_T_LPAREN) {
    set.name = cur(P)->s;
    set.loc = cur(P)->loc;
    set.bare_call = true;
    set.value = parse_call(P);
  } else {
    expected(P, "a setting like epochs = 10");
    return false;
  }
  if (!set.value)
    return false;
  GROW(m->train, m->n_train, m->cap_train);
  m->train[m->n_train++] = set;
  if (at(P, NN_T_RBRACE) || at(P, NN_T_EOF))
    return true;
  if (!at(P, NN_T_NEWLINE)) {
    syntax_error(P, cur(P)->loc, "expected the end of the line after the setting, found %s",
                 desc(P, cur(P)));
    return false;
  }
  skip_newlines(P);
  return true;
}

/* train_block = "train" "{" { newline } { train_stmt newline { newline } } "}" */
static bool parse_train(parser *P, nn_model *m) {
  const nn_tok *kw = next(P);
  if (m->has_train) {
    syntax_error(P, kw->loc, "model '%s' has a second train block", m->name);
    nn_note(P->s, m->train_loc, "the first one is here");
  }
  m->has_train = true;
  m->train_loc = kw->loc;
  if (!at(P, NN_T_LBRACE)) {
    expected(P, "'{' after 'train'");
    return false;
  }
  const nn_tok *open = next(P);
  skip_newlines(P);
  while (!accept(P, NN_T_RBRACE)) {
    if (at(P, NN_T_EOF) || at(P, NN_T_MODEL) || nn_too_many(P->s)) {
      syntax_error(P, open->loc, "the train block is not closed");
      nn_hint(P->s, "end it with '}'");
      return true; /* nothing left on the line to skip */
    }
    if (!parse_setting(P, m))
      skip_line(P, true);
  }
  return true;
}

static void add_stmt(parser *P, nn_model *m, const nn_stmt *st) {
  GROW(m->stmts, m->n_stmts, m->cap_stmts);
  m->stmts[m->n_stmts++] = *st;
}

/* statement = ( input_decl | output_decl | seed_decl | train_block | layer_def )
 *             ( newline | EOF ) */
static void parse_statement(parser *P, nn_model *m) {
  nn_stmt st = {.loc = cur(P)->loc};
  bool ok = false, keep = true;
  const char *what = "statement";
  if (at(P, NN_T_INPUT)) {
    ok = parse_input(P, &st);
    what = "input declaration";
  } else if (at(P, NN_T_OUTPUT)) {
    ok = parse_output(P, &st);
    what = "output list";
  } else if (at(P, NN_T_TRAIN)) {
    ok = parse_train(P, m);
    what = "train block";
    keep = false;
  } else if (is_seed_decl(P)) {
    ok = parse_seed(P, &st);
  } else if (at(P, NN_T_IDENT) && ahead(P, 1)->kind == NN_T_EQ) {
    ok = parse_layer(P, &st);
    what = "layer";
  } else if (at(P, NN_T_IDENT) && ahead(P, 1)->kind == NN_T_LPAREN) {
    syntax_error(P, cur(P)->loc, "a layer needs a name");
    nn_hint(P->s, "write NAME = %s(...)", cur(P)->s);
  } else {
    expected(P, "a statement (input, output, train { }, or NAME = layer(...))");
  }
  if (keep && (ok || st.name)) {
    st.broken = !ok; /* its name stays defined, so uses of it stay quiet */
    add_stmt(P, m, &st);
  }
  if (!ok || !end_statement(P, what))
    skip_line(P, false);
}

/* model_block = "model" ident newline { statement } */
static void parse_model(parser *P, nn_file *f) {
  next(P);
  nn_model m = {0};
  if (!at(P, NN_T_IDENT)) {
    expected(P, "the model's name");
    skip_line(P, false);
    m.name = "?";
  } else {
    m.name = cur(P)->s;
    m.loc = next(P)->loc;
    if (!end_statement(P, "model name"))
      skip_line(P, false);
  }
  while (!at(P, NN_T_EOF) && !at(P, NN_T_MODEL) && !nn_too_many(P->s))
    parse_statement(P, &m);
  GROW(f->models, f->n_models, f->cap_models);
  f->models[f->n_models++] = m;
}

/* file = { newline } [ seed_decl newline ] model_block { model_block } EOF */
nn_file *nn_parse(nn_source *s, const nn_tokens *toks, mem_arena *mem) {
  parser P = {.s = s, .mem = mem, .toks = toks, .t = toks->t, .n = toks->n};
  nn_file *f = mem_alloc(mem, sizeof *f);
  skip_newlines(&P);
  bool complained = false;
  while (!at(&P, NN_T_EOF) && !at(&P, NN_T_MODEL) && !nn_too_many(s)) {
    nn_stmt st = {.loc = cur(&P)->loc};
    if (is_seed_decl(&P) && f->seed) {
      nn_error(s, st.loc, "the seed is set twice");
      nn_note(s, f->seed->loc, "it is first set here");
    } else if (is_seed_decl(&P)) {
      if (parse_seed(&P, &st) && end_statement(&P, "seed")) {
        f->seed = mem_alloc(mem, sizeof *f->seed);
        *f->seed = st;
        continue;
      }
    } else if (!complained) {
      nn_error(s, cur(&P)->loc, "expected 'model NAME' before the first statement");
      nn_hint(s, "a .nn file starts with a line like: model mnist");
      complained = true;
    }
    skip_line(&P, false);
  }
  if (at(&P, NN_T_EOF) && f->n_models == 0 && !complained && s->errors == 0)
    nn_error(s, (nn_loc){1, 1, 0, 0}, "the file has no model");
  while (at(&P, NN_T_MODEL) && !nn_too_many(s))
    parse_model(&P, f);
  return f;
}

nn_value *nn_parse_value_text(const char *text, mem_arena *mem) {
  FILE *sink = NULL;
  nn_source s = {.path = "<default>", .text = text, .len = (int)strlen(text), .out = sink};
  nn_tokens toks = nn_lex(&s, mem);
  parser P = {.s = &s, .mem = mem, .t = toks.t, .n = toks.n};
  nn_value *v = parse_value(&P);
  return v && at(&P, NN_T_EOF) && s.errors == 0 ? v : NULL;
}
