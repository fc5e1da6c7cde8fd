/* `nncc train`'s program: the generated training module wrapped with the
 * runtime and a main() (codegen/emit_trainer.c), the module's description
 * taken from the compiled graph and the train block, the forward graph
 * embedded as ONNX for --export-onnx; `--build` compiles it. */
#ifndef NNCC_TRAIN_PROGRAM_H
#define NNCC_TRAIN_PROGRAM_H

#include "autodiff.h"
#include "cbuf.h"
#include "driver.h"

struct nn_train_config;
struct rt_module;

typedef struct train_program {
  bool module_only; /* --module-only: write the module alone (no runtime, no main) */
  bool build;       /* --build: compile the program with $CC */
  const char *command;
  const char *prefix, *header_name;
  double lr;        /* --lr, NaN when not given */
  const driver_options *options; /* how the model was loaded, for the forward export */
  int user_shapes;  /* how many of options->shapes the user gave (before the batch) */
} train_program;

/* Takes arg when it is one of the program's flags; returns 1 taken, 0 not. */
int train_program_option(train_program *p, const char *arg);
/* Replaces the module's C text in c with the whole program (module inlined,
 * h as its header). Reports and returns NN_ERR when the model does not fit
 * the trainer (more than one input, not float). */
nn_status train_program_wrap(const train_program *p, const ir_graph *g, const ad_result *r,
                             const ad_options *ao, const struct nn_train_config *cfg, cbuf *c,
                             const cbuf *h);
/* The forward model (p->options' model) as ONNX bytes with where each of
 * train's params (and buffers that are initializers) lies in them, into
 * d->onnx, onnx_bytes, onnx_patches; d->onnx NULL (with a note) when it
 * cannot be written. The caller frees d->onnx and d->onnx_patches. */
void train_program_onnx(const train_program *p, const ir_graph *train, struct rt_module *d);
/* cc -O2 ... OUT.c -lz -lm -o OUT (OUT.c without its extension). */
nn_status train_program_build(const ir_graph *g, const char *out_c, mem_arena *mem);

#endif
