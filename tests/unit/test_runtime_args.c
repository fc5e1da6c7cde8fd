/* runtime/trainer_args.c: the trainer's command line over the train block's
 * defaults. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "trainer.h"

static rt_module module(void) {
  rt_module m = {.name = "m", .batch = 4};
  m.defaults.epochs = 7;
  m.defaults.lr = 0.25;
  m.defaults.seed = 11;
  m.defaults.early_stopping = 1;
  m.defaults.metric = RT_METRIC_VAL_ACCURACY;
  m.defaults.patience = 3;
  return m;
}

Test(runtime_args, defaults_from_the_module) {
  rt_module m = module();
  char *argv[] = {"train", "--train", "d.csv", NULL};
  rt_train_options o;
  cr_assert_eq(rt_train_parse_args(&m, 3, argv, &o), 0);
  cr_assert_str_eq(o.train_x, "d.csv");
  cr_assert_null(o.train_y);
  cr_assert_eq(o.epochs, 7);
  cr_assert_eq(o.lr, 0.25);
  cr_assert_eq(o.seed, 11);
  cr_assert_eq(o.early_stopping, 1);
  cr_assert_eq(o.metric, RT_METRIC_VAL_ACCURACY);
  cr_assert_eq(o.patience, 3);
  cr_assert_eq(o.csv_header, -1);
  cr_assert_eq(o.update, RT_UPDATE_MINIBATCH);
}

Test(runtime_args, options_override) {
  rt_module m = module();
  char *argv[] = {"train", "--train-images", "x", "--train-labels", "y", "--val", "v.csv",
                  "--epochs", "2", "--lr", "1e-3", "--seed", "5", "--update", "batch",
                  "--early-stopping", "off", "--label-column", "-1", "--csv-header", "no",
                  "--checkpoint", "c", "--resume", "r", "--export-onnx", "e", "--threads", "2",
                  "--progress", "lines", NULL};
  rt_train_options o;
  cr_assert_eq(rt_train_parse_args(&m, 31, argv, &o), 0);
  cr_assert_str_eq(o.train_y, "y");
  cr_assert_str_eq(o.val_x, "v.csv");
  cr_assert_eq(o.epochs, 2);
  cr_assert_eq(o.lr, 1e-3);
  cr_assert_eq(o.seed, 5);
  cr_assert_eq(o.update, RT_UPDATE_FULL_BATCH);
  cr_assert_eq(o.early_stopping, 0);
  cr_assert_eq(o.label_column, -1);
  cr_assert_eq(o.csv_header, 0);
  cr_assert_str_eq(o.checkpoint, "c");
  cr_assert_str_eq(o.resume, "r");
  cr_assert_str_eq(o.export_onnx, "e");
  cr_assert_eq(o.threads, 2);
  cr_assert_eq(o.progress_tty, 0);
}

Test(runtime_args, mistakes, .init = cr_redirect_stderr) {
  rt_module m = module();
  rt_train_options o;
  char *no_data[] = {"train", "--epochs", "2", NULL};
  char *bad_lr[] = {"train", "--train", "d.csv", "--lr", "-1", NULL};
  char *unknown[] = {"train", "--train", "d.csv", "--batch", "8", NULL};
  char *missing[] = {"train", "--train", NULL};
  char *stray[] = {"train", "d.csv", NULL};
  cr_assert_eq(rt_train_parse_args(&m, 3, no_data, &o), 2);
  cr_assert_eq(rt_train_parse_args(&m, 5, bad_lr, &o), 2);
  cr_assert_eq(rt_train_parse_args(&m, 5, unknown, &o), 2);
  cr_assert_eq(rt_train_parse_args(&m, 2, missing, &o), 2);
  cr_assert_eq(rt_train_parse_args(&m, 2, stray, &o), 2);
}

Test(runtime_args, help, .init = cr_redirect_stdout) {
  rt_module m = module();
  rt_train_options o;
  char *argv[] = {"train", "--help", NULL};
  cr_assert_eq(rt_train_parse_args(&m, 2, argv, &o), -1);
  fflush(stdout);
  cr_assert_stdout_neq_str("");
}
