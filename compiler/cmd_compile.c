/* nncc MODEL -o OUT.c: the main job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen.h"
#include "driver.h"
#include "file.h"
#include "names.h"

static char *join_args(mem_arena *mem, int argc, char **argv) {
  size_t n = 8;
  for (int i = 0; i < argc; i++)
    n += strlen(argv[i]) + 1;
  char *s = mem_alloc(mem, n);
  strcpy(s, "nncc");
  for (int i = 1; i < argc; i++) {
    strcat(s, " ");
    strcat(s, argv[i]);
  }
  return s;
}

int cmd_compile(int argc, char **argv) {
  mem_arena *mem = mem_new();
  driver_options o = {.opt_level = 2};
  const char *out = NULL, *prefix = NULL;
  bool openmp = true;
  for (int i = 1; i < argc; i++) {
    int took = driver_parse_common(&o, argc, argv, &i);
    if (took < 0)
      return 1;
    if (took)
      continue;
    const char *a = argv[i];
    if ((strcmp(a, "-o") == 0 || strcmp(a, "--prefix") == 0) && i + 1 < argc) {
      *(a[1] == 'o' ? &out : &prefix) = argv[++i];
    } else if (strcmp(a, "--no-openmp") == 0) {
      openmp = false;
    } else {
      diag_error(NULL, "unknown option '%s' (see nncc --help)", a);
      return 1;
    }
  }
  if (!o.model) {
    diag_error(NULL, "no model given (see nncc --help)");
    return 1;
  }
  if (!out) {
    out = mem_printf(mem, "%s.c", names_base_ident(mem, o.model));
  }
  size_t len = strlen(out);
  if (len < 3 || strcmp(out + len - 2, ".c") != 0) {
    diag_error(NULL, "-o %s: the output must be a .c file (the header goes beside it)", out);
    return 1;
  }
  if (prefix) {
    name_scope s;
    names_init(&s, mem);
    if (strcmp(names_make(&s, prefix, 64), prefix) != 0) {
      diag_error(NULL, "--prefix %s: not a valid C identifier", prefix);
      return 1;
    }
  }
  char *header = mem_strdup(mem, out);
  header[len - 1] = 'h';
  const char *slash = strrchr(header, '/');

  ir_graph *g = driver_compile(&o, mem);
  if (!g)
    return 1;
  cg_options co = {.prefix = prefix ? prefix : names_base_ident(mem, out),
                   .header_name = slash ? slash + 1 : header,
                   .command = join_args(mem, argc, argv),
                   .openmp = openmp};
  cbuf c, h;
  cb_init(&c);
  cb_init(&h);
  int rc = cg_emit_model(g, &co, &c, &h) != NN_OK ||
           file_write_atomic(out, c.data, c.len) != NN_OK ||
           file_write_atomic(header, h.data, h.len) != NN_OK;
  if (rc)
    remove(out); /* never leave half a pair behind */
  cb_free(&c);
  cb_free(&h);
  mem_free(mem);
  return rc;
}
