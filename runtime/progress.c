#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* isatty, fileno, clock_gettime */
#endif
#include "progress.h"

#include <time.h>
#include <unistd.h>

double rt_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void rt_progress_init(rt_progress *p, FILE *out, int tty, int epochs) {
  p->out = out;
  p->tty = tty < 0 ? isatty(fileno(out)) : tty;
  p->epochs = epochs;
  p->epoch = 0;
  p->batches = 0;
  p->start = p->drawn = rt_seconds();
}

void rt_progress_epoch_begin(rt_progress *p, int epoch, size_t batches) {
  p->epoch = epoch;
  p->batches = batches;
  p->start = rt_seconds();
  p->drawn = 0;
}

static double progress_rate(const rt_progress *p, size_t samples) {
  double dt = rt_seconds() - p->start;
  return dt > 0 ? (double)samples / dt : 0;
}

static void progress_metrics(FILE *f, const char *prefix, const rt_metrics *s) {
  fprintf(f, "  %sloss %.4f", prefix, rt_metrics_loss(s));
  if (s->has_accuracy)
    fprintf(f, "  %saccuracy %.4f", prefix, rt_metrics_accuracy(s));
}

void rt_progress_batch(rt_progress *p, size_t done, const rt_metrics *train) {
  double now = rt_seconds();
  if (!p->tty || (now - p->drawn < 0.1 && done < p->batches))
    return;
  p->drawn = now;
  enum { WIDTH = 24 };
  size_t fill = p->batches ? done * WIDTH / p->batches : WIDTH;
  char bar[WIDTH + 1];
  for (size_t i = 0; i < WIDTH; i++)
    bar[i] = i < fill ? '=' : i == fill ? '>' : '.';
  bar[WIDTH] = 0;
  fprintf(p->out, "\r\033[Kepoch %d/%d [%s] %zu/%zu", p->epoch, p->epochs, bar, done, p->batches);
  progress_metrics(p->out, "", train);
  fprintf(p->out, "  %.0f samples/s", progress_rate(p, train->samples));
  fflush(p->out);
}

void rt_progress_epoch_end(rt_progress *p, const rt_metrics *train, const rt_metrics *val,
                           double lr) {
  double secs = rt_seconds() - p->start;
  if (p->tty)
    fprintf(p->out, "\r\033[K");
  fprintf(p->out, "epoch %d/%d", p->epoch, p->epochs);
  progress_metrics(p->out, "", train);
  if (val)
    progress_metrics(p->out, "val_", val);
  fprintf(p->out, "  lr %.4g  %.0f samples/s  %.1f s\n", lr, progress_rate(p, train->samples), secs);
  fflush(p->out);
}
