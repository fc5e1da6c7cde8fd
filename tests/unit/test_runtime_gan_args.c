/* runtime/gan_args.c: the GAN trainer's command line over the defaults the
 * compiler wrote (docs/training.md, "GAN training"). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "gan_args.h"

static const rt_module gen = {.name = "gen", .batch = 8};

static rt_gan gan(void) {
  rt_gan g = {.name = "gan", .d = &gen, .g = &gen, .gen = &gen};
  g.defaults.epochs = 5;
  g.defaults.lr_d = 0.001;
  g.defaults.lr_g = 0.002;
  g.defaults.seed = 3;
  return g;
}

Test(runtime_gan_args, defaults_from_the_program) {
  rt_gan g = gan();
  char *argv[] = {"gan", "--train", "x.npy", NULL};
  rt_gan_options o;
  cr_assert_eq(rt_gan_parse_args(&g, 3, argv, &o), 0);
  cr_assert_str_eq(o.train, "x.npy");
  cr_assert_eq(o.epochs, 5);
  cr_assert_eq(o.lr_d, 0.001);
  cr_assert_eq(o.lr_g, 0.002);
  cr_assert_eq(o.seed, 3);
  cr_assert_eq(o.sample_count, 8); /* one batch */
  cr_assert_eq(o.steps, 0);
  cr_assert_null(o.export_onnx);
}

Test(runtime_gan_args, options_override) {
  rt_gan g = gan();
  char *argv[] = {"gan", "--train", "i.gz", "--limit", "640", "--epochs", "0", "--steps", "12",
                  "--lr-d", "0.5", "--lr-g", "0.25", "--seed", "9", "--log-every", "4",
                  "--checkpoint", "c", "--resume", "r", "--export-onnx", "g.onnx",
                  "--export-discriminator", "d.onnx", "--samples", "s.npy", "--sample-count",
                  "100", "--threads", "2", NULL};
  rt_gan_options o;
  cr_assert_eq(rt_gan_parse_args(&g, 31, argv, &o), 0);
  cr_assert_eq(o.limit, 640);
  cr_assert_eq(o.epochs, 0);
  cr_assert_eq(o.steps, 12);
  cr_assert_eq(o.lr_d, 0.5);
  cr_assert_eq(o.lr_g, 0.25);
  cr_assert_eq(o.seed, 9);
  cr_assert_eq(o.log_every, 4);
  cr_assert_str_eq(o.checkpoint, "c");
  cr_assert_str_eq(o.resume, "r");
  cr_assert_str_eq(o.export_onnx, "g.onnx");
  cr_assert_str_eq(o.export_discriminator, "d.onnx");
  cr_assert_str_eq(o.samples, "s.npy");
  cr_assert_eq(o.sample_count, 100);
  cr_assert_eq(o.threads, 2);
}

Test(runtime_gan_args, wrong_lines_are_status_2, .init = cr_redirect_stderr) {
  rt_gan g = gan();
  rt_gan_options o;
  char *none[] = {"gan", NULL};
  cr_assert_eq(rt_gan_parse_args(&g, 1, none, &o), 2);
  char *bad_number[] = {"gan", "--train", "x", "--lr-d", "fast", NULL};
  cr_assert_eq(rt_gan_parse_args(&g, 5, bad_number, &o), 2);
  char *fraction[] = {"gan", "--train", "x", "--steps", "1.5", NULL};
  cr_assert_eq(rt_gan_parse_args(&g, 5, fraction, &o), 2);
  char *unknown[] = {"gan", "--train", "x", "--lr", "1", NULL};
  cr_assert_eq(rt_gan_parse_args(&g, 5, unknown, &o), 2);
  char *missing[] = {"gan", "--train", NULL};
  cr_assert_eq(rt_gan_parse_args(&g, 2, missing, &o), 2);
}

Test(runtime_gan_args, help_is_not_an_error, .init = cr_redirect_stdout) {
  rt_gan g = gan();
  rt_gan_options o;
  char *argv[] = {"gan", "--help", NULL};
  cr_assert_eq(rt_gan_parse_args(&g, 2, argv, &o), -1);
}
