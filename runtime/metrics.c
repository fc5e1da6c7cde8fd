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
  s->samples = s->correct = s->judged = 0;
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

/* Class-index labels over several positions (a tagger's [positions,
 * classes]): pred's score for class c at position p. */
static float metrics_score(const rt_module *m, const float *pred, size_t p, int c) {
  size_t inner = m->class_inner ? m->class_inner : 1;
  return pred[(p / inner * (size_t)m->n_classes + (size_t)c) * inner + p % inner];
}

static int metrics_position_class(const rt_module *m, const float *pred, size_t p) {
  int best = 0;
  for (int c = 1; c < m->n_classes; c++)
    if (metrics_score(m, pred, p, c) > metrics_score(m, pred, p, best))
      best = c;
  return best;
}

void rt_metrics_add(rt_metrics *s, const rt_module *m, const rt_batch *b, double loss_sum) {
  s->loss_sum += loss_sum;
  int positions = m->n_classes > 0 && m->label_width > 1;
  for (int r = 0; r < m->batch; r++) {
    if (b->mask[r] == 0)
      continue;
    s->samples++;
    const float *pred = b->pred + (size_t)r * m->out_features, *y = b->y + (size_t)r * m->label_width;
    if (!s->has_accuracy)
      continue;
    if (!positions) {
      s->correct += rt_predicted_class(m, pred) == rt_label_class(m, y);
      s->judged++;
      continue;
    }
    for (size_t p = 0; p < m->label_width; p++)
      s->correct += metrics_position_class(m, pred, p) == (int)y[p];
    s->judged += m->label_width;
  }
}

double rt_metrics_loss(const rt_metrics *s) {
  return s->samples ? s->loss_sum / (double)s->samples : 0;
}

double rt_metrics_accuracy(const rt_metrics *s) {
  return s->judged ? (double)s->correct / (double)s->judged : 0;
}

/* log(sum exp v) without overflow. */
static double metrics_log_sum_exp(const float *v, size_t n) {
  double top = v[metrics_argmax(v, n)], sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += exp(v[i] - top);
  return top + log(sum);
}

/* CE or NLL on class indices, one per position, averaged over them. */
static double metrics_index_loss(const rt_module *m, const float *pred, const float *y) {
  double l = 0;
  for (size_t p = 0; p < m->label_width; p++) {
    int c = (int)y[p];
    double score = metrics_score(m, pred, p, c);
    if (m->loss == RT_LOSS_NLL) {
      l -= score;
    } else if (!m->from_logits) {
      l -= log(fmax(score, 1e-7));
    } else {
      double top = metrics_score(m, pred, p, metrics_position_class(m, pred, p)), sum = 0;
      for (int k = 0; k < m->n_classes; k++)
        sum += exp(metrics_score(m, pred, p, k) - top);
      l += top + log(sum) - score;
    }
  }
  return l / (double)m->label_width;
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
  if (m->n_classes > 0 && m->label_width > 1 && (m->loss == RT_LOSS_CE || m->loss == RT_LOSS_NLL))
    return metrics_index_loss(m, pred, label);
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
