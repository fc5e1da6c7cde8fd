/* Learning-rate schedules, per epoch (epoch counts from 0): constant;
 * step: lr * gamma^floor(epoch / every); exponential: lr * gamma^epoch;
 * cosine: lr * (1 + cos(pi * min(epoch, T) / T)) / 2 over T epochs. */
#ifndef NNCC_RT_SCHEDULE_H
#define NNCC_RT_SCHEDULE_H

#include "module.h"

/* T for cosine is m->defaults.sched_epochs, or epochs when that is 0. */
double rt_schedule_lr(const rt_module *m, double lr, int epoch, int epochs);

#endif
