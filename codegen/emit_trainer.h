/* The training program around a generated training module: the runtime
 * (the C files of runtime/, embedded in nncc), the module, and a main() that describes
 * the module to rt_train_main. One C file that builds alone:
 * cc -O2 train.c -lm -lz. */
#ifndef NNCC_EMIT_TRAINER_H
#define NNCC_EMIT_TRAINER_H

#include "cbuf.h"
#include "../runtime/module.h" /* the description the runtime reads */

typedef struct cg_trainer {
  const char *prefix;        /* the module's symbol prefix: PREFIX_init, PREFIX_BATCH... */
  const char *module_c;      /* the module's C text, written in; NULL: only #include
                                module_header (the module is compiled on its own) */
  const char *module_h;      /* the module's header text (with module_c) */
  const char *module_header; /* the name the module's C includes its header by */
  const char *command;       /* the nncc command line, for the banner */
  /* Everything else: features, loss, classes, the train block's defaults, the
   * ONNX bytes and patches. Its entry points, sizes, label type and state table
   * are ignored: the program takes them from the module's header
   * (PREFIX_BATCH, PREFIX_label_t, PREFIX_state_table...). */
  rt_module desc;
  const char *main_text; /* not NULL: written instead of the module's main() (a GAN's) */
} cg_trainer;

void cg_emit_trainer(const cg_trainer *t, cbuf *out);
/* `static rt_state_entry PREFIX_rt_state[]` and PREFIX_rt_state_init(),
 * which fills it from the module's PREFIX_state_table. */
void cg_emit_rt_state_table(cbuf *c, const char *prefix);
/* d's inputs as `static const rt_input PREFIX_rt_inputs[]`, and
 * PREFIX_grad_any/PREFIX_predict_any, the module's entry points with the
 * runtime's signatures (rt_module.grad and .predict). */
void cg_emit_rt_inputs(cbuf *c, const char *prefix, const rt_module *d);
/* d's ONNX bytes and patches as PREFIX_onnx_model and PREFIX_onnx_patches
 * (nothing when d->onnx is NULL). */
void cg_emit_rt_onnx(cbuf *c, const char *prefix, const rt_module *d);

#endif
