/* The reference tables of docs/language.md, printed from the tables the
 * compiler uses, so the documentation cannot drift from the code (a unit
 * test compares them). */
#include <string.h>

#include "nn.h"
#include "nn_init.h"
#include "nn_lower.h"

/* "`name` [default]", or the absence text of a "" default. */
static void param_doc(FILE *f, const nn_param *p) {
  fprintf(f, "`%s`", p->name);
  if (p->dflt && p->dflt[0])
    fprintf(f, " [%s]", p->dflt);
  else if (p->dflt && p->doc)
    fprintf(f, " [%s]", p->doc);
  if (p->type == NP_CHOICE) {
    fputs(": ", f);
    for (const char *c = p->choices; *c; c++)
      fputs(*c == '|' ? " \\| " : (char[2]){*c, 0}, f);
  }
}

static int n_params(const nn_fn_def *d) {
  int n = 0;
  while (n < NN_MAX_PARAMS && d->params[n].name)
    n++;
  return n;
}

/* One parameter inside a signature: "name", "name [default]". */
static void sig_param(FILE *f, const nn_param *p) {
  fputs(p->name, f);
  if (p->dflt && p->dflt[0])
    fprintf(f, " [%s]", p->dflt);
  else if (p->dflt && p->doc)
    fprintf(f, " [%s]", p->doc);
}

/* name(positional, ...), or with `all` every parameter (the named ones of a
 * function such as cross_entropy(output, from_logits [false]) too). */
static void signature_doc(FILE *f, const nn_fn_def *d, bool all) {
  int n = all ? n_params(d) : d->n_pos;
  fprintf(f, "`%s", d->name);
  for (int k = 0; k < n; k++) {
    fputs(k ? ", " : "(", f);
    sig_param(f, &d->params[k]);
  }
  fputs(n ? ")`" : "`", f);
}

static void options_doc(FILE *f, const nn_fn_def *d) {
  for (int k = d->n_pos; k < n_params(d); k++) {
    fputs(k > d->n_pos ? ", " : "", f);
    param_doc(f, &d->params[k]);
  }
}

static void layers(FILE *f) {
  fputs("| layer | what | options [default] | ONNX |\n| --- | --- | --- | --- |\n", f);
  const nn_layer_def *d;
  for (int i = 0; (d = nn_layer_at(i)); i++) {
    fputs("| ", f);
    signature_doc(f, &d->fn, false);
    fprintf(f, " | %s | ", d->doc);
    options_doc(f, &d->fn);
    fprintf(f, " | %s |\n", d->lowers_to);
  }
}

static void activations(FILE *f) {
  fputs("| activation | computes |\n| --- | --- |\n", f);
  const nn_fn_def *d;
  for (int i = 0; (d = nn_fn_at(&nn_activations, i)); i++) {
    fputs("| ", f);
    signature_doc(f, d, true);
    fprintf(f, " | %s |\n", nn_act_doc(d));
  }
}

static void initialisers(FILE *f) {
  fputs("| initialiser | draws |\n| --- | --- |\n", f);
  const nn_fn_def *d;
  for (int i = 0; (d = nn_fn_at(&nn_initialisers, i)); i++) {
    fputs("| ", f);
    signature_doc(f, d, true);
    fprintf(f, " | %s |\n", ((const nn_init_def *)d)->doc);
  }
}

static void set_doc(FILE *f, const nn_fn_set *set) {
  const nn_fn_def *d;
  for (int i = 0; (d = nn_fn_at(set, i)); i++) {
    fputs(i ? ", " : "", f);
    signature_doc(f, d, true);
  }
}

static void train(FILE *f) {
  fputs("| setting | values [default] |\n| --- | --- |\n", f);
  const nn_fn_def *t = nn_train_def();
  for (int k = 0; k < n_params(t); k++) {
    const nn_param *p = &t->params[k];
    fprintf(f, "| `%s` | ", p->name);
    if (p->type == NP_FN)
      set_doc(f, p->fns);
    else if (p->type == NP_CHOICE)
      for (const char *c = p->choices; *c; c++)
        fputs(*c == '|' ? " \\| " : (char[2]){*c, 0}, f);
    else
      fputs(p->type == NP_INT ? "integer" : "number", f);
    const char *dflt = p->dflt && p->dflt[0] ? p->dflt : p->doc;
    fprintf(f, " [%s] |\n", dflt);
  }
}

void nn_doc_tables(FILE *f) {
  fputs("### Layers\n\n", f);
  layers(f);
  fputs("\nAnd one layer per activation: `relu(x)`, `leaky_relu(x, alpha [0.01])`, ... "
        "(the activation's parameters follow x).\n\n### Activations\n\n", f);
  activations(f);
  fputs("\n### Initialisers\n\n", f);
  initialisers(f);
  fputs("\n### Train settings\n\n", f);
  train(f);
}
