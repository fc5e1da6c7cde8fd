/* `nncc train` on a .nn file holding a GAN (docs/training.md, "GAN
 * training"): three training modules compiled from the file's models, each
 * into its own C file, and the program that alternates them. */
#ifndef NNCC_GAN_PROGRAM_H
#define NNCC_GAN_PROGRAM_H

#include "autodiff.h"
#include "cbuf.h"
#include "driver.h"
#include "nn_gan.h"

enum { GAN_D, GAN_G, GAN_GEN, GAN_PARTS };

typedef struct gan_part {
  const char *model;  /* the .nn model it is compiled from */
  const char *prefix; /* PREFIX_d, PREFIX_g, PREFIX_gen */
  const char *c_path, *h_path;
  driver_options o;   /* how it was loaded */
  ir_graph *g;
  ad_result r;
  cbuf c, h;          /* the module's C and header */
  double lr;          /* its train block's (or --lr's) learning rate */
} gan_part;

typedef struct gan_program {
  nn_gan_pair pair;
  gan_part parts[GAN_PARTS];
  const char *out, *prefix, *command;
  bool build;
  int epochs;
  uint64_t seed;
} gan_program;

/* The part's paths and prefix beside the program's (-o gan.c: gan_d.c...). */
void gan_part_names(gan_program *p, int k, mem_arena *mem);
/* Checks the compiled parts fit together, then writes every file (the
 * modules, their headers, the program); --build compiles them. */
nn_status gan_program_write(gan_program *p, mem_arena *mem);

#endif
