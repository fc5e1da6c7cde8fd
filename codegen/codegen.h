/* The back door: a planned graph in, C text out. */
#ifndef NNCC_CODEGEN_H
#define NNCC_CODEGEN_H

#include "cbuf.h"
#include "diag.h"
#include "ir.h"

typedef struct cg_options {
  const char *prefix;      /* symbol prefix, a C identifier; default "model" */
  const char *header_name; /* how the .c includes the .h, e.g. "model.h" */
  const char *command;     /* the nncc command line, for the banner */
  bool openmp;             /* mark heavy loops for OpenMP */
  /* After each node the model calls PREFIX_trace(k, data, bytes) for its
   * k-th computed tensor (`nncc run --trace`); the harness writes them out. */
  bool trace;
} cg_options;

struct ad_result;

/* Writes the training module (docs/training.md) of a graph autodiff has
 * run on, and its header. */
nn_status cg_emit_train(ir_graph *g, const struct ad_result *r, const cg_options *o, cbuf *c_out,
                        cbuf *h_out);
/* The state table's tensors in its order (params, gradients, optimizer
 * state, buffers; each group in tensor order) into out (room for
 * g->n_tensors); returns how many. */
int cg_state_table_order(const ir_graph *g, const ir_tensor **out);
/* A state tensor's name as the table (and so a trainer) spells it. */
const char *cg_state_table_name(const ir_graph *g, const ir_tensor *t);
/* Writes the inference source and its header. */
nn_status cg_emit_model(ir_graph *g, const cg_options *o, cbuf *c_out, cbuf *h_out);
/* Writes a main() that reads raw inputs, runs the model, writes raw outputs
 * (used by `nncc run`): prog REPEAT IN_FILES... OUT_FILES... */
void cg_emit_harness(const ir_graph *g, const cg_options *o, cbuf *out);

#endif
