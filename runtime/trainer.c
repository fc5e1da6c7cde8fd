/* The training loop: load and check the data, then per epoch shuffle, run
 * _grad/_update over the batches, validate, watch for early stopping, write
 * a checkpoint; at the end restore the best weights and export. */
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "batch.h"
#include "checkpoint.h"
#include "dataset.h"
#include "early_stop.h"
#include "metrics.h"
#include "onnx_export.h"
#include "progress.h"
#include "schedule.h"
#include "shuffle.h"

typedef struct rt_trainer {
  const rt_module *m;
  const rt_train_options *o;
  rt_dataset train, val;
  int has_val;
  unsigned char *state, *best, *arena;
  size_t *perm;
  rt_batch batch;
  rt_ckpt_info ck; /* progress so far: epochs, steps, early stopping */
  rt_progress progress;
} rt_trainer;

static void *trainer_alloc64(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  void *p = aligned_alloc(64, rounded ? rounded : 64);
  if (p)
    memset(p, 0, rounded ? rounded : 64);
  return p;
}

/* Every input's samples (named[k], or the one file x for a one-input
 * model) and the labels y. */
static int trainer_load_files(const rt_trainer *t, const char *x, const char *y,
                              const char *const *named, const char *labels_option,
                              rt_dataset *d) {
  const rt_module *m = t->m;
  if (!named[0]) {
    size_t n = strlen(x);
    if (!y && !(n >= 4 && strcmp(x + n - 4, ".csv") == 0))
      return rt_data_error(x, "its labels are missing: give them with %s (only a CSV file "
                              "holds its own)", labels_option);
    return rt_load_any(x, y, t->o->label_column, t->o->csv_header, d);
  }
  memset(d, 0, sizeof *d);
  if (!y)
    return rt_data_error(named[0], "its labels are missing: give them with %s", labels_option);
  if (rt_load_labels(y, d))
    return -1;
  d->n_inputs = m->n_inputs;
  int rc = 0;
  for (int k = 0; k < m->n_inputs && rc == 0; k++) {
    size_t count;
    rc = rt_load_samples(named[k], &d->in[k], &count);
    if (rc == 0 && count != d->count)
      rc = rt_data_error(named[k], "%zu samples, but %s holds %zu labels", count, y, d->count);
  }
  if (rc)
    rt_dataset_free(d);
  return rc;
}

/* The data must fit the model: values per sample of each input (converted
 * to its type, every value checked), label width, classes. */
static int trainer_load_set(const rt_trainer *t, const char *x, const char *y,
                            const char *const *named, const char *labels_option,
                            rt_dataset *d) {
  const rt_module *m = t->m;
  if (trainer_load_files(t, x, y, named, labels_option, d))
    return -1;
  int rc = 0;
  if (d->count == 0)
    rc = rt_data_error(named[0] ? y : x, "no samples");
  for (int k = 0; k < m->n_inputs && rc == 0; k++) {
    rt_samples *s = &d->in[k];
    const rt_input *in = &m->inputs[k];
    if (s->features != in->features && m->n_inputs == 1)
      rc = rt_data_error(s->path, "%zu values per sample; the model '%s' takes %zu", s->features,
                         m->name, in->features);
    else if (s->features != in->features)
      rc = rt_data_error(s->path, "%zu values per sample; input '%s' of the model '%s' takes %zu",
                         s->features, in->name, m->name, in->features);
    else
      rc = rt_samples_convert(s, d->count, in);
  }
  if (rc == 0 && d->label_width != m->label_width)
    rc = rt_data_error(d->y_path, "%zu values per label; the model '%s' wants %zu",
                       d->label_width, m->name, m->label_width);
  else if (rc == 0)
    rc = rt_dataset_check(d, m->n_classes);
  if (rc)
    rt_dataset_free(d);
  return rc;
}

static int trainer_setup(rt_trainer *t) {
  const rt_module *m = t->m;
  const rt_train_options *o = t->o;
  if (trainer_load_set(t, o->train_x, o->train_y, o->train_in, "--train-labels", &t->train))
    return -1;
  t->has_val = o->val_x != NULL || o->val_in[0] != NULL;
  if (t->has_val && trainer_load_set(t, o->val_x, o->val_y, o->val_in, "--val-labels", &t->val))
    return -1;
  t->state = trainer_alloc64(m->state_bytes);
  t->arena = trainer_alloc64(m->arena_bytes);
  t->best = o->early_stopping && t->has_val ? trainer_alloc64(m->state_bytes) : NULL;
  t->perm = malloc(t->train.count * sizeof *t->perm);
  if (!t->state || !t->arena || !t->perm || (o->early_stopping && t->has_val && !t->best)) {
    fprintf(stderr, "%s: out of memory\n", m->name);
    return -1;
  }
  if (rt_batch_alloc(&t->batch, m))
    return -1;
  t->ck.state_hash = rt_state_hash(m);
  t->ck.state_bytes = m->state_bytes;
  t->ck.seed = o->seed;
  rt_early_stop_init(&t->ck.es, o->metric, o->patience);
  if (o->early_stopping && !t->has_val)
    fprintf(stderr, "%s: early stopping needs a validation set (--val...): it is off\n", m->name);
  m->init(t->state);
  if (o->resume) {
    if (rt_checkpoint_load(o->resume, &t->ck, t->state, t->best))
      return -1;
    fprintf(stderr, "resumed from %s after epoch %lld (%lld steps)\n", o->resume,
            (long long)t->ck.epochs_done, (long long)t->ck.step);
  }
  return 0;
}

/* The loss stopped being a number: name the first layer whose gradient did. */
static int trainer_bad_loss(const rt_trainer *t, int epoch, size_t batch, double loss) {
  const rt_state_entry *e = rt_first_bad_grad(t->m, t->state);
  fprintf(stderr, "%s%s: epoch %d, batch %zu: the loss is %s; ", t->progress.tty ? "\n" : "",
          t->m->name, epoch, batch + 1,
          isnan(loss) ? "NaN" : "infinite");
  /* Without a layer in the table, a name like "dense1.weight.grad" gives it. */
  const char *dot = e && !e->layer ? strchr(e->name, '.') : NULL;
  int layer_len = e && e->layer ? (int)strlen(e->layer) : dot ? (int)(dot - e->name) : 0;
  if (e)
    fprintf(stderr, "the first gradient that is not finite is '%s'%s%.*s%s", e->name,
            layer_len ? " (layer '" : "", layer_len, e->layer ? e->layer : e->name,
            layer_len ? "')" : "");
  else
    fprintf(stderr, "every gradient is still finite");
  fprintf(stderr, ". Stopping (a lower --lr, or inputs scaled to a smaller range, may help).\n");
  return -1;
}

static int trainer_epoch(rt_trainer *t, int epoch, double lr, rt_metrics *s) {
  const rt_module *m = t->m;
  size_t n = t->train.count, batches = rt_batch_count(n, m->batch);
  rt_shuffle_epoch(t->perm, n, t->ck.seed, (uint64_t)epoch);
  rt_metrics_reset(s, m);
  rt_progress_epoch_begin(&t->progress, epoch, batches);
  for (size_t b = 0; b < batches; b++) {
    rt_batch *bt = &t->batch;
    rt_batch_fill(bt, m, &t->train, t->perm, b * (size_t)m->batch);
    double loss = m->grad(t->state, (const void *const *)bt->x, bt->labels, bt->mask, bt->pred,
                          t->arena);
    if (!isfinite(loss))
      return trainer_bad_loss(t, epoch, b, loss);
    rt_metrics_add(s, m, bt, loss);
    if (t->o->update == RT_UPDATE_MINIBATCH)
      m->update(t->state, (float)lr, ++t->ck.step, 1.0f / (float)bt->n);
    rt_progress_batch(&t->progress, b + 1, s);
  }
  if (t->o->update == RT_UPDATE_FULL_BATCH)
    m->update(t->state, (float)lr, ++t->ck.step, 1.0f / (float)n);
  return 0;
}

static void trainer_evaluate(rt_trainer *t, const rt_dataset *d, rt_metrics *s) {
  const rt_module *m = t->m;
  rt_metrics_reset(s, m);
  for (size_t start = 0; start < d->count; start += (size_t)m->batch) {
    rt_batch *bt = &t->batch;
    rt_batch_fill(bt, m, d, NULL, start);
    m->predict(t->state, (const void *const *)bt->x, bt->pred, t->arena);
    double loss = 0;
    for (int r = 0; r < bt->n; r++)
      loss += rt_sample_loss(m, bt->pred + (size_t)r * m->out_features,
                             bt->y + (size_t)r * m->label_width);
    rt_metrics_add(s, m, bt, loss);
  }
}

/* Validation and early stopping after an epoch; returns 1 to stop. */
static int trainer_after_epoch(rt_trainer *t, int epoch, const rt_metrics *train, double lr) {
  rt_metrics val;
  if (t->has_val)
    trainer_evaluate(t, &t->val, &val);
  rt_progress_epoch_end(&t->progress, train, t->has_val ? &val : NULL, lr);
  int stop = 0;
  if (t->best) {
    rt_es_verdict v = rt_early_stop_update(&t->ck.es, epoch, rt_metrics_loss(&val),
                                           rt_metrics_accuracy(&val));
    if (v == RT_ES_IMPROVED)
      memcpy(t->best, t->state, t->m->state_bytes);
    if (v == RT_ES_STOP) {
      fprintf(stderr, "early stopping: %s has not improved for %d epochs (best %.4f at epoch %d)\n",
              t->ck.es.metric == RT_METRIC_VAL_LOSS ? "val_loss" : "val_accuracy",
              t->ck.es.waited, t->ck.es.best, t->ck.es.best_epoch);
      stop = 1;
    }
  }
  t->ck.epochs_done = epoch;
  if (t->o->checkpoint && rt_checkpoint_save(t->o->checkpoint, &t->ck, t->state, t->best))
    return -1;
  return stop;
}

static int trainer_finish(rt_trainer *t) {
  const rt_module *m = t->m;
  if (t->best && t->ck.es.best_epoch > 0 && t->ck.es.best_epoch != t->ck.epochs_done) {
    memcpy(t->state, t->best, m->state_bytes);
    fprintf(stderr, "restored the weights of epoch %d\n", t->ck.es.best_epoch);
  }
  if (t->has_val) {
    rt_metrics val;
    trainer_evaluate(t, &t->val, &val);
    printf("final: val_loss %.6f", rt_metrics_loss(&val));
    if (val.has_accuracy)
      printf("  val_accuracy %.6f", rt_metrics_accuracy(&val));
    printf("  (%lld epochs, %lld steps)\n", (long long)t->ck.epochs_done, (long long)t->ck.step);
  }
  if (t->o->export_onnx) {
    if (rt_export_onnx(t->o->export_onnx, m, t->state))
      return -1;
    fprintf(stderr, "wrote %s\n", t->o->export_onnx);
  }
  return 0;
}

static void trainer_cleanup(rt_trainer *t) {
  rt_dataset_free(&t->train);
  rt_dataset_free(&t->val);
  free(t->state);
  free(t->best);
  free(t->arena);
  free(t->perm);
  rt_batch_free(&t->batch);
}

int rt_train(const rt_module *m, const rt_train_options *o) {
  rt_trainer t = {.m = m, .o = o};
#ifdef _OPENMP
  if (o->threads > 0)
    omp_set_num_threads(o->threads);
#else
  if (o->threads > 1)
    fprintf(stderr, "%s: built without OpenMP: --threads is ignored\n", m->name);
#endif
  int rc = trainer_setup(&t);
  rt_progress_init(&t.progress, stderr, o->progress_tty, o->epochs);
  for (int epoch = (int)t.ck.epochs_done + 1; rc == 0 && epoch <= o->epochs; epoch++) {
    double lr = rt_schedule_lr(m, o->lr, epoch - 1, o->epochs);
    rt_metrics train;
    rc = trainer_epoch(&t, epoch, lr, &train);
    if (rc == 0 && (rc = trainer_after_epoch(&t, epoch, &train, lr)) == 1) {
      rc = 0;
      break;
    }
  }
  if (rc == 0)
    rc = trainer_finish(&t);
  trainer_cleanup(&t);
  return rc == 0 ? 0 : 1;
}

int rt_train_main(const rt_module *m, int argc, char **argv) {
  rt_train_options o;
  int rc = rt_train_parse_args(m, argc, argv, &o);
  if (rc)
    return rc < 0 ? 0 : rc;
  return rt_train(m, &o);
}
