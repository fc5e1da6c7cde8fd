#include "driver.h"

#include <stdlib.h>
#include <string.h>

#include "onnx.h"

nn_status driver_parse_shape(const char *arg, shape_binding *b) {
  const char *eq = strrchr(arg, '=');
  if (!eq || eq == arg)
    return diag_error(NULL, "--shape wants NAME=D0xD1x..., got '%s'", arg);
  size_t n = (size_t)(eq - arg);
  char *name = xmalloc(n + 1);
  memcpy(name, arg, n);
  name[n] = '\0';
  b->name = name;
  b->rank = 0;
  for (const char *p = eq + 1; *p;) {
    char *end;
    long long d = strtoll(p, &end, 10);
    if (end == p || d < 0 || b->rank == IR_MAX_RANK || (*end && *end != 'x'))
      return diag_error(NULL, "--shape %s: bad dimension list '%s' (want e.g. 1x3x224x224)", name, eq + 1);
    b->dims[b->rank++] = d;
    p = *end ? end + 1 : end;
  }
  return NN_OK;
}

int driver_parse_common(driver_options *o, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "-O0") == 0 || strcmp(a, "-O2") == 0 || strcmp(a, "-O1") == 0 ||
      strcmp(a, "-O3") == 0) {
    o->opt_level = a[2] - '0';
    return 1;
  }
  bool shape = strcmp(a, "--shape") == 0, dump = strcmp(a, "--dump-ir") == 0;
  if (shape || dump) {
    if (*i + 1 >= argc) {
      diag_error(NULL, "%s needs a value", a);
      return -1;
    }
    const char *v = argv[++*i];
    if (dump) {
      o->dump_after = v;
      return 1;
    }
    if (o->n_shapes == (int)(sizeof o->shapes / sizeof *o->shapes)) {
      diag_error(NULL, "too many --shape options");
      return -1;
    }
    return driver_parse_shape(v, &o->shapes[o->n_shapes++]) == NN_OK ? 1 : -1;
  }
  return 0;
}

ir_graph *driver_load(const char *path, mem_arena *mem) {
  return onnx_load(path, mem);
}

ir_graph *driver_compile(const driver_options *o, mem_arena *mem) {
  ir_graph *g = driver_load(o->model, mem);
  if (!g)
    return NULL;
  pipeline_options po = {.shapes = o->shapes, .n_shapes = o->n_shapes,
                         .opt_level = o->opt_level, .dump_after = o->dump_after};
  return pipeline_run(g, &po) == NN_OK ? g : NULL;
}
