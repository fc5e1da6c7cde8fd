/* The data inputs of a training graph as the trainer program sees them
 * (runtime/module.h's rt_input): compiler/train_inputs.c. */
#ifndef NNCC_TRAIN_INPUTS_H
#define NNCC_TRAIN_INPUTS_H

#include "autodiff.h"
#include "../runtime/module.h"

/* Every input of g but autodiff's (labels, mask...), in g's order (the
 * order of _grad's parameters), into *out (g's arena). Reports and returns
 * NN_ERR when the trainer cannot feed them. */
nn_status train_inputs_describe(const ir_graph *g, const ad_result *r, rt_input **out, int *n);

#endif
