/* Finds a generator/discriminator pair in a .nn file from its syntax: the
 * file was loaded (and checked) already, so this only reads the shape of
 * its statements. */
#include "nn_gan.h"

#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "nn_ast.h"
#include "nn_lex.h"
#include "nn_parse.h"

static const nn_model *model_named(const nn_file *f, const char *name) {
  for (int i = 0; i < f->n_models; i++)
    if (strcmp(f->models[i].name, name) == 0)
      return &f->models[i];
  return NULL;
}

static bool has_setting(const nn_model *m, const char *name) {
  for (int i = 0; m->has_train && i < m->n_train; i++)
    if (strcmp(m->train[i].name, name) == 0)
      return true;
  return false;
}

/* The output m's loss reads: loss = f(NAME, ...), else m's only output. */
static const char *loss_output(const nn_model *m) {
  for (int i = 0; i < m->n_train; i++) {
    const nn_value *v = m->train[i].value;
    if (strcmp(m->train[i].name, "loss") == 0 && v && v->kind == NN_V_CALL && v->n_args > 0 &&
        !v->args[0].name && v->args[0].value->kind == NN_V_IDENT)
      return v->args[0].value->s;
  }
  const char *only = NULL;
  int n = 0;
  for (int i = 0; i < m->n_stmts; i++)
    for (int k = 0; m->stmts[i].kind == NN_S_OUTPUT && k < m->stmts[i].n_outputs; k++)
      only = m->stmts[i].outputs[k]->s, n++;
  return n == 1 ? only : NULL;
}

/* The layer statement of m named `name` when it calls a model of f. */
static const nn_stmt *model_call(const nn_file *f, const nn_model *m, const char *name) {
  for (int i = 0; i < m->n_stmts; i++) {
    const nn_stmt *st = &m->stmts[i];
    if (st->kind == NN_S_LAYER && strcmp(st->name, name) == 0)
      return st->call && model_named(f, st->call->s) ? st : NULL;
  }
  return NULL;
}

/* The call's first positional argument (the model's input it feeds). */
static const char *first_arg(const nn_stmt *st) {
  for (int i = 0; i < st->call->n_args; i++)
    if (!st->call->args[i].name && st->call->args[i].value->kind == NN_V_IDENT)
      return st->call->args[i].value->s;
  return NULL;
}

static bool pair_of(const nn_file *f, const nn_model *m, nn_gan_pair *out) {
  const char *judged = has_setting(m, "loss") ? loss_output(m) : NULL;
  const nn_stmt *dcall = judged ? model_call(f, m, judged) : NULL;
  const char *fake = dcall ? first_arg(dcall) : NULL;
  const nn_stmt *gcall = fake ? model_call(f, m, fake) : NULL;
  if (!gcall)
    return false;
  const nn_model *d = model_named(f, dcall->call->s), *g = model_named(f, gcall->call->s);
  if (d == g || !has_setting(d, "loss"))
    return false;
  *out = (nn_gan_pair){.generator = g->name, .discriminator = d->name, .gan = m->name,
                       .fake = fake, .judged = judged};
  return true;
}

bool nn_gan_find_text(const char *path, const char *text, size_t len, mem_arena *mem,
                      nn_gan_pair *out) {
  char *copy = mem_alloc(mem, len + 1); /* tokens point into the text */
  memcpy(copy, text, len);
  nn_source *src = mem_alloc(mem, sizeof *src);
  *src = (nn_source){.path = path, .text = copy, .len = (int)len};
  nn_tokens toks = nn_lex(src, mem);
  nn_file *f = nn_parse(src, &toks, mem);
  for (int i = 0; src->errors == 0 && i < f->n_models; i++)
    if (pair_of(f, &f->models[i], out))
      return true;
  return false;
}

bool nn_gan_find(const char *path, mem_arena *mem, nn_gan_pair *out) {
  size_t size;
  char *text = (char *)file_read(path, &size);
  if (!text)
    return false;
  bool found = nn_gan_find_text(path, text, size, mem, out);
  free(text);
  return found;
}
