#include "schedule.h"

#include <math.h>

double rt_schedule_lr(const rt_module *m, double lr, int epoch, int epochs) {
  switch (m->defaults.schedule) {
  case RT_SCHED_CONSTANT:
    return lr;
  case RT_SCHED_STEP:
    return m->defaults.sched_every > 0
               ? lr * pow(m->defaults.sched_gamma, (double)(epoch / m->defaults.sched_every))
               : lr;
  case RT_SCHED_EXPONENTIAL:
    return lr * pow(m->defaults.sched_gamma, epoch);
  case RT_SCHED_COSINE: {
    double T = m->defaults.sched_epochs > 0 ? (double)m->defaults.sched_epochs : epochs;
    double e = epoch < T ? epoch : T;
    return T > 0 ? lr * 0.5 * (1 + cos(3.14159265358979323846 * e / T)) : lr;
  }
  }
  return lr;
}
