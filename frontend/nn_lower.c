/* Syntax tree -> ir_graph. Each model is lowered statement by statement: an
 * input becomes a graph input with the batch dimension in front, a layer
 * goes through its table row (bind arguments, resolve inputs, check shapes,
 * build nodes), and the outputs are marked at the end. A layer that fails
 * leaves a poisoned name, so later layers using it stay quiet and every
 * independent mistake is still reported. */
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "nn.h"
#include "nn_init.h"
#include "nn_lower.h"
#include "nn_model.h"
#include "nn_parse.h"

/* ---- names: an open-addressing hash table ---- */

static sym *slot(const symtab *t, const char *name) {
  size_t mask = (size_t)t->cap - 1, i = (size_t)nn_hash(name) & mask;
  while (t->s[i].name && strcmp(t->s[i].name, name) != 0)
    i = (i + 1) & mask;
  return &t->s[i];
}

sym *nn_sym_find(const symtab *t, const char *name) {
  sym *s = t->cap ? slot(t, name) : NULL;
  return s && s->name ? s : NULL;
}

static sym *sym_add(symtab *t, const char *name) {
  if (2 * (t->n + 1) > t->cap) {
    symtab big = {.cap = t->cap ? 2 * t->cap : 64, .mem = t->mem};
    big.s = mem_alloc(t->mem, sizeof *big.s * (size_t)big.cap);
    for (int i = 0; i < t->cap; i++)
      if (t->s[i].name)
        *slot(&big, t->s[i].name) = t->s[i];
    big.n = t->n;
    *t = big;
  }
  sym *s = slot(t, name);
  s->name = name;
  t->n++;
  return s;
}

/* ---- one model (the types are in nn_model.h) ---- */

void nn_declare_names(model_ctx *M) {
  for (int i = 0; i < M->m->n_stmts; i++) {
    const nn_stmt *st = &M->m->stmts[i];
    if (st->kind != NN_S_INPUT && st->kind != NN_S_LAYER)
      continue;
    sym *s = nn_sym_find(&M->syms, st->name);
    if (s) {
      nn_error(M->L.src, st->name_loc, "'%s' is already defined", st->name);
      nn_note(M->L.src, s->loc, "the first definition is here");
      continue;
    }
    s = sym_add(&M->syms, st->name);
    s->loc = st->name_loc;
    s->stmt = i;
  }
}

/* The names defined so far, for "did you mean". */
static const char *closest_name(const model_ctx *M, const char *name) {
  const char **cands = mem_alloc(M->L.mem, sizeof *cands * (size_t)(M->syms.n + 1));
  int n = 0;
  for (int i = 0; i < M->syms.cap; i++)
    if (M->syms.s[i].name && M->syms.s[i].defined)
      cands[n++] = M->syms.s[i].name;
  return nn_closest(name, cands, n);
}

const nn_val *nn_resolve(model_ctx *M, const nn_value *id, bool *quiet_fail) {
  nn_source *src = M->L.src;
  sym *s = nn_sym_find(&M->syms, id->s);
  if (s && s->defined) {
    if (!s->v.ok)
      *quiet_fail = true;
    return s->v.ok ? &s->v : NULL;
  }
  if (s && s->stmt == M->stmt) {
    nn_error(src, id->loc, "'%s' cannot take its own output as input", id->s);
    nn_hint(src, "give this layer a new name");
  } else if (s && s->stmt > M->stmt) {
    nn_error(src, id->loc, "'%s' is defined later, at line %d", id->s, s->loc.line);
    nn_hint(src, "a layer can only use inputs and layers above it");
  } else if (!s || s->stmt < M->stmt) { /* a duplicate's own statement: already reported */
    nn_error(src, id->loc, "'%s' is not defined", id->s);
    const char *near = closest_name(M, id->s);
    if (near)
      nn_hint(src, "did you mean '%s'?", near);
  }
  return NULL;
}

static void add_input(nn_layer *c, const nn_val *v, const nn_value *id) {
  c->in[c->n_in] = *v;
  c->in_loc[c->n_in] = id->loc;
  c->in_name[c->n_in++] = id->s;
}

/* Fills c->in from the NP_TENSOR / NP_TENSORS arguments; false when any
 * input is missing or of the wrong element type. */
static bool resolve_inputs(model_ctx *M, nn_layer *c) {
  int n = 0;
  const nn_fn_def *d = &c->def->fn;
  for (int k = 0; k < NN_MAX_PARAMS && d->params[k].name; k++) {
    const nn_value *v = c->a.v[k];
    if (v && d->params[k].type == NP_TENSOR)
      n++;
    else if (v && d->params[k].type == NP_TENSORS)
      n += v->n_items;
  }
  c->in = mem_alloc(M->L.mem, sizeof *c->in * (size_t)(n + 1));
  c->in_loc = mem_alloc(M->L.mem, sizeof *c->in_loc * (size_t)(n + 1));
  c->in_name = mem_alloc(M->L.mem, sizeof *c->in_name * (size_t)(n + 1));
  bool ok = true, quiet = false;
  for (int k = 0; k < NN_MAX_PARAMS && d->params[k].name; k++) {
    const nn_value *v = c->a.v[k];
    if (!v || (d->params[k].type != NP_TENSOR && d->params[k].type != NP_TENSORS))
      continue;
    int items = d->params[k].type == NP_TENSOR ? 1 : v->n_items;
    for (int i = 0; i < items; i++) {
      const nn_value *id = d->params[k].type == NP_TENSOR ? v : v->items[i];
      const nn_val *val = nn_resolve(M, id, &quiet);
      if (!val) {
        ok = false;
        continue;
      }
      if (val->dtype != IR_FLOAT && !c->def->int_input) {
        nn_error(M->L.src, id->loc, "%s '%s' wants float32 values; '%s' holds %s", d->name,
                 c->name, id->s, ir_dtype_name(val->dtype));
        nn_hint(M->L.src, "integer inputs are token ids: an embedding layer turns them into vectors");
        ok = false;
        continue;
      }
      add_input(c, val, id);
    }
  }
  return ok;
}

void nn_log_shape(nn_lower *L, const nn_val *v) {
  nn_shape_log *log = L->log;
  log->at = mem_grow(L->mem, log->at, sizeof *log->at, &log->cap, log->n + 1);
  struct nn_logged *e = &log->at[log->n++];
  e->t = v->t;
  e->rank = v->shape.rank + 1;
  e->dims[0] = 1;
  memcpy(e->dims + 1, v->shape.d, sizeof *e->dims * (size_t)v->shape.rank);
}

void nn_lower_layer_stmt(model_ctx *M, const nn_stmt *st) {
  nn_lower *L = &M->L;
  sym *me = nn_sym_find(&M->syms, st->name);
  if (!me || me->stmt != M->stmt)
    return; /* a duplicate definition: reported already */
  if (st->broken) {
    me->defined = true; /* poisoned: its syntax error was reported */
    return;
  }
  const nn_value *call = st->call;
  const nn_layer_def *def = nn_layer_find(L->mem, call->s);
  for (int k = 0; !def && k < M->F->f->n_models; k++)
    if (strcmp(M->F->f->models[k].name, call->s) == 0) {
      nn_lower_model_call(M, st, me, k);
      return;
    }
  if (M->F->layers++ >= MAX_EXPANDED_LAYERS) {
    me->defined = true;
    if (!M->F->too_big)
      nn_error(L->src, M->F->top, "the file expands to more than %d layers through its model calls",
               MAX_EXPANDED_LAYERS);
    M->F->too_big = true; /* every further layer would say the same */
    return;
  }
  if (!def) {
    me->defined = true;
    nn_error(L->src, call->loc, "unknown layer '%s'", call->s);
    const char *near = nn_layer_closest(call->s);
    if (near)
      nn_hint(L->src, "did you mean '%s'?", near);
    return;
  }
  /* Inside a model call, names get the calling layer's as a prefix; the
   * weights still draw from the streams of the model's own names. */
  const char *name = M->prefix ? mem_printf(L->mem, "%s.%s", M->prefix, st->name) : st->name;
  nn_layer c = {.L = L, .def = def, .name = name, .loc = call->loc};
  c.origin = M->prefix ? st->name : NULL;
  bool bound = nn_bind_args(L->src, L->mem, &def->fn, call, &c.a) == NN_OK;
  bool resolved = resolve_inputs(M, &c);
  me->defined = true; /* after resolving: a layer cannot use its own name */
  if (!resolved || !bound)
    return;
  int first_id = L->g->next_id;
  nn_status s = def->lower(&c);
  me->v = c.out;
  me->v.ok = s == NN_OK || c.out.ok;
  /* The layer's result carries the layer's name (an output of this layer,
   * never an input it merely passed on). */
  if (s == NN_OK && c.out.t && c.out.t->id >= first_id) {
    c.out.t->name = (char *)name;
    if (c.last && c.last->outputs[0] == c.out.t)
      c.last->name = (char *)name;
  }
  if (s == NN_OK && L->log)
    nn_log_shape(L, &c.out);
}

ir_dtype nn_input_dtype(model_ctx *M, const nn_stmt *st) {
  if (!st->dtype || strcmp(st->dtype, "float32") == 0)
    return IR_FLOAT;
  if (strcmp(st->dtype, "int64") == 0)
    return IR_INT64;
  if (strcmp(st->dtype, "int32") == 0)
    return IR_INT32;
  nn_error(M->L.src, st->dtype_loc, "unknown element type '%s'", st->dtype);
  nn_hint(M->L.src, "an input holds float32 (the default), int32 or int64");
  return IR_UNDEFINED;
}

static void lower_input(model_ctx *M, const nn_stmt *st) {
  sym *me = nn_sym_find(&M->syms, st->name);
  if (!me || me->stmt != M->stmt)
    return;
  me->defined = true;
  if (st->broken)
    return;
  ir_dtype dt = nn_input_dtype(M, st);
  nn_shape shape = {.rank = st->rank};
  memcpy(shape.d, st->dims, sizeof shape.d);
  if (nn_shape_numel(&shape) == INT64_MAX) {
    nn_error(M->L.src, st->name_loc, "input '%s' holds more than 2^40 values", st->name);
    return;
  }
  if (dt == IR_UNDEFINED)
    return;
  ir_graph *g = M->L.g;
  ir_tensor *t = ir_tensor_new(g, st->name);
  int64_t dims[IR_MAX_RANK] = {1};
  memcpy(dims + 1, st->dims, sizeof *dims * (size_t)st->rank);
  ir_set_shape(t, dt, st->rank + 1, dims);
  t->shaped = false; /* bind-shapes marks it once --shape had its say */
  t->kind = IR_INPUT;
  t->dim_params[0] = "batch"; /* 1 unless --shape says otherwise */
  g->inputs[g->n_inputs++] = t;
  me->v = (nn_val){.t = t, .shape = shape, .dtype = dt, .ok = true};
}

/* Marks the graph outputs. Like the ONNX loader, an output that is an input
 * or is listed twice gets its own Identity, so each is written once. */
static void lower_outputs(model_ctx *M) {
  nn_lower *L = &M->L;
  ir_graph *g = L->g;
  const nn_stmt *last_layer = NULL;
  int n = 0;
  for (int i = 0; i < M->m->n_stmts; i++) {
    const nn_stmt *st = &M->m->stmts[i];
    n += st->kind == NN_S_OUTPUT ? st->n_outputs : 0;
    last_layer = st->kind == NN_S_LAYER ? st : last_layer;
  }
  if (n == 0) {
    if (!M->clean)
      return;
    nn_error(L->src, M->m->loc, "model '%s' has no output", M->m->name);
    nn_hint(L->src, "add a line: output %s", last_layer ? last_layer->name : "NAME");
    return;
  }
  g->outputs = mem_alloc(L->mem, sizeof *g->outputs * (size_t)(n + 1));
  for (int i = 0; i < M->m->n_stmts; i++) {
    const nn_stmt *st = &M->m->stmts[i];
    for (int k = 0; st->kind == NN_S_OUTPUT && k < st->n_outputs; k++) {
      const nn_value *id = st->outputs[k];
      sym *s = nn_sym_find(&M->syms, id->s);
      if (!s) {
        nn_error(L->src, id->loc, "'%s' is not defined", id->s);
        const char *near = closest_name(M, id->s);
        if (near)
          nn_hint(L->src, "did you mean '%s'?", near);
        continue;
      }
      if (!s->v.ok || !s->v.t)
        continue;
      ir_tensor *t = s->v.t;
      if (t->is_output) {
        nn_error(L->src, id->loc, "'%s' is already an output", id->s);
        continue;
      }
      if (t->kind != IR_ACTIVATION || strcmp(t->name, id->s) != 0) {
        ir_node *cp = ir_node_new(g, "Identity", 1, 1);
        cp->name = mem_printf(L->mem, "%s.output", id->s);
        cp->opset = NN_OPSET;
        cp->inputs[0] = t;
        t = cp->outputs[0] = ir_tensor_new(g, cp->name);
      }
      t->is_output = true;
      g->outputs[g->n_outputs++] = t;
    }
  }
}

/* The seed: the train block's, else the model's `seed N`, else the file's. */
static void pick_seed(model_ctx *M, const nn_file *f) {
  const nn_stmt *mine = NULL;
  for (int i = 0; i < M->m->n_stmts; i++) {
    const nn_stmt *st = &M->m->stmts[i];
    if (st->kind != NN_S_SEED)
      continue;
    if (mine) {
      nn_error(M->L.src, st->loc, "the seed is set twice");
      nn_note(M->L.src, mine->loc, "it is first set here");
    }
    mine = st;
  }
  M->L.seed = f->seed ? (uint64_t)f->seed->seed : 0;
  if (mine)
    M->L.seed = (uint64_t)mine->seed;
  if (M->train.has_seed) {
    if (mine) {
      nn_error(M->L.src, mine->loc, "the seed is set both here and in the train block");
      nn_note(M->L.src, M->m->train_loc, "the train block");
    }
    M->L.seed = M->train.seed;
  }
}

/* The loss names one of the model's outputs (or there is only one). */
static void check_loss_output(model_ctx *M) {
  const nn_train_config *t = &M->train;
  ir_graph *g = M->L.g;
  if (!t->present || t->loss.kind == NN_LOSS_NONE)
    return;
  if (!t->loss.output) {
    if (g->n_outputs > 1) {
      nn_error(M->L.src, M->m->train_loc, "the model has %d outputs: name the one the loss is for",
               g->n_outputs);
      nn_hint(M->L.src, "e.g. loss = cross_entropy(%s)", g->outputs[0]->name);
    }
    return;
  }
  for (int i = 0; i < M->m->n_stmts; i++) {
    const nn_stmt *st = &M->m->stmts[i];
    for (int k = 0; st->kind == NN_S_OUTPUT && k < st->n_outputs; k++)
      if (strcmp(st->outputs[k]->s, t->loss.output) == 0)
        return;
  }
  nn_error(M->L.src, t->loss.output_loc, "the loss is on '%s', which is not an output of model '%s'",
           t->loss.output, M->m->name);
  nn_hint(M->L.src, "list it on the output line");
}

/* Lowers model `index` of the file into a new graph; the chosen model
 * (`first`: the one nn_load returns) also fills the caller's train config
 * and shape log. */
static ir_graph *lower_model(nn_source *src, mem_arena *mem, file_ctx *F, int index,
                             const nn_load_options *o, bool first) {
  const nn_file *f = F->f;
  const nn_model *m = &f->models[index];
  nn_train_config *train_out = first && o ? o->train : NULL;
  int errors_before = src->errors;
  model_ctx M = {.m = m, .F = F, .index = index, .syms = {.mem = mem}};
  M.L = (nn_lower){.src = src, .mem = mem, .g = ir_graph_new(mem, src->path)};
  M.L.max_weights = o && o->max_weights > 0 ? o->max_weights : NN_DEFAULT_MAX_WEIGHTS;
  M.L.log = first && o ? o->shapes : NULL;
  ir_graph *g = M.L.g;
  g->name = (char *)m->name;
  g->inputs = mem_alloc(mem, sizeof *g->inputs * (size_t)(m->n_stmts + 1));
  if (m->has_train && nn_train_check(src, mem, m->train, m->n_train, m->train_loc, &M.train) == NN_OK)
    M.L.init = M.train.init;
  pick_seed(&M, f);
  nn_declare_names(&M);
  /* "no input" and "no output" only for files that parsed cleanly: after a
   * syntax error they are more likely echoes than news. */
  M.clean = src->errors == 0;
  for (M.stmt = 0; M.stmt < m->n_stmts && !nn_too_many(src); M.stmt++) {
    const nn_stmt *st = &m->stmts[M.stmt];
    F->top = st->name_loc;
    if (st->kind == NN_S_INPUT)
      lower_input(&M, st);
    else if (st->kind == NN_S_LAYER)
      nn_lower_layer_stmt(&M, st);
  }
  if (nn_too_many(src))
    return g;
  bool declared = false;
  for (int i = 0; i < m->n_stmts; i++)
    declared |= m->stmts[i].kind == NN_S_INPUT;
  if (!declared && M.clean) {
    nn_error(src, m->loc, "model '%s' has no input", m->name);
    nn_hint(src, "declare one, e.g. input x [784]");
  }
  lower_outputs(&M);
  check_loss_output(&M);
  if (train_out)
    *train_out = M.train;
  F->info[index] = (model_info){src->errors == errors_before, M.L.seed, M.L.init};
  return g;
}

static void check_model_names(nn_source *src, const nn_file *f) {
  for (int i = 1; i < f->n_models; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(f->models[i].name, f->models[j].name) == 0) {
        nn_error(src, f->models[i].loc, "model '%s' is defined twice", f->models[i].name);
        nn_note(src, f->models[j].loc, "the first definition is here");
        break;
      }
}

/* The index of the model named `name` (the first model when NULL); -1
 * after reporting that there is none. */
static int choose_model(nn_source *src, mem_arena *mem, const nn_file *f, const char *name) {
  if (!name)
    return 0;
  char *list = "";
  for (int i = 0; i < f->n_models; i++) {
    if (strcmp(f->models[i].name, name) == 0)
      return i;
    list = mem_printf(mem, "%s%s%s", list, i ? ", " : "", f->models[i].name);
  }
  if (f->n_models) {
    fprintf(src->out ? src->out : stderr, "%s: error: --model %s: the file has no such model (its models: %s)\n",
            src->path, name, list);
    src->errors++;
  }
  return -1;
}

ir_graph *nn_load_text(const char *path, const char *text, size_t len, mem_arena *mem,
                       const nn_load_options *o) {
  nn_source *src = mem_alloc(mem, sizeof *src);
  *src = (nn_source){.path = path, .text = text, .len = (int)len, .out = o ? o->diag : NULL};
  ir_graph *first = NULL;
  if (len > (size_t)1 << 24) {
    src->len = 0;
    nn_error(src, (nn_loc){1, 1, 0, 0}, "the file is over 16 MiB; a .nn file describes a network, not its data");
  } else {
    nn_tokens toks = nn_lex(src, mem);
    nn_file *f = nn_parse(src, &toks, mem);
    check_model_names(src, f);
    int chosen = choose_model(src, mem, f, o ? o->model : NULL);
    file_ctx F = {.f = f, .info = mem_alloc(mem, sizeof *F.info * (size_t)(f->n_models + 1))};
    for (int i = 0; i < f->n_models && !nn_too_many(src); i++) {
      ir_graph *g = lower_model(src, mem, &F, i, o, i == chosen);
      first = i == chosen ? g : first;
    }
  }
  if (nn_too_many(src))
    fprintf(o && o->diag ? o->diag : stderr, "%s: too many errors; stopped\n", path);
  if (o && o->errors)
    *o->errors = src->errors;
  if (src->errors || !first)
    return NULL;
  if (ir_schedule(first) != NN_OK)
    NN_BUG(".nn lowering made a graph that does not schedule");
  return first;
}

ir_graph *nn_load(const char *path, mem_arena *mem, const nn_load_options *o) {
  size_t size;
  char *text = (char *)file_read(path, &size);
  if (!text)
    return NULL;
  ir_graph *g = nn_load_text(path, text, size, mem, o); /* tokens copy what the IR keeps */
  free(text);
  return g;
}
