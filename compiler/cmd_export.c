/* nncc export MODEL -o OUT.onnx: the graph nncc would compile, written back
 * as ONNX. It runs the ONNX-level prefix of the pipeline (shapes bound,
 * operators checked, shapes inferred, constants folded, dead nodes dropped at
 * -O2) and stops before the passes that only prepare code generation (the
 * planner), so the file holds standard operators specialized to the bound
 * shapes. Any model driver_load accepts can be exported. */
#include <string.h>

#include "driver.h"
#include "onnx.h"
#include "train_cli.h"

int cmd_export(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--checkpoint") == 0) /* a trainer's weights: compiled for training */
      return cmd_export_checkpoint(argc, argv);
  driver_options o = {.opt_level = 2, .onnx_level = true};
  const char *out = NULL;
  for (int i = 1; i < argc; i++) {
    int took = driver_parse_common(&o, argc, argv, &i);
    if (took < 0)
      return 1;
    if (took)
      continue;
    const char *a = argv[i];
    if (strcmp(a, "-o") == 0) {
      if (i + 1 == argc) {
        diag_error(NULL, "export: -o needs a file name");
        return 1;
      }
      out = argv[++i];
    } else {
      diag_error(NULL, "export: unknown option '%s' (see nncc --help)", a);
      return 1;
    }
  }
  if (!o.model || !out) {
    /* No default name: MODEL's own base name would overwrite the model. */
    diag_error(NULL, "export: usage: nncc export MODEL -o OUT.onnx [options]");
    return 1;
  }
  mem_arena *mem = mem_new();
  ir_graph *g = driver_compile(&o, mem);
  int rc = !g || onnx_write(g, out) != NN_OK;
  mem_free(mem);
  return rc;
}
