/* The one binder of arguments to parameters, for every table of named
 * things. Type and range checks live here, so each layer's lowering reads
 * values it can trust. */
#include "nn_args.h"

#include "nn_parse.h"

#include <stdlib.h>
#include <string.h>

const nn_fn_def *nn_fn_at(const nn_fn_set *set, int i) {
  const nn_fn_def *d = (const nn_fn_def *)((const char *)set->rows + (size_t)i * set->stride);
  return d->name ? d : NULL;
}

const nn_fn_def *nn_fn_find(const nn_fn_set *set, const char *name) {
  const nn_fn_def *d;
  for (int i = 0; (d = nn_fn_at(set, i)); i++)
    if (strcmp(d->name, name) == 0)
      return d;
  return NULL;
}

/* Levenshtein distance, capped: names longer than 64 are never typos of
 * table names. */
static int distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return 1 << 20;
  int row[65];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best)
        best = row[j] + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

const char *nn_closest(const char *name, const char *const *cands, int n) {
  const char *best = NULL;
  int best_d = 1 << 20, len = (int)strlen(name);
  int limit = len < 4 ? 1 : len < 8 ? 2 : 3;
  for (int i = 0; i < n; i++) {
    int d = distance(name, cands[i]);
    int longer = len > (int)strlen(cands[i]) ? len : (int)strlen(cands[i]);
    if (d < best_d && d <= limit && d < longer) {
      best = cands[i];
      best_d = d;
    }
  }
  return best;
}

const char *nn_closest_in_set(const nn_fn_set *set, const char *name) {
  const char *cands[256];
  int n = 0;
  const nn_fn_def *d;
  while (n < 256 && (d = nn_fn_at(set, n)))
    cands[n++] = d->name;
  return nn_closest(name, cands, n);
}

const char *nn_signature(mem_arena *mem, const nn_fn_def *def) {
  char *s = mem_printf(mem, "%s(", def->name);
  for (int k = 0; k < def->n_pos; k++)
    s = mem_printf(mem, "%s%s%s", s, k ? ", " : "", def->params[k].name);
  return mem_printf(mem, "%s)", s);
}

const char *nn_value_desc(mem_arena *mem, const nn_value *v) {
  switch (v->kind) {
  case NN_V_INT: return mem_printf(mem, "the number %lld", (long long)v->i);
  case NN_V_REAL: return mem_printf(mem, "the number %g", v->f);
  case NN_V_BOOL: return v->i ? "true" : "false";
  case NN_V_IDENT: return mem_printf(mem, "'%s'", v->s);
  case NN_V_STRING: return "a string";
  case NN_V_LIST: return "a list";
  case NN_V_CALL: return mem_printf(mem, "a call to '%s'", v->s);
  }
  return "a value";
}

static int n_params(const nn_fn_def *d) {
  int n = 0;
  while (n < NN_MAX_PARAMS && d->params[n].name)
    n++;
  return n;
}

int nn_param_index(const nn_fn_def *def, const char *name) {
  for (int k = 0; k < n_params(def); k++)
    if (strcmp(def->params[k].name, name) == 0)
      return k;
  return -1;
}

static const char *type_desc(mem_arena *mem, const nn_param *p) {
  switch (p->type) {
  case NP_TENSOR: return "the name of an earlier layer or input";
  case NP_TENSORS: return "a list of layer names, e.g. [a, b]";
  case NP_INT: return "an integer";
  case NP_INTS: return "an integer or a list of integers";
  case NP_REAL: return "a number";
  case NP_BOOL: return "true or false";
  case NP_PADDING: return "valid, same, an integer or a list of integers";
  case NP_SHAPE: return "a list of dimensions, e.g. [1, 28, 28]";
  case NP_FN: return mem_printf(mem, "the name of %s %s, e.g. %s",
                                strchr("aeiou", p->fns->what[0]) ? "an" : "a", p->fns->what,
                                p->fns->example);
  case NP_CHOICE: {
    char *s = mem_printf(mem, "one of %s", p->choices);
    for (char *c = s; *c; c++)
      if (*c == '|')
        *c = '/';
    return s;
  }
  }
  return "a value";
}

typedef struct binder {
  nn_source *s;
  mem_arena *mem;
  const nn_fn_def *def;
} binder;

static bool is_number(const nn_value *v) { return v->kind == NN_V_INT || v->kind == NN_V_REAL; }

/* Range check of one number; reports at v. */
static bool in_range(binder *B, const nn_param *p, const nn_value *v) {
  double x = v->f;
  const char *name = p->name;
  if (p->range == NR_SEED) {
    if (v->kind == NN_V_INT && v->i >= 0)
      return true;
    nn_error(B->s, v->loc, "'%s' is an integer from 0 to %lld; got %s", name, (long long)INT64_MAX,
             nn_value_desc(B->mem, v));
    return false;
  }
  if (v->kind == NN_V_INT && (v->i > NN_MAX_DIM || v->i < -NN_MAX_DIM)) {
    nn_error(B->s, v->loc, "'%s' is too large (at most %d); got %lld", name, NN_MAX_DIM,
             (long long)v->i);
    return false;
  }
  const char *bad = NULL;
  bool integer = p->type == NP_INT || p->type == NP_INTS || p->type == NP_PADDING;
  if (p->range == NR_POS && !(x > 0))
    bad = integer ? "must be at least 1" : "must be positive";
  else if (p->range == NR_NONNEG && !(x >= 0))
    bad = "must not be negative";
  else if (p->range == NR_FRACTION && !(x >= 0 && x < 1))
    bad = "must be at least 0 and below 1";
  if (bad)
    nn_error(B->s, v->loc, "'%s' %s; got %s", name, bad, nn_value_desc(B->mem, v));
  return !bad;
}

static bool all_items(binder *B, const nn_param *p, const nn_value *v, nn_vkind kind) {
  bool ok = true;
  for (int k = 0; k < v->n_items; k++)
    if (v->items[k]->bad) {
      ok = false;
    } else if (v->items[k]->kind != kind) {
      nn_error(B->s, v->items[k]->loc, "'%s' of %s wants %s; this item is %s", p->name,
               B->def->name, type_desc(B->mem, p), nn_value_desc(B->mem, v->items[k]));
      ok = false;
    } else if (kind == NN_V_INT && p->type != NP_SHAPE) {
      ok &= in_range(B, p, v->items[k]);
    }
  return ok;
}

static bool choice_ok(const char *choices, const char *word) {
  size_t n = strlen(word);
  for (const char *c = choices; c; c = strchr(c, '|'), c = c ? c + 1 : c)
    if (strncmp(c, word, n) == 0 && (c[n] == '|' || c[n] == '\0'))
      return true;
  return false;
}

static bool check_shape(binder *B, const nn_param *p, const nn_value *v) {
  if (!all_items(B, p, v, NN_V_INT))
    return false;
  if (v->n_items == 0 || v->n_items > NN_MAX_RANK) {
    nn_error(B->s, v->loc, "'%s' has %d dimensions; 1 to %d are allowed", p->name, v->n_items,
             NN_MAX_RANK);
    return false;
  }
  int wild = 0;
  for (int k = 0; k < v->n_items; k++) {
    const nn_value *d = v->items[k];
    if (d->i == -1 && wild++) {
      nn_error(B->s, d->loc, "only one dimension of '%s' may be -1", p->name);
      return false;
    }
    if (d->i != -1 && (d->i < 1 || d->i > NN_MAX_DIM)) {
      nn_error(B->s, d->loc, "a dimension is an integer from 1 to %d, or -1 for 'the rest'",
               NN_MAX_DIM);
      return false;
    }
  }
  return true;
}

static nn_status bind_fn(binder *B, const nn_param *p, const nn_value *v, nn_bound **sub);

/* The type and range checks of one argument. */
static bool check_value(binder *B, const nn_param *p, const nn_value *v, nn_bound **sub) {
  if (v->bad)
    return false;
  bool ok;
  switch (p->type) {
  case NP_TENSOR: ok = v->kind == NN_V_IDENT; break;
  case NP_TENSORS: ok = v->kind == NN_V_LIST && v->n_items > 0; break;
  case NP_INT: ok = v->kind == NN_V_INT; break;
  case NP_INTS: ok = v->kind == NN_V_INT || (v->kind == NN_V_LIST && v->n_items > 0); break;
  case NP_REAL: ok = is_number(v); break;
  case NP_BOOL: ok = v->kind == NN_V_BOOL; break;
  case NP_CHOICE:
    ok = (v->kind == NN_V_IDENT || v->kind == NN_V_STRING) && choice_ok(p->choices, v->s);
    break;
  case NP_PADDING:
    ok = ((v->kind == NN_V_IDENT || v->kind == NN_V_STRING) && choice_ok("valid|same", v->s)) ||
         v->kind == NN_V_INT || (v->kind == NN_V_LIST && v->n_items > 0);
    break;
  case NP_SHAPE: ok = v->kind == NN_V_LIST; break;
  case NP_FN: ok = v->kind == NN_V_IDENT || v->kind == NN_V_CALL; break;
  default: ok = false; break;
  }
  if (!ok) {
    nn_error(B->s, v->loc, "'%s' of %s wants %s; got %s", p->name, B->def->name,
             type_desc(B->mem, p), nn_value_desc(B->mem, v));
    if ((p->type == NP_TENSOR || p->type == NP_TENSORS) && v->kind == NN_V_CALL)
      nn_hint(B->s, "layers do not nest: give %s(...) its own line, NAME = %s(...), and pass NAME",
              v->s, v->s);
    else if (p->type == NP_TENSORS && v->kind == NN_V_IDENT)
      nn_hint(B->s, "write %s([%s, ...])", B->def->name, v->s);
    else if (p->type == NP_TENSOR && v->kind == NN_V_LIST)
      nn_hint(B->s, "%s takes one input; concat([...]) joins several", B->def->name);
    return false;
  }
  switch (p->type) {
  case NP_TENSORS: return all_items(B, p, v, NN_V_IDENT);
  case NP_INT: case NP_REAL: return in_range(B, p, v);
  case NP_INTS: case NP_PADDING:
    return v->kind == NN_V_INT ? in_range(B, p, v) : v->kind != NN_V_LIST || all_items(B, p, v, NN_V_INT);
  case NP_SHAPE: return check_shape(B, p, v);
  case NP_FN: return bind_fn(B, p, v, sub) == NN_OK;
  default: return true;
  }
}

/* An NP_FN argument: finds the named row and binds the call's arguments. */
static nn_status bind_fn(binder *B, const nn_param *p, const nn_value *v, nn_bound **sub) {
  const nn_fn_def *d = nn_fn_find(p->fns, v->s);
  if (!d) {
    nn_error(B->s, v->loc, "unknown %s '%s'", p->fns->what, v->s);
    const char *near = nn_closest_in_set(p->fns, v->s);
    if (near)
      nn_hint(B->s, "did you mean '%s'?", near);
    return NN_ERR;
  }
  *sub = mem_alloc(B->mem, sizeof **sub);
  return nn_bind_args(B->s, B->mem, d, v, *sub);
}

static void unknown_option(binder *B, const nn_call_arg *a) {
  const nn_fn_def *d = B->def;
  nn_error(B->s, a->name_loc, "%s has no option '%s'", d->name, a->name);
  const char *cands[NN_MAX_PARAMS];
  int n = n_params(d);
  for (int k = 0; k < n; k++)
    cands[k] = d->params[k].name;
  const char *near = nn_closest(a->name, cands, n);
  if (near) {
    nn_hint(B->s, "did you mean '%s'?", near);
    return;
  }
  char *list = "";
  for (int k = d->n_pos; k < n; k++)
    list = mem_printf(B->mem, "%s%s%s", list, k > d->n_pos ? ", " : "", cands[k]);
  if (*list)
    nn_hint(B->s, "its options are %s", list);
  else
    nn_hint(B->s, "it takes no options: %s", nn_signature(B->mem, d));
}

/* Which parameter argument `a` (at index i among the positional ones) fills; -1 after reporting. */
static int param_of(binder *B, const nn_call_arg *a, int *pos, bool *named, const nn_bound *out) {
  const nn_fn_def *d = B->def;
  if (a->name) {
    *named = true;
    int k = nn_param_index(d, a->name);
    if (k < 0) {
      unknown_option(B, a);
    } else if (out->given[k]) {
      nn_error(B->s, a->name_loc, "'%s' is given twice", a->name);
      k = -1;
    }
    return k;
  }
  if (*named) {
    nn_error(B->s, a->value->loc, "a positional argument cannot follow named ones");
    nn_hint(B->s, "give it by name too: NAME=VALUE");
    return -1;
  }
  if (*pos >= d->n_pos) {
    nn_error(B->s, a->value->loc, "%s takes %d positional argument%s: %s", d->name, d->n_pos,
             d->n_pos == 1 ? "" : "s", nn_signature(B->mem, d));
    if (d->n_pos < n_params(d))
      nn_hint(B->s, "give the others by name, e.g. %s=...", d->params[d->n_pos].name);
    return -1;
  }
  return (*pos)++;
}

nn_status nn_bind_args(nn_source *s, mem_arena *mem, const nn_fn_def *def, const nn_value *call,
                  nn_bound *out) {
  binder B = {s, mem, def};
  memset(out, 0, sizeof *out);
  out->def = def;
  out->loc = call->loc;
  int before = s->errors, pos = 0;
  bool named = false, failed = false;
  for (int i = 0; call->kind == NN_V_CALL && i < call->n_args; i++) {
    const nn_call_arg *a = &call->args[i];
    int k = param_of(&B, a, &pos, &named, out);
    if (k < 0)
      continue;
    out->given[k] = true;
    if (check_value(&B, &def->params[k], a->value, &out->sub[k]))
      out->v[k] = a->value;
    else
      failed = true; /* perhaps quietly: a malformed number was reported already */
  }
  for (int k = 0; k < n_params(def); k++) {
    const nn_param *p = &def->params[k];
    if (out->given[k])
      continue;
    if (!p->dflt) {
      nn_error(s, call->loc, "%s needs '%s'", def->name, p->name);
      nn_hint(s, "write %s", nn_signature(mem, def));
    } else if (p->dflt[0]) {
      out->v[k] = nn_parse_value_text(p->dflt, mem);
      NN_ASSERT(out->v[k] && "a default does not parse");
      if (p->type == NP_FN) {
        const nn_fn_def *d = nn_fn_find(p->fns, out->v[k]->s);
        NN_ASSERT(d && "a default names no row of its table");
        out->sub[k] = mem_alloc(mem, sizeof *out->sub[k]);
        nn_status st = nn_bind_args(s, mem, d, out->v[k], out->sub[k]);
        NN_ASSERT(st == NN_OK);
      }
    }
  }
  return failed || s->errors > before ? NN_ERR : NN_OK;
}

static int index_of(const nn_bound *b, const char *name) {
  int k = nn_param_index(b->def, name);
  if (k < 0)
    NN_BUG("argument asked for by a name its table row does not have");
  return k;
}

const nn_value *nn_arg(const nn_bound *b, const char *name) { return b->v[index_of(b, name)]; }
bool nn_arg_given(const nn_bound *b, const char *name) { return b->given[index_of(b, name)]; }

int64_t nn_arg_int(const nn_bound *b, const char *name) {
  const nn_value *v = nn_arg(b, name);
  return v && v->kind == NN_V_INT ? v->i : 0;
}

double nn_arg_real(const nn_bound *b, const char *name) {
  const nn_value *v = nn_arg(b, name);
  return v && (v->kind == NN_V_INT || v->kind == NN_V_REAL) ? v->f : 0;
}

bool nn_arg_bool(const nn_bound *b, const char *name) {
  const nn_value *v = nn_arg(b, name);
  return v && v->kind == NN_V_BOOL && v->i;
}

const char *nn_arg_word(const nn_bound *b, const char *name) {
  const nn_value *v = nn_arg(b, name);
  return v && (v->kind == NN_V_IDENT || v->kind == NN_V_STRING || v->kind == NN_V_CALL) ? v->s
                                                                                       : NULL;
}

nn_loc nn_arg_loc(const nn_bound *b, const char *name) {
  int k = index_of(b, name);
  return b->given[k] && b->v[k] ? b->v[k]->loc : b->loc;
}

const nn_bound *nn_arg_fn(const nn_bound *b, const char *name) { return b->sub[index_of(b, name)]; }

nn_status nn_arg_ints(nn_source *s, const nn_bound *b, const char *name, int n, int64_t *out) {
  const nn_value *v = nn_arg(b, name);
  if (v && v->kind == NN_V_LIST) {
    if (v->n_items != n) {
      nn_error(s, v->loc, "'%s' has %d value%s; %s wants one integer or a list of %d", name,
               v->n_items, v->n_items == 1 ? "" : "s", b->def->name, n);
      return NN_ERR;
    }
    for (int k = 0; k < n; k++)
      out[k] = v->items[k]->i;
    return NN_OK;
  }
  for (int k = 0; k < n; k++)
    out[k] = v ? v->i : 0;
  return NN_OK;
}

nn_status nn_arg_sides(nn_source *s, const nn_bound *b, const char *name, int n, int64_t *begin,
                       int64_t *end) {
  const nn_value *v = nn_arg(b, name);
  if (v && v->kind == NN_V_LIST) {
    bool pairs = v->n_items == 2 * n;
    if (v->n_items != n && !pairs) {
      nn_error(s, v->loc, "'%s' has %d value%s; %s wants one integer or a list of %d or %d", name,
               v->n_items, v->n_items == 1 ? "" : "s", b->def->name, n, 2 * n);
      nn_hint(s, "a list of %d gives both sides of each axis; %d give [begin, end] of each axis in turn", n, 2 * n);
      return NN_ERR;
    }
    for (int k = 0; k < n; k++) {
      begin[k] = v->items[pairs ? 2 * k : k]->i;
      end[k] = v->items[pairs ? 2 * k + 1 : k]->i;
    }
    return NN_OK;
  }
  for (int k = 0; k < n; k++)
    begin[k] = end[k] = v && v->kind == NN_V_INT ? v->i : 0;
  return NN_OK;
}
