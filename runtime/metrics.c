#include "metrics.h"

#include <math.h>

static int metrics_argmax(const float *v, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return (int)best;
}

void rt_metrics_reset(rt_metrics *s, const rt_module *m) {
  s->loss_sum = 0;
  s->samples = s->correct = 0;
  s->has_accuracy = m->n_classes > 0 || m->loss == RT_LOSS_BCE || m->loss == RT_LOSS_CE ||
                    m->loss == RT_LOSS_NLL || m->loss == RT_LOSS_HINGE;
}

int rt_predicted_class(const rt_module *m, const float *pred) {
  if (m->out_features > 1)
    return metrics_argmax(pred, m->out_features);
  float threshold = m->from_logits || m->loss == RT_LOSS_HINGE ? 0.0f : 0.5f;
  return pred[0] > threshold;
}

int rt_label_class(const rt_module *m, const float *label) {
  if (m->label_width > 1)
    return metrics_argmax(label, m->label_width);
  if (m->out_features == 1)
    return label[0] > (m->loss == RT_LOSS_HINGE ? 0.0f : 0.5f);
  return (int)label[0];
}

void rt_metrics_add(rt_metrics *s, const rt_module *m, const rt_batch *b, double loss_sum) {
  s->loss_sum += loss_sum;
  for (int r = 0; r < m->batch; r++) {
    if (b->mask[r] == 0)
      continue;
    s->samples++;
    if (s->has_accuracy)
      s->correct += rt_predicted_class(m, b->pred + (size_t)r * m->out_features) ==
                    rt_label_class(m, b->y + (size_t)r * m->label_width);
  }
}

double rt_metrics_loss(const rt_metrics *s) {
  return s->samples ? s->loss_sum / (double)s->samples : 0;
}

double rt_metrics_accuracy(const rt_metrics *s) {
  return s->samples ? (double)s->correct / (double)s->samples : 0;
}

/* log(sum exp v) without overflow. */
static double metrics_log_sum_exp(const float *v, size_t n) {
  double top = v[metrics_argmax(v, n)], sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += exp(v[i] - top);
  return top + log(sum);
}

static double metrics_ce(const rt_module *m, const float *p, const float *y) {
  size_t n = m->out_features;
  double lse = m->from_logits ? metrics_log_sum_exp(p, n) : 0;
  if (m->label_width == 1) {
    int c = (int)y[0];
    return m->from_logits ? lse - p[c] : -log(fmax(p[c], 1e-7));
  }
  double l = 0;
  for (size_t k = 0; k < n; k++)
    l -= y[k] * (m->from_logits ? p[k] - lse : log(fmax(p[k], 1e-7)));
  return l;
}

static double metrics_bce(const rt_module *m, const float *p, const float *y) {
  double l = 0;
  for (size_t k = 0; k < m->out_features; k++) {
    if (m->from_logits) /* log(1 + e^x) - y x, stable on both sides */
      l += fmax(p[k], 0) - p[k] * y[k] + log1p(exp(-fabs(p[k])));
    else {
      double q = fmin(fmax(p[k], 1e-7), 1 - 1e-7);
      l -= y[k] * log(q) + (1 - y[k]) * log(1 - q);
    }
  }
  return l / (double)m->out_features;
}

double rt_sample_loss(const rt_module *m, const float *pred, const float *label) {
  size_t n = m->out_features;
  double l = 0;
  switch (m->loss) {
  case RT_LOSS_CE:
    return metrics_ce(m, pred, label);
  case RT_LOSS_NLL:
    return -pred[(int)label[0]];
  case RT_LOSS_BCE:
    return metrics_bce(m, pred, label);
  case RT_LOSS_MSE:
  case RT_LOSS_MAE:
    for (size_t k = 0; k < n; k++) {
      double e = pred[k] - label[k < m->label_width ? k : 0];
      l += m->loss == RT_LOSS_MSE ? e * e : fabs(e);
    }
    return l / (double)n;
  case RT_LOSS_HINGE:
    for (size_t k = 0; k < n; k++) {
      l += fmax(0, 1 - label[k < m->label_width ? k : 0] * pred[k]);
    }
    return l / (double)n;
  }
  return 0;
}
