/* Early stopping: stop when the watched validation metric has not improved
 * for `patience` epochs in a row; the trainer keeps the best epoch's state
 * and restores it at the end. */
#ifndef NNCC_RT_EARLY_STOP_H
#define NNCC_RT_EARLY_STOP_H

#include "module.h"

typedef struct rt_early_stop {
  rt_metric metric;
  int patience;
  double best;    /* the best value seen (valid when best_epoch > 0) */
  int best_epoch; /* from 1; 0: none yet */
  int waited;     /* epochs since the best */
} rt_early_stop;

typedef enum { RT_ES_IMPROVED, RT_ES_WAIT, RT_ES_STOP } rt_es_verdict;

void rt_early_stop_init(rt_early_stop *e, rt_metric metric, int patience);
/* Records an epoch's metrics (val_loss: lower is better; val_accuracy:
 * higher). A NaN value never improves. */
rt_es_verdict rt_early_stop_update(rt_early_stop *e, int epoch, double val_loss,
                                   double val_accuracy);

#endif
