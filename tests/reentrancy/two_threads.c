/* Two threads run the same generated model at once, each on its own arena
 * and inputs, many times; every result must equal the one computed alone.
 * Built by run.py with -DIN_N=... -DOUT_N=... against model.h (prefix model). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

enum { ROUNDS = 200 };

typedef struct job {
  float in[IN_N], expect[OUT_N], out[OUT_N];
  _Alignas(64) unsigned char arena[MODEL_ARENA_BYTES + 1];
  int mismatches;
} job;

static void *work(void *arg) {
  job *j = arg;
  for (int r = 0; r < ROUNDS; r++) {
    memset(j->out, 0, sizeof j->out);
    model_run(j->in, j->out, j->arena);
    j->mismatches += memcmp(j->out, j->expect, sizeof j->out) != 0;
  }
  return NULL;
}

int main(void) {
  static job jobs[2];
  for (int t = 0; t < 2; t++) {
    for (int i = 0; i < IN_N; i++)
      jobs[t].in[i] = (float)((i * 7 + t * 13) % 17) / 17.0f - 0.5f;
    model_run(jobs[t].in, jobs[t].expect, jobs[t].arena); /* alone first */
  }
  if (memcmp(jobs[0].expect, jobs[1].expect, sizeof jobs[0].expect) == 0) {
    fprintf(stderr, "the two inputs give the same output; the test would prove nothing\n");
    return 1;
  }
  pthread_t th[2];
  for (int t = 0; t < 2; t++)
    pthread_create(&th[t], NULL, work, &jobs[t]);
  for (int t = 0; t < 2; t++)
    pthread_join(th[t], NULL);
  int bad = jobs[0].mismatches + jobs[1].mismatches;
  printf("%d concurrent runs, %d mismatches\n", 2 * ROUNDS, bad);
  return bad != 0;
}
