/* What every command shares: command-line pieces, and model -> planned graph. */
#ifndef NNCC_DRIVER_H
#define NNCC_DRIVER_H

#include "passes.h"

typedef struct freeze_binding {
  const char *name; /* graph input */
  const char *path; /* .npy or TensorProto .pb holding its value */
} freeze_binding;

struct nn_train_config;

typedef struct driver_options {
  const char *model;
  const char *nn_model; /* --model: which model of a .nn file; NULL: the first */
  shape_binding shapes[64];
  int n_shapes;
  freeze_binding freezes[64];
  int n_freezes;
  int opt_level;
  const char *dump_after;
  bool onnx_level; /* run only the passes that keep the graph plain ONNX */
  struct nn_train_config *nn_train; /* not NULL: a .nn model's train block goes here */
  int64_t string_bytes; /* --string-bytes; 0: the default */
} driver_options;

/* Tries to take argv[*i] (and its value) as a shared option or as the model
 * (the one positional argument); returns 1 when taken, 0 when not ours, -1
 * on a malformed option or a second model (reported). */
int driver_parse_common(driver_options *o, int argc, char **argv, int *i);
/* Parses "NAME=2x3x4" into b; reports and returns NN_ERR when malformed. */
nn_status driver_parse_shape(const char *arg, shape_binding *b);
/* Reads a tensor from a .npy or a serialized TensorProto (.pb) file. */
nn_status driver_read_tensor(const char *path, mem_arena *mem, ir_tensor *t);
/* Loads the model (by its extension) and applies --freeze; no pass runs. */
ir_graph *driver_load(const driver_options *o, mem_arena *mem);
/* Makes graph input `index` a weight holding value's data (dtype and shape
 * must agree with the model's declaration where it has one). */
nn_status driver_freeze_input(ir_graph *g, int index, const ir_tensor *value, const char *from);
/* By tensor id: the value must be known at compile time, because it reaches
 * an input that an op needs constant (a shape, axes, pads...), directly or
 * through other nodes. */
bool *driver_const_tensors(const ir_graph *g);
/* Loads and runs the pipeline. NULL when errors were reported. */
ir_graph *driver_compile(const driver_options *o, mem_arena *mem);
/* Builds C sources into exe with $CC (default cc) and $NNCC_CFLAGS (default
 * -O2, plus -mavx2 -mfma when the CPU has them), -fopenmp, libs and -lm; the
 * compiler's output goes to log (compiler/cmd_run.c). */
nn_status driver_build_c(const char *model_path, const char *const *sources, int n_sources,
                         const char *const *libs, int n_libs, const char *exe, const char *log,
                         mem_arena *mem);

int cmd_compile(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
