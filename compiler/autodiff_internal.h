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

/* Starts a differentiation of g as it is now: every tensor it has is a
 * forward tensor; nothing needs or has a gradient yet. */
void ad_init(ad_ctx *ad, ir_graph *g, ir_phase phase);
/* Marks (needs) every output of nodes [0, n_fwd) computed from a tensor
 * already marked; marks are only added, so an intermediate tensor marked
 * by the caller stays marked. */
void ad_mark_dependents(ad_ctx *ad, int n_fwd);
/* The backward walk over nodes [0, n_fwd) in reverse order (each must come
 * after its inputs' producers), from the gradients the caller seeded. A
 * reached node without a rule is reported as "WHO needs the gradient of OP,
 * which nncc does not have yet" followed by hint. */
nn_status ad_backward(ad_ctx *ad, int n_fwd, const char *who, const char *hint);

/* A fresh tensor named after the current forward node. */
ir_tensor *ad_tensor(ad_ctx *ad, const char *what);

#endif
