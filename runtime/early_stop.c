#include "early_stop.h"

void rt_early_stop_init(rt_early_stop *e, rt_metric metric, int patience) {
  e->metric = metric;
  e->patience = patience;
  e->best = 0;
  e->best_epoch = 0;
  e->waited = 0;
}

rt_es_verdict rt_early_stop_update(rt_early_stop *e, int epoch, double val_loss,
                                   double val_accuracy) {
  double v = e->metric == RT_METRIC_VAL_LOSS ? val_loss : val_accuracy;
  int better = e->metric == RT_METRIC_VAL_LOSS ? v < e->best : v > e->best;
  if (v == v && (e->best_epoch == 0 || better)) {
    e->best = v;
    e->best_epoch = epoch;
    e->waited = 0;
    return RT_ES_IMPROVED;
  }
  return ++e->waited >= e->patience ? RT_ES_STOP : RT_ES_WAIT;
}
