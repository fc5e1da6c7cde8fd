#include "ops.h"

#include <string.h>

static const struct {
  const char *family;
  const op_def *table;
} families[] = {
#define X(family) {#family, op_family_##family},
    OP_FAMILIES(X)
#undef X
};

static bool same_domain(const char *a, const char *b) {
  /* "ai.onnx" is the default domain's long name. */
  if (!a || strcmp(a, "ai.onnx") == 0)
    a = "";
  if (!b || strcmp(b, "ai.onnx") == 0)
    b = "";
  return strcmp(a, b) == 0;
}

const op_def *op_find(const char *domain, const char *name) {
  for (size_t f = 0; f < sizeof families / sizeof *families; f++)
    for (const op_def *op = families[f].table; op->name; op++)
      if (strcmp(op->name, name) == 0 && same_domain(op->domain, domain))
        return op;
  return NULL;
}

void op_each(void (*fn)(const op_def *op, const char *family, void *arg), void *arg) {
  for (size_t f = 0; f < sizeof families / sizeof *families; f++)
    for (const op_def *op = families[f].table; op->name; op++)
      fn(op, families[f].family, arg);
}
