/* Which .nn files `nncc train` treats as a GAN (frontend/nn_gan.c): the
 * pair is found from the statements, and near misses are not GANs. */
#include <criterion/criterion.h>
#include <string.h>

#include "nn_gan.h"

static mem_arena *mem;
static void setup(void) { mem = mem_new(); }
static void teardown(void) { mem_free(mem); }
TestSuite(nn_gan, .init = setup, .fini = teardown);

#define G_AND_D                                                                              \
  "model gen\ninput z [4]\np = dense(z, 2)\noutput p\n"                                      \
  "model disc\ninput x [2]\nr = dense(x, 1, activation=sigmoid)\noutput r\n"                 \
  "train {\n  loss = binary_cross_entropy(r)\n}\n"

static bool find(const char *text, nn_gan_pair *pair) {
  return nn_gan_find_text("t.nn", text, strlen(text), mem, pair);
}

Test(nn_gan, finds_the_pair_and_the_calling_layers) {
  nn_gan_pair p;
  cr_assert(find(G_AND_D "model both\ninput z [4]\nfake = gen(z)\nseen = disc(fake)\noutput seen\n"
                         "train {\n  loss = binary_cross_entropy(seen)\n}\n", &p));
  cr_assert_str_eq(p.generator, "gen");
  cr_assert_str_eq(p.discriminator, "disc");
  cr_assert_str_eq(p.gan, "both");
  cr_assert_str_eq(p.fake, "fake");
  cr_assert_str_eq(p.judged, "seen");
}

Test(nn_gan, the_loss_picks_the_output_among_several) {
  nn_gan_pair p;
  cr_assert(find(G_AND_D "model both\ninput z [4]\nfake = gen(z)\nseen = disc(fake)\n"
                         "output fake, seen\ntrain {\n  loss = binary_cross_entropy(seen)\n}\n", &p));
  cr_assert_str_eq(p.judged, "seen");
}

Test(nn_gan, near_misses_are_not_gans) {
  nn_gan_pair p;
  /* the composed model has no loss */
  cr_assert_not(find(G_AND_D "model both\ninput z [4]\nfake = gen(z)\nseen = disc(fake)\noutput seen\n", &p));
  /* the discriminator has no loss */
  cr_assert_not(find("model gen\ninput z [2]\np = dense(z, 2)\noutput p\n"
                     "model disc\ninput x [2]\nr = dense(x, 1)\noutput r\n"
                     "model both\ninput z [2]\nfake = gen(z)\nseen = disc(fake)\noutput seen\n"
                     "train {\n  loss = mse(seen)\n}\n", &p));
  /* the loss reads a layer that is not a model call */
  cr_assert_not(find(G_AND_D "model both\ninput z [4]\nfake = gen(z)\nseen = disc(fake)\n"
                             "out = dense(seen, 1)\noutput out\ntrain {\n  loss = mse(out)\n}\n", &p));
  /* the discriminator is not fed by a model call */
  cr_assert_not(find(G_AND_D "model both\ninput z [2]\nseen = disc(z)\noutput seen\n"
                             "train {\n  loss = mse(seen)\n}\n", &p));
  /* one model only */
  cr_assert_not(find(G_AND_D, &p));
}
