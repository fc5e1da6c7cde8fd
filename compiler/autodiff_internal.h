/* Shared by compiler/autodiff.c (the helpers rules call) and
 * compiler/pass_autodiff.c (the pass that calls the rules). */
#ifndef NNCC_AUTODIFF_INTERNAL_H
#define NNCC_AUTODIFF_INTERNAL_H

#include "autodiff.h"

struct ad_ctx {
  ir_graph *g;
  int n_fwd_ids;       /* tensors with smaller ids belong to the forward graph */
  ir_tensor **grad;    /* by forward tensor id: its gradient so far, or NULL */
  bool *zero;          /* by forward tensor id: known to have zero gradient */
  bool *needs;         /* by forward tensor id: a param, or computed from one */
  const ir_node *cur;  /* the forward node whose rule runs (names, messages) */
  ir_phase phase;      /* given to every node built */
  int counter;         /* for fresh tensor names */
  nn_status st;        /* NN_ERR once a rule failed */
};

/* A fresh tensor named after the current forward node. */
ir_tensor *ad_tensor(ad_ctx *ad, const char *what);

#endif
