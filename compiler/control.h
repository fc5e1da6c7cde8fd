/* Control flow and sequences, lowered at compile time (docs/design.md,
 * "Control flow and sequences"). If, Loop, Scan and SequenceMap inline
 * copies of their subgraphs into the graph while inference walks it; the
 * sequence and optional ops turn into lists of tensors. Nothing of them
 * reaches code generation. */
#ifndef NNCC_CONTROL_H
#define NNCC_CONTROL_H

#include "ir.h"

/* Most iterations nncc unrolls for one Loop or Scan. */
#define CONTROL_MAX_UNROLL 4096

/* Schedule position of n in g (n must be there). */
int control_node_index(const ir_graph *g, const ir_node *n);

/* Copies sub's nodes into g from schedule position pos on, in order, with
 * sub's inputs bound to args[0..n_args) (NULL or missing: an absent input)
 * and every tensor of sub's own renamed "<prefix><name>". results[k] gets the
 * tensor that holds sub's output k in g. When bind is given, sub's output k
 * is written into bind[k] instead (through an Identity when sub does not
 * compute it itself). Nested subgraphs are copied with the same renaming.
 * Returns how many nodes went in, or -1 after reporting an unsupported op. */
int control_inline(ir_graph *g, int pos, const ir_node *site, const ir_graph *sub,
                   ir_tensor *const *args, int n_args, const char *prefix,
                   ir_tensor **results, ir_tensor *const *bind);

/* A node of op_type placed at pos with the opset and a name derived from
 * `like` (the node it serves). */
ir_node *control_node(ir_graph *g, int pos, const ir_node *like, const char *op_type,
                      int n_inputs, int n_outputs);
/* A fresh tensor of g (shaped later, by inference). */
ir_tensor *control_tensor(ir_graph *g, const char *name);
/* A constant int64 (or bool, dtype IR_BOOL) tensor of rank 0 or 1. */
ir_tensor *control_const(ir_graph *g, const char *name, ir_dtype dtype, int rank, int64_t value);
/* Integer-list attribute on n. */
void control_set_ints(ir_graph *g, ir_node *n, const char *name, const int64_t *v, int count);
/* out = Unsqueeze(x, axis) at pos, in the form n's opset reads. */
ir_node *control_unsqueeze(ir_graph *g, int pos, const ir_node *like, ir_tensor *x,
                           int64_t axis, ir_tensor *out);

/* Sequences at the graph's edges and in front of tensor ops
 * (compiler/ops/sequence.c). */
/* Before inference of n: a sequence reaching an op that takes tensors.
 * Returns 0 to go on, 1 when n was handled (Identity forwards the value),
 * -1 after reporting. */
int seq_guard(ir_graph *g, ir_node *n);
/* After inference: sequence and optional graph outputs become tensor
 * outputs, one per element, and g->out_first/out_count/out_kind say how. */
nn_status seq_expand_outputs(ir_graph *g);
/* Gives a sequence or optional graph input (input k, a placeholder from the
 * loader) its value's structure: value is a tensor whose seq lists the
 * elements (nested for an optional sequence), each element's dtype and
 * shape set. Every tensor element becomes a graph input named
 * "<name>.<i>" (nested: "<name>.<i>.<j>"), in order, where the placeholder
 * was (g->inputs[k..k+count)). Returns that count, or -1 after reporting. */
int seq_bind_input(ir_graph *g, int k, const ir_tensor *value);

#endif
