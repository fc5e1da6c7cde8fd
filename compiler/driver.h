/* What every command shares: command-line pieces, and model -> planned graph. */
#ifndef NNCC_DRIVER_H
#define NNCC_DRIVER_H

#include "passes.h"

typedef struct driver_options {
  const char *model;
  shape_binding shapes[64];
  int n_shapes;
  int opt_level;
  const char *dump_after;
} driver_options;

/* Tries to take argv[*i] (and its value) as a shared option; returns 1 when
 * taken, 0 when not ours, -1 on a malformed option (reported). */
int driver_parse_common(driver_options *o, int argc, char **argv, int *i);
/* Parses "NAME=2x3x4" into b; reports and returns NN_ERR when malformed. */
nn_status driver_parse_shape(const char *arg, shape_binding *b);
/* Loads the model (by its extension) without running any pass. */
ir_graph *driver_load(const char *path, mem_arena *mem);
/* Loads and runs the pipeline. NULL when errors were reported. */
ir_graph *driver_compile(const driver_options *o, mem_arena *mem);

int cmd_compile(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif
