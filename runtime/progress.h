/* The progress line. On a terminal, one line per epoch redrawn in place (a
 * bar, loss, accuracy, samples/s) at most ten times a second; otherwise (a
 * log file, a pipe) one line per finished epoch. */
#ifndef NNCC_RT_PROGRESS_H
#define NNCC_RT_PROGRESS_H

#include <stdio.h>

#include "metrics.h"

typedef struct rt_progress {
  FILE *out;
  int tty;               /* redraw the line as batches finish */
  int epoch, epochs;     /* epoch from 1 */
  size_t batches;        /* in this epoch */
  double start, drawn;   /* seconds: the epoch's start, the last redraw */
} rt_progress;

/* tty < 0: ask isatty(out). */
void rt_progress_init(rt_progress *p, FILE *out, int tty, int epochs);
void rt_progress_epoch_begin(rt_progress *p, int epoch, size_t batches);
/* After batch `done` (from 1) with the epoch's running metrics. */
void rt_progress_batch(rt_progress *p, size_t done, const rt_metrics *train);
/* The epoch's summary line; val may be NULL. */
void rt_progress_epoch_end(rt_progress *p, const rt_metrics *train, const rt_metrics *val,
                           double lr);
/* Monotonic seconds. */
double rt_seconds(void);

#endif
