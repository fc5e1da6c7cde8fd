/* A layer that calls an earlier model of the file by its name, as a GAN's
 * training model applies the discriminator to the generator's output:
 * NAME = model(inputs..., out=OUTPUT). The called model's layers are copied
 * into the calling graph under NAME. with the same weights. */
#include <string.h>

#include "nn_model.h"

/* "a, b, c": the names model m declares with statements of kind k. */
static const char *stmt_names(mem_arena *mem, const nn_model *m, nn_skind k) {
  char *list = "";
  for (int i = 0; i < m->n_stmts; i++) {
    const nn_stmt *st = &m->stmts[i];
    for (int j = 0; st->kind == k && j < (k == NN_S_OUTPUT ? st->n_outputs : 1); j++)
      list = mem_printf(mem, "%s%s%s", list, *list ? ", " : "",
                        k == NN_S_OUTPUT ? st->outputs[j]->s : st->name);
  }
  return list;
}

/* The callee output the call names (out=OUTPUT), or its only one; NULL after reporting. */
static const char *call_output(model_ctx *M, const nn_value *call, const nn_model *m,
                               const nn_value *pick) {
  nn_source *src = M->L.src;
  const char *only = NULL;
  int n = 0;
  for (int i = 0; i < m->n_stmts; i++)
    for (int j = 0; m->stmts[i].kind == NN_S_OUTPUT && j < m->stmts[i].n_outputs; j++) {
      const char *o = m->stmts[i].outputs[j]->s;
      if (pick && strcmp(o, pick->s) == 0)
        return o;
      only = o, n++;
    }
  if (pick) {
    nn_error(src, pick->loc, "model '%s' has no output '%s'", m->name, pick->s);
    nn_hint(src, "its outputs are %s", stmt_names(M->L.mem, m, NN_S_OUTPUT));
  } else if (n == 1) {
    return only;
  } else {
    nn_error(src, call->loc, "model '%s' has %d outputs: pick one with out=NAME", m->name, n);
    nn_hint(src, "its outputs are %s", stmt_names(M->L.mem, m, NN_S_OUTPUT));
  }
  return NULL;
}

/* The call's positional arguments, resolved and checked against the
 * callee's inputs (count, element type, shape); false after reporting. */
static bool call_inputs(model_ctx *M, const nn_value *call, const nn_model *m, nn_val *args,
                        const nn_value **pick) {
  nn_source *src = M->L.src;
  mem_arena *mem = M->L.mem;
  int n_in = 0, given = 0;
  bool ok = true, quiet = false;
  for (int i = 0; i < m->n_stmts; i++)
    n_in += m->stmts[i].kind == NN_S_INPUT;
  for (int i = 0; i < call->n_args; i++) {
    const nn_call_arg *a = &call->args[i];
    if (a->name && strcmp(a->name, "out") == 0 && a->value->kind == NN_V_IDENT && !*pick) {
      *pick = a->value;
      continue;
    }
    if (a->name || a->value->kind != NN_V_IDENT) {
      nn_error(src, a->name ? a->name_loc : a->value->loc,
               "a model call takes the names of its inputs, then out=NAME");
      nn_hint(src, "e.g. y = %s(%s)", m->name, stmt_names(mem, m, NN_S_INPUT));
      ok = false;
      continue;
    }
    if (given++ >= n_in)
      continue;
    const nn_val *v = nn_resolve(M, a->value, &quiet);
    ok = ok && v;
    if (v)
      args[given - 1] = *v;
  }
  if (given != n_in) {
    nn_error(src, call->loc, "model '%s' takes %d input%s (%s); the call gives %d", m->name, n_in,
             n_in == 1 ? "" : "s", stmt_names(mem, m, NN_S_INPUT), given);
    return false;
  }
  for (int i = 0, k = 0; ok && i < m->n_stmts; i++) {
    const nn_stmt *st = &m->stmts[i];
    if (st->kind != NN_S_INPUT)
      continue;
    nn_shape want = {.rank = st->rank};
    memcpy(want.d, st->dims, sizeof want.d);
    const nn_value *id = NULL;
    for (int j = 0, p = 0; j < call->n_args && !id; j++)
      if (!call->args[j].name && p++ == k)
        id = call->args[j].value;
    if (!nn_shape_eq(&want, &args[k].shape) || args[k].dtype != nn_input_dtype(M, st)) {
      nn_error(src, id->loc, "model '%s' takes '%s' as %s%s%s; '%s' is %s%s%s", m->name, st->name,
               nn_shape_str(mem, &want), st->dtype ? " " : "", st->dtype ? st->dtype : "", id->s,
               nn_shape_str(mem, &args[k].shape), args[k].dtype == IR_FLOAT ? "" : " ",
               args[k].dtype == IR_FLOAT ? "" : ir_dtype_name(args[k].dtype));
      ok = false;
    }
    k++;
  }
  return ok;
}

/* NAME = model(x...): the earlier model k's layers, copied into this graph
 * with NAME. in front of their names (its weights keep their values: each
 * draws from its own name's stream with k's seed), fed by the call's
 * inputs; the call's value is the output it names. */
void nn_lower_model_call(model_ctx *M, const nn_stmt *st, sym *me, int k) {
  nn_source *src = M->L.src;
  const nn_model *m = &M->F->f->models[k];
  const nn_value *call = st->call;
  me->defined = true; /* poisoned until the end */
  if (k < M->index && !M->F->info[k].ok)
    return; /* a model with errors: they were reported with it */
  if (k >= M->index) {
    if (k == M->index)
      nn_error(src, call->loc, "model '%s' cannot use itself", m->name);
    else
      nn_error(src, call->loc, "model '%s' is defined later, at line %d", m->name, m->loc.line);
    nn_hint(src, "a model can use the models above it");
    return;
  }
  nn_val *args = mem_alloc(M->L.mem, sizeof *args * (size_t)(m->n_stmts + 1));
  const nn_value *pick = NULL;
  if (!call_inputs(M, call, m, args, &pick))
    return;
  const char *out = call_output(M, call, m, pick);
  if (!out)
    return;
  const char *name = M->prefix ? mem_printf(M->L.mem, "%s.%s", M->prefix, st->name) : st->name;
  model_ctx C = {.m = m, .F = M->F, .index = k, .prefix = name, .syms = {.mem = M->L.mem}};
  C.L = M->L;
  C.L.seed = M->F->info[k].seed;
  C.L.init = M->F->info[k].init;
  nn_declare_names(&C);
  int first_id = M->L.g->next_id;
  for (int i = 0, a = 0; i < m->n_stmts; i++) {
    const nn_stmt *s = &m->stmts[i];
    C.stmt = i;
    if (s->kind == NN_S_INPUT) {
      sym *in = nn_sym_find(&C.syms, s->name);
      in->defined = true;
      in->v = args[a++];
    } else if (s->kind == NN_S_LAYER) {
      nn_lower_layer_stmt(&C, s);
    }
  }
  M->L.weights = C.L.weights;
  M->L.over_limit = C.L.over_limit;
  const sym *o = nn_sym_find(&C.syms, out);
  me->v = o->v;
  ir_tensor *t = o->v.t;
  if (!o->v.ok || !t || t->id < first_id)
    return; /* a model whose output is its input: the caller's tensor stays as it is */
  t->name = (char *)name;
  for (int i = M->L.g->n_nodes - 1; i >= 0; i--)
    if (M->L.g->nodes[i]->n_outputs && M->L.g->nodes[i]->outputs[0] == t) {
      M->L.g->nodes[i]->name = (char *)name;
      break;
    }
  if (M->L.log)
    nn_log_shape(&M->L, &o->v);
}
