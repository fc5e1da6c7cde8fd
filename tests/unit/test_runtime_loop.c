/* runtime/: shuffling, batching with a mask, metrics, schedules, early
 * stopping, checkpoints, the state hash and the progress line. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "checkpoint.h"
#include "early_stop.h"
#include "metrics.h"
#include "progress.h"
#include "schedule.h"
#include "shuffle.h"

Test(runtime_shuffle, pcg32_reference_values) {
  /* The first outputs of PCG32 seeded (42, 54), as published with pcg32-demo. */
  rt_pcg32 g;
  rt_pcg32_seed(&g, 42, 54);
  cr_assert_eq(rt_pcg32_next(&g), 0xa15c02b7u);
  cr_assert_eq(rt_pcg32_next(&g), 0x7b47f409u);
  cr_assert_eq(rt_pcg32_next(&g), 0xba1d3330u);
}

Test(runtime_shuffle, permutation_per_epoch) {
  enum { N = 1000 };
  static size_t a[N], b[N], c[N];
  rt_shuffle_epoch(a, N, 7, 1);
  rt_shuffle_epoch(b, N, 7, 1);
  rt_shuffle_epoch(c, N, 7, 2);
  cr_assert_arr_eq(a, b, sizeof a); /* same seed and epoch: same order */
  cr_assert_neq(memcmp(a, c, sizeof a), 0);
  static char seen[N];
  size_t fixed = 0;
  for (size_t i = 0; i < N; i++) {
    cr_assert_lt(a[i], N);
    cr_assert_eq(seen[a[i]]++, 0);
    fixed += a[i] == i;
  }
  cr_assert_lt(fixed, 10); /* about one fixed point is expected */
}

Test(runtime_shuffle, below_is_uniform_enough) {
  rt_pcg32 g;
  rt_pcg32_seed(&g, 1, 1);
  int hist[3] = {0};
  for (int i = 0; i < 30000; i++)
    hist[rt_pcg32_below(&g, 3)]++;
  for (int k = 0; k < 3; k++)
    cr_assert(hist[k] > 9500 && hist[k] < 10500, "bucket %d: %d", k, hist[k]);
}

static rt_module small_module(void) {
  static const rt_input x = {.name = "x", .type = RT_ELEM_FLOAT32, .features = 2};
  rt_module m = {.name = "m", .batch = 4, .inputs = &x, .n_inputs = 1, .out_features = 3,
                 .label_type = RT_LABEL_INT64, .label_width = 1, .n_classes = 3,
                 .loss = RT_LOSS_CE};
  return m;
}

Test(runtime_batch, short_last_batch_is_masked) {
  rt_module m = small_module();
  float x[5 * 2] = {0, 1, 10, 11, 20, 21, 30, 31, 40, 41}, y[5] = {0, 1, 2, 0, 1};
  rt_dataset d = {.count = 5, .n_inputs = 1, .label_width = 1, .y = y};
  d.in[0] = (rt_samples){.features = 2, .type = RT_ELEM_FLOAT32, .x = x};
  size_t perm[5] = {4, 3, 2, 1, 0};
  rt_batch b;
  cr_assert_eq(rt_batch_alloc(&b, &m), 0);
  cr_assert_eq(rt_batch_count(5, 4), 2);
  cr_assert_eq(rt_batch_fill(&b, &m, &d, perm, 0), 4);
  const float *bx = b.x[0];
  cr_assert_eq(bx[0], 40);
  cr_assert_eq(((int64_t *)b.labels)[1], 0);
  cr_assert_eq(rt_batch_fill(&b, &m, &d, perm, 4), 1);
  cr_assert_eq(bx[0], 0);
  cr_assert_eq(bx[1], 1);
  float mask[4] = {1, 0, 0, 0}, zeros[6] = {0};
  cr_assert_arr_eq(b.mask, mask, sizeof mask);
  cr_assert_arr_eq(bx + 2, zeros, sizeof zeros);
  rt_batch_free(&b);
}

Test(runtime_metrics, accuracy_and_loss) {
  rt_module m = small_module();
  rt_batch b;
  cr_assert_eq(rt_batch_alloc(&b, &m), 0);
  float pred[12] = {0.1f, 0.8f, 0.1f, 0.7f, 0.2f, 0.1f, 0.2f, 0.2f, 0.6f, 0.9f, 0.05f, 0.05f};
  float y[4] = {1, 1, 2, 0}, mask[4] = {1, 1, 1, 0};
  memcpy(b.pred, pred, sizeof pred);
  memcpy(b.y, y, sizeof y);
  memcpy(b.mask, mask, sizeof mask);
  rt_metrics s;
  rt_metrics_reset(&s, &m);
  rt_metrics_add(&s, &m, &b, 1.5);
  cr_assert_eq(s.samples, 3);
  cr_assert_eq(s.correct, 2); /* the masked fourth sample is not counted */
  cr_assert_float_eq(rt_metrics_loss(&s), 0.5, 1e-12);
  cr_assert_float_eq(rt_sample_loss(&m, pred, &y[0]), -log(0.8), 1e-6);
  m.from_logits = 1;
  float logits[3] = {1, 2, 3}, two = 2;
  double lse = log(exp(1.0) + exp(2.0) + exp(3.0));
  cr_assert_float_eq(rt_sample_loss(&m, logits, &two), lse - 3, 1e-6);
  rt_batch_free(&b);
}

Test(runtime_metrics, regression_losses) {
  rt_module m = {.out_features = 2, .label_width = 2, .loss = RT_LOSS_MSE};
  float p[2] = {1, 3}, y[2] = {0, 1};
  cr_assert_float_eq(rt_sample_loss(&m, p, y), 2.5, 1e-12);
  m.loss = RT_LOSS_MAE;
  cr_assert_float_eq(rt_sample_loss(&m, p, y), 1.5, 1e-12);
  m.loss = RT_LOSS_BCE;
  m.out_features = m.label_width = 1;
  float q = 0.25f, one = 1;
  cr_assert_float_eq(rt_sample_loss(&m, &q, &one), -log(0.25), 1e-6);
  m.loss = RT_LOSS_HINGE;
  float s = 0.25f, minus = -1;
  cr_assert_float_eq(rt_sample_loss(&m, &s, &minus), 1.25, 1e-6);
}

Test(runtime_schedule, per_epoch) {
  rt_module m = {0};
  m.defaults.schedule = RT_SCHED_STEP;
  m.defaults.sched_every = 2;
  m.defaults.sched_gamma = 0.1;
  cr_assert_float_eq(rt_schedule_lr(&m, 1, 1, 10), 1, 1e-12);
  cr_assert_float_eq(rt_schedule_lr(&m, 1, 5, 10), 0.01, 1e-12);
  m.defaults.schedule = RT_SCHED_EXPONENTIAL;
  m.defaults.sched_gamma = 0.5;
  cr_assert_float_eq(rt_schedule_lr(&m, 1, 3, 10), 0.125, 1e-12);
  m.defaults.schedule = RT_SCHED_COSINE;
  cr_assert_float_eq(rt_schedule_lr(&m, 2, 0, 4), 2, 1e-12);
  cr_assert_float_eq(rt_schedule_lr(&m, 2, 2, 4), 1, 1e-12);
  cr_assert_float_eq(rt_schedule_lr(&m, 2, 4, 4), 0, 1e-12);
}

Test(runtime_early_stop, patience_and_direction) {
  rt_early_stop e;
  rt_early_stop_init(&e, RT_METRIC_VAL_LOSS, 2);
  cr_assert_eq(rt_early_stop_update(&e, 1, 1.0, 0), RT_ES_IMPROVED);
  cr_assert_eq(rt_early_stop_update(&e, 2, 0.5, 0), RT_ES_IMPROVED);
  cr_assert_eq(rt_early_stop_update(&e, 3, 0.7, 0), RT_ES_WAIT);
  cr_assert_eq(rt_early_stop_update(&e, 4, NAN, 0), RT_ES_STOP);
  cr_assert_eq(e.best_epoch, 2);
  rt_early_stop_init(&e, RT_METRIC_VAL_ACCURACY, 1);
  cr_assert_eq(rt_early_stop_update(&e, 1, 9, 0.5), RT_ES_IMPROVED);
  cr_assert_eq(rt_early_stop_update(&e, 2, 9, 0.6), RT_ES_IMPROVED);
  cr_assert_eq(rt_early_stop_update(&e, 3, 0, 0.6), RT_ES_STOP); /* equal is no better */
}

static char *temp_path(void) {
  static char p[64];
  strcpy(p, "/tmp/nncc_ckpt_XXXXXX");
  int fd = mkstemp(p);
  cr_assert_geq(fd, 0);
  close(fd);
  return p;
}

Test(runtime_checkpoint, round_trip_with_best) {
  unsigned char state[100], best[100], back[100], bback[100];
  for (int i = 0; i < 100; i++)
    state[i] = (unsigned char)i, best[i] = (unsigned char)(3 * i);
  rt_ckpt_info info = {.state_hash = 0x1234, .state_bytes = 100, .epochs_done = 3, .step = 77,
                       .seed = 9};
  rt_early_stop_init(&info.es, RT_METRIC_VAL_ACCURACY, 4);
  info.es.best = 0.75, info.es.best_epoch = 2, info.es.waited = 1;
  char *p = temp_path();
  cr_assert_eq(rt_checkpoint_save(p, &info, state, best), 0);
  cr_assert_eq(access(p, F_OK), 0);
  char tmp[80];
  snprintf(tmp, sizeof tmp, "%s.tmp", p);
  cr_assert_neq(access(tmp, F_OK), 0); /* renamed into place */
  rt_ckpt_info got = {.state_hash = 0x1234, .state_bytes = 100};
  cr_assert_eq(rt_checkpoint_load(p, &got, back, bback), 0);
  cr_assert_arr_eq(back, state, 100);
  cr_assert_arr_eq(bback, best, 100);
  cr_assert_eq(got.epochs_done, 3);
  cr_assert_eq(got.step, 77);
  cr_assert_eq(got.seed, 9);
  cr_assert_eq(got.es.best, 0.75);
  cr_assert_eq(got.es.best_epoch, 2);
  cr_assert_eq(got.es.waited, 1);
  cr_assert_eq(got.es.metric, RT_METRIC_VAL_ACCURACY);
  cr_assert_eq(got.has_best, 1);
  remove(p);
}

Test(runtime_checkpoint, rejects_other_model_and_damage, .init = cr_redirect_stderr) {
  unsigned char state[16] = {1, 2, 3};
  rt_ckpt_info info = {.state_hash = 0xabc, .state_bytes = 16};
  char *p = temp_path();
  cr_assert_eq(rt_checkpoint_save(p, &info, state, NULL), 0);
  rt_ckpt_info other = {.state_hash = 0xabd, .state_bytes = 16};
  cr_assert_eq(rt_checkpoint_load(p, &other, state, NULL), -1);
  FILE *f = fopen(p, "r+b"); /* flip one byte of the state */
  fseek(f, -3, SEEK_END);
  fputc(0x55, f);
  fclose(f);
  cr_assert_eq(rt_checkpoint_load(p, &info, state, NULL), -1);
  cr_assert_eq(truncate(p, 50), 0);
  cr_assert_eq(rt_checkpoint_load(p, &info, state, NULL), -1);
  fflush(stderr);
  char expect[1024];
  snprintf(expect, sizeof expect,
           "%s: written by another model (state table hash 0000000000000abc, 16 bytes; this "
           "trainer's is 0000000000000abd, 16 bytes)\n"
           "%s: damaged checkpoint (checksum mismatch)\n"
           "%s: truncated checkpoint\n", p, p, p);
  cr_assert_stderr_eq_str(expect);
  remove(p);
}

Test(runtime_state, hash_and_bad_grad) {
  float blob[8] = {1, 2, 3, 4, 0, 0, 0, 0};
  rt_state_entry e[2] = {{"w", 0, 16, 1, 1, {4}, RT_ROLE_PARAM, "dense"},
                         {"w.grad", 16, 16, 1, 1, {4}, RT_ROLE_GRAD, "dense"}};
  rt_module m = {.state_bytes = 32, .state = e, .n_state = 2};
  uint64_t h = rt_state_hash(&m);
  e[1].dims[0] = 5;
  cr_assert_neq(rt_state_hash(&m), h);
  e[1].dims[0] = 4;
  cr_assert_eq(rt_state_hash(&m), h);
  cr_assert_null(rt_first_bad_grad(&m, blob));
  blob[6] = NAN;
  cr_assert_eq(rt_first_bad_grad(&m, blob), &e[1]);
  rt_zero_grads(&m, blob);
  cr_assert_eq(blob[6], 0);
  cr_assert_eq(blob[0], 1);
}

Test(runtime_progress, one_line_per_epoch_without_a_terminal) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  rt_module m = small_module();
  rt_progress p;
  rt_progress_init(&p, f, 0, 3);
  rt_progress_epoch_begin(&p, 2, 10);
  rt_metrics s = {.loss_sum = 5, .samples = 10, .judged = 10, .correct = 7, .has_accuracy = 1};
  rt_progress_batch(&p, 5, &s); /* nothing between epochs when not a terminal */
  rt_metrics v = {.loss_sum = 1, .samples = 4, .judged = 4, .correct = 1, .has_accuracy = 1};
  rt_progress_epoch_end(&p, &s, &v, 0.01);
  fclose(f);
  (void)m;
  cr_assert(strncmp(text, "epoch 2/3  loss 0.5000  accuracy 0.7000  val_loss 0.2500  "
                          "val_accuracy 0.2500  lr 0.01  ", 84) == 0, "%s", text);
  cr_assert_eq(strchr(text, '\n'), text + len - 1);
  free(text);
}

Test(runtime_progress, redrawn_bar_on_a_terminal) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  rt_progress p;
  rt_progress_init(&p, f, 1, 1);
  rt_progress_epoch_begin(&p, 1, 4);
  rt_metrics s = {.loss_sum = 2, .samples = 8, .judged = 8, .correct = 4, .has_accuracy = 1};
  rt_progress_batch(&p, 2, &s);
  fclose(f);
  cr_assert(strstr(text, "\r\033[Kepoch 1/1 [============>...........] 2/4  loss 0.2500  "
                         "accuracy 0.5000  ") != NULL, "%s", text);
  cr_assert(strstr(text, "samples/s") != NULL);
  free(text);
}
