/* Loss and accuracy over an epoch. Training loss is the module's (the masked
 * sum _grad returns); validation loss is computed here from predictions,
 * with the per-sample definitions below, which the generated losses share. */
#ifndef NNCC_RT_METRICS_H
#define NNCC_RT_METRICS_H

#include <stddef.h>

#include "batch.h"
#include "module.h"

typedef struct rt_metrics {
  double loss_sum;
  size_t samples, correct;
  size_t judged;    /* predictions counted for accuracy: samples, or positions when a
                       sample holds a class index per position */
  int has_accuracy; /* the model classifies */
} rt_metrics;

void rt_metrics_reset(rt_metrics *s, const rt_module *m);
/* Counts a batch: its real samples' correct predictions, and loss_sum. */
void rt_metrics_add(rt_metrics *s, const rt_module *m, const rt_batch *b, double loss_sum);
double rt_metrics_loss(const rt_metrics *s);
double rt_metrics_accuracy(const rt_metrics *s);

/* One sample's loss from its prediction (out_features values) and label
 * (label_width values): MSE and MAE average over the outputs; BCE averages
 * over the outputs, on probabilities or logits; CE takes class indices
 * (n_classes > 0: one per position, averaged over the positions) or a
 * one-hot/probability row, on probabilities (clamped at 1e-7) or logits; NLL
 * takes log-probabilities (per position too); hinge averages
 * max(0, 1 - y p) over labels of -1 or 1. */
double rt_sample_loss(const rt_module *m, const float *pred, const float *label);
/* The class a prediction picks and the class a label names. */
int rt_predicted_class(const rt_module *m, const float *pred);
int rt_label_class(const rt_module *m, const float *label);

#endif
