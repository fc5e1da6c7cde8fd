/* runtime/samples.c and elem.c: samples converted to their input's type,
 * every value checked (whole, within the type, within an embedding's
 * vocabulary); runtime/npy_data.c's integer dtypes; --train-input. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "batch.h"
#include "elem.h"
#include "metrics.h"
#include "trainer.h"

static rt_input tokens(rt_elem type, int64_t vocab) {
  rt_input in = {.name = "ids", .type = type, .features = 3, .has_range = vocab > 0, .lo = 0,
                 .hi = vocab, .value_word = "token", .range_of = "the vocabulary of embedding 'e'"};
  return in;
}

Test(runtime_samples, floats_to_int64_exactly) {
  float x[6] = {0, 1, 2, 19, 5, 7};
  rt_samples s = {.features = 3, .type = RT_ELEM_FLOAT32, .x = malloc(sizeof x), .path = "f"};
  memcpy(s.x, x, sizeof x);
  rt_input in = tokens(RT_ELEM_INT64, 20);
  cr_assert_eq(rt_samples_convert(&s, 2, &in), 0);
  cr_assert_eq(s.type, RT_ELEM_INT64);
  int64_t want[6] = {0, 1, 2, 19, 5, 7};
  cr_assert_arr_eq(s.x, want, sizeof want);
  free(s.x);
}

Test(runtime_samples, int64_beyond_double_stays_exact) {
  int64_t x[3] = {(1LL << 53) + 1, -3, INT64_MAX};
  rt_samples s = {.features = 3, .type = RT_ELEM_INT64, .x = malloc(sizeof x), .path = "i"};
  memcpy(s.x, x, sizeof x);
  rt_input in = tokens(RT_ELEM_INT64, 0);
  cr_assert_eq(rt_samples_convert(&s, 1, &in), 0);
  cr_assert_arr_eq(s.x, x, sizeof x);
  free(s.x);
}

Test(runtime_samples, idx_bytes_raw_for_integers_scaled_for_floats) {
  uint8_t x[3] = {0, 51, 255};
  rt_samples s = {.features = 3, .type = RT_ELEM_UINT8, .x = malloc(3), .divisor = 255, .path = "b"};
  memcpy(s.x, x, 3);
  rt_samples t = s;
  t.x = malloc(3);
  memcpy(t.x, x, 3);
  rt_input f = {.name = "x", .type = RT_ELEM_FLOAT32, .features = 3}, i = tokens(RT_ELEM_INT32, 0);
  cr_assert_eq(rt_samples_convert(&s, 1, &f), 0);
  cr_assert_eq(rt_samples_convert(&t, 1, &i), 0);
  cr_assert_float_eq(((float *)s.x)[1], 0.2f, 1e-7);
  cr_assert_eq(((float *)s.x)[2], 1.0f);
  cr_assert_eq(((int32_t *)t.x)[2], 255);
  free(s.x);
  free(t.x);
}

Test(runtime_samples, every_bad_value_named, .init = cr_redirect_stderr) {
  double frac[3] = {1, 2.5, 3}, inf[3] = {1, 2, -INFINITY};
  int64_t oov[6] = {1, 2, 3, 4, 20, 5}, wide[3] = {1, 1LL << 40, 2}, neg[3] = {-1, 0, 0};
  struct { rt_elem from; void *x; size_t bytes; size_t count; rt_input in; } cases[] = {
      {RT_ELEM_FLOAT64, frac, sizeof frac, 1, tokens(RT_ELEM_INT64, 0)},
      {RT_ELEM_FLOAT64, inf, sizeof inf, 1, tokens(RT_ELEM_INT64, 0)},
      {RT_ELEM_INT64, oov, sizeof oov, 2, tokens(RT_ELEM_INT64, 20)},
      {RT_ELEM_INT64, wide, sizeof wide, 1, tokens(RT_ELEM_INT32, 0)},
      {RT_ELEM_INT64, neg, sizeof neg, 1, tokens(RT_ELEM_UINT8, 0)},
      {RT_ELEM_FLOAT64, inf, sizeof inf, 1, {.name = "x", .type = RT_ELEM_FLOAT32, .features = 3}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    rt_samples s = {.features = 3, .type = cases[k].from, .x = malloc(cases[k].bytes), .path = "d"};
    memcpy(s.x, cases[k].x, cases[k].bytes);
    cr_assert_eq(rt_samples_convert(&s, cases[k].count, &cases[k].in), -1, "case %zu", k);
    cr_assert_eq(s.type, cases[k].from, "a failed conversion leaves the samples as they were");
    free(s.x);
  }
  fflush(stderr);
  cr_assert_stderr_eq_str(
      "d: sample 0: value 1 is 2.5; input 'ids' takes whole numbers (int64)\n"
      "d: sample 0: value 2 is infinite; input 'ids' takes whole numbers (int64)\n"
      "d: sample 1: token 20 (value 1 of the sample) is outside the vocabulary of embedding 'e' "
      "[0, 20)\n"
      "d: sample 0: value 1 is 1099511627776, outside int32's range (input 'ids')\n"
      "d: sample 0: value 0 is -1, outside uint8's range (input 'ids')\n"
      "d: sample 0: value 2 is infinite\n");
}

Test(runtime_samples, elem_names_and_sizes) {
  cr_assert_str_eq(rt_elem_name(RT_ELEM_UINT16), "uint16");
  cr_assert_eq(rt_elem_size(RT_ELEM_BOOL), 1);
  cr_assert_eq(rt_elem_size(RT_ELEM_FLOAT64), 8);
  int16_t v[2] = {-7, 300};
  cr_assert_eq(rt_elem_get_int(RT_ELEM_INT16, v, 0), -7);
  cr_assert_eq(rt_elem_get(RT_ELEM_INT16, v, 1), 300.0);
}

static const rt_input two[2] = {{.name = "source", .type = RT_ELEM_INT64, .features = 6},
                                {.name = "target", .type = RT_ELEM_INT64, .features = 4}};

Test(runtime_samples, train_input_names_each_input) {
  rt_module m = {.name = "pair", .batch = 2, .inputs = two, .n_inputs = 2};
  char *argv[] = {"train", "--train-input", "target=t.npy", "--train-input", "source=s.npy",
                  "--train-labels", "y.npy", "--val-input", "source=vs.npy", "--val-input",
                  "target=vt.npy", "--val-labels", "vy.npy", NULL};
  rt_train_options o;
  cr_assert_eq(rt_train_parse_args(&m, 13, argv, &o), 0);
  cr_assert_str_eq(o.train_in[0], "s.npy");
  cr_assert_str_eq(o.train_in[1], "t.npy");
  cr_assert_str_eq(o.val_in[1], "vt.npy");
  cr_assert_null(o.train_x);
}

Test(runtime_samples, val_input_must_cover_every_input, .init = cr_redirect_stderr) {
  rt_module m = {.name = "pair", .batch = 2, .inputs = two, .n_inputs = 2};
  char *argv[] = {"train", "--train-input", "target=t.npy", "--train-input", "source=s.npy",
                  "--val-input", "source=vs.npy", NULL};
  rt_train_options o;
  cr_assert_eq(rt_train_parse_args(&m, 7, argv, &o), 2);
  fflush(stderr);
  cr_assert_stderr_eq_str("--val-input: input 'target' has no file (give target=FILE)\n");
}

/* Class indices per position, classes on pred's axis 1 ([C, T] per sample,
 * PyTorch's layout): loss and accuracy over the positions. */
Test(runtime_samples, class_per_position_metrics) {
  rt_module m = {.batch = 2, .out_features = 6, .label_width = 2, .n_classes = 3,
                 .class_inner = 2, .loss = RT_LOSS_NLL};
  rt_batch b;
  cr_assert_eq(rt_batch_alloc(&b, &m), 0);
  /* sample 0: position 0 scores (-1, -2, -3), position 1 (-3, -0.5, -2) */
  float pred[12] = {-1, -3, -2, -0.5f, -3, -2, /* sample 1 */ -1, -1, -2, -2, -0.1f, -3};
  float y[4] = {0, 2, 2, 1}, mask[2] = {1, 1};
  memcpy(b.pred, pred, sizeof pred);
  memcpy(b.y, y, sizeof y);
  memcpy(b.mask, mask, sizeof mask);
  cr_assert_float_eq(rt_sample_loss(&m, pred, y), (1.0 + 2.0) / 2, 1e-12);
  rt_metrics s;
  rt_metrics_reset(&s, &m);
  rt_metrics_add(&s, &m, &b, 0);
  cr_assert_eq(s.judged, 4);
  cr_assert_eq(s.correct, 2); /* 0 right, 1 wrong (picks 1); 2 right, 1 wrong (picks 0) */
  m.loss = RT_LOSS_CE;
  m.from_logits = 1;
  double lse = log(exp(-1.0) + exp(-2.0) + exp(-3.0));
  cr_assert_float_eq(rt_sample_loss(&m, pred, (float[]){0, 1}),
                     ((lse + 1) + (log(exp(-3.0) + exp(-0.5) + exp(-2.0)) + 0.5)) / 2, 1e-6);
  rt_batch_free(&b);
}
