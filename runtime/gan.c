/* The GAN loop: per step, the discriminator learns from a real batch
 * (label 1) and a generated one (label 0), then the generator learns
 * through a copy of the updated discriminator whose weights stay fixed
 * (label 1). Only full batches are used. */
#include "gan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "checkpoint.h"
#include "dataset.h"
#include "gan_args.h"
#include "idx.h"
#include "onnx_export.h"
#include "progress.h"
#include "shuffle.h"

typedef struct gan_run {
  const rt_gan *gan;
  const rt_gan_options *o;
  rt_dataset data;
  unsigned char *blob; /* the three states, one after another: the checkpoint */
  unsigned char *d_state, *g_state, *gen_state;
  size_t blob_bytes;
  unsigned char *d_arena, *g_arena, *gen_arena;
  float *real, *z, *fake, *ones, *zeros, *mask, *pred;
  size_t *perm;
  rt_ckpt_info ck;
  /* sums since the last progress line */
  double loss_d, loss_g, d_real, d_fake;
  long long steps_logged;
  double since;
} gan_run;

static size_t gan_align(size_t n) { return (n + 63) / 64 * 64; }

static void *gan_alloc(size_t bytes) {
  void *p = aligned_alloc(64, gan_align(bytes ? bytes : 1));
  if (p)
    memset(p, 0, gan_align(bytes ? bytes : 1));
  return p;
}

static void gan_copy(unsigned char *dst, const unsigned char *src, const rt_copy *c, int n) {
  for (int i = 0; i < n; i++)
    memcpy(dst + c[i].dst, src + c[i].src, c[i].bytes);
}

/* IDX images (scaled to [0, 1], or [-1, 1] for a tanh generator) or NPY
 * samples as they are. */
static int gan_load(gan_run *r) {
  const char *path = r->o->train;
  size_t n = strlen(path);
  rt_dataset *d = &r->data;
  memset(d, 0, sizeof *d);
  if (n >= 4 && strcmp(path + n - 4, ".npy") == 0) {
    if (rt_load_npy_samples(path, d))
      return -1;
  } else {
    idx_file im;
    if (idx_load(path, &im))
      return -1;
    float *x = malloc((im.count * im.record + 1) * sizeof *x);
    if (!x) {
      idx_free(&im);
      return rt_data_error(path, "out of memory");
    }
    for (size_t i = 0; i < im.count * im.record; i++)
      x[i] = r->gan->tanh_images ? im.data[i] / 127.5f - 1.0f : im.data[i] / 255.0f;
    d->count = im.count;
    d->n_inputs = 1;
    d->in[0] = (rt_samples){.features = im.record, .type = RT_ELEM_FLOAT32, .x = x, .path = path};
    idx_free(&im);
  }
  if (r->o->limit > 0 && (size_t)r->o->limit < d->count)
    d->count = (size_t)r->o->limit;
  size_t B = (size_t)r->gan->d->batch;
  const rt_input *in = &r->gan->d->inputs[0];
  if (d->in[0].features != in->features)
    return rt_data_error(path, "%zu values per sample; the discriminator takes %zu",
                         d->in[0].features, in->features);
  if (d->count < B)
    return rt_data_error(path, "%zu samples: fewer than one batch of %zu", d->count, B);
  return rt_samples_convert(&d->in[0], d->count, in);
}

static int gan_setup(gan_run *r) {
  const rt_gan *gan = r->gan;
  if (gan_load(r))
    return -1;
  size_t B = (size_t)gan->d->batch;
  size_t off_g = gan_align(gan->d->state_bytes), off_gen = off_g + gan_align(gan->g->state_bytes);
  r->blob_bytes = off_gen + gan_align(gan->gen->state_bytes);
  r->blob = gan_alloc(r->blob_bytes);
  r->d_arena = gan_alloc(gan->d->arena_bytes);
  r->g_arena = gan_alloc(gan->g->arena_bytes);
  r->gen_arena = gan_alloc(gan->gen->arena_bytes);
  size_t x = gan->d->inputs[0].features, zf = gan->g->inputs[0].features;
  size_t w = gan->d->out_features;
  r->real = malloc(B * x * sizeof(float));
  r->fake = malloc(B * x * sizeof(float));
  r->z = malloc(B * zf * sizeof(float));
  r->ones = malloc(B * w * sizeof(float));
  r->zeros = calloc(B * w, sizeof(float));
  r->mask = malloc(B * sizeof(float));
  r->pred = malloc(B * w * sizeof(float));
  r->perm = malloc(r->data.count * sizeof *r->perm);
  if (!r->blob || !r->d_arena || !r->g_arena || !r->gen_arena || !r->real || !r->fake || !r->z ||
      !r->ones || !r->zeros || !r->mask || !r->pred || !r->perm) {
    fprintf(stderr, "%s: out of memory\n", gan->name);
    return -1;
  }
  for (size_t i = 0; i < B * w; i++)
    r->ones[i] = 1.0f;
  for (size_t i = 0; i < B; i++)
    r->mask[i] = 1.0f;
  r->d_state = r->blob;
  r->g_state = r->blob + off_g;
  r->gen_state = r->blob + off_gen;
  gan->d->init(r->d_state);
  gan->g->init(r->g_state);
  gan->gen->init(r->gen_state);
  gan_copy(r->gen_state, r->g_state, gan->g_to_gen, gan->n_g_to_gen);
  r->ck.state_hash = rt_state_hash(gan->d) * 31 + rt_state_hash(gan->g) * 7 + rt_state_hash(gan->gen);
  r->ck.state_bytes = r->blob_bytes;
  r->ck.seed = r->o->seed;
  if (r->o->resume) {
    if (rt_checkpoint_load(r->o->resume, &r->ck, r->blob, NULL))
      return -1;
    fprintf(stderr, "resumed from %s after epoch %lld (%lld steps)\n", r->o->resume,
            (long long)r->ck.epochs_done, (long long)r->ck.step);
  }
  return 0;
}

/* Standard normal noise for step `step` (Box-Muller on PCG32), so a resumed
 * run draws what an unbroken one would. */
static void gan_noise(float *z, size_t n, uint64_t seed, uint64_t step) {
  rt_pcg32 p;
  rt_pcg32_seed(&p, seed, 0x6761e000u + step);
  for (size_t i = 0; i < n; i += 2) {
    double u1 = (rt_pcg32_next(&p) + 1.0) / 4294967297.0, u2 = rt_pcg32_next(&p) / 4294967296.0;
    double rad = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
    z[i] = (float)(rad * cos(a));
    if (i + 1 < n)
      z[i + 1] = (float)(rad * sin(a));
  }
}

static double gan_mean(const float *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += v[i];
  return s / (double)n;
}

/* One step on real batch b of this epoch's order. */
static int gan_step(gan_run *r, size_t b) {
  const rt_gan *gan = r->gan;
  const rt_module *d = gan->d, *g = gan->g;
  size_t B = (size_t)d->batch, x = d->inputs[0].features, w = d->out_features;
  const float *data = r->data.in[0].x;
  for (size_t i = 0; i < B; i++)
    memcpy(r->real + i * x, data + r->perm[b * B + i] * x, x * sizeof(float));
  int64_t step = ++r->ck.step;
  gan_noise(r->z, B * g->inputs[0].features, r->ck.seed, (uint64_t)step);
  gan->gen_forward(r->gen_state, r->z, r->fake, r->gen_arena);
  const void *real[1] = {r->real}, *fake[1] = {r->fake}, *z[1] = {r->z};
  double lr = d->grad(r->d_state, real, r->ones, r->mask, r->pred, r->d_arena);
  r->d_real += gan_mean(r->pred, B * w);
  double lf = d->grad(r->d_state, fake, r->zeros, r->mask, r->pred, r->d_arena);
  r->d_fake += gan_mean(r->pred, B * w);
  d->update(r->d_state, (float)r->o->lr_d, step, 1.0f / (float)B);
  gan_copy(r->g_state, r->d_state, gan->d_to_g, gan->n_d_to_g);
  double lg = g->grad(r->g_state, z, r->ones, r->mask, r->pred, r->g_arena);
  g->update(r->g_state, (float)r->o->lr_g, step, 1.0f / (float)B);
  gan_copy(r->d_state, r->g_state, gan->g_to_d, gan->n_g_to_d);
  gan_copy(r->gen_state, r->g_state, gan->g_to_gen, gan->n_g_to_gen);
  if (!isfinite(lr + lf + lg)) {
    fprintf(stderr, "%s: step %lld: a loss is not finite (D real %g, D fake %g, G %g); stopping\n",
            gan->name, (long long)step, lr, lf, lg);
    return -1;
  }
  r->loss_d += (lr + lf) / (double)B;
  r->loss_g += lg / (double)B;
  r->steps_logged++;
  return 0;
}

/* The means since the last line: both losses (PyTorch's errD = real + fake
 * BCE, errG), D(x) and D(G(z)) before the discriminator's step. */
static void gan_log(gan_run *r, FILE *f, const char *what, int epoch) {
  double n = r->steps_logged ? (double)r->steps_logged : 1, now = rt_seconds();
  fprintf(f, "%s %d/%d step %lld: loss_d %.6f loss_g %.6f D(x) %.4f D(G(z)) %.4f (%.0f samples/s)\n",
          what, epoch, r->o->epochs, (long long)r->ck.step, r->loss_d / n, r->loss_g / n,
          r->d_real / n, r->d_fake / n,
          r->steps_logged * r->gan->d->batch / (now > r->since ? now - r->since : 1e-9));
  r->loss_d = r->loss_g = r->d_real = r->d_fake = 0;
  r->steps_logged = 0;
  r->since = now;
}

static int gan_write_npy(const char *path, const float *v, size_t rows, size_t cols) {
  char head[128];
  int n = snprintf(head, sizeof head, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                   rows, cols);
  size_t total = 10 + (size_t)n + 1, pad = (64 - total % 64) % 64;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  size_t hlen = (size_t)n + pad + 1;
  pre[8] = (unsigned char)(hlen & 0xff);
  pre[9] = (unsigned char)(hlen >> 8);
  char *h = malloc(hlen);
  if (!h)
    return -1;
  memcpy(h, head, (size_t)n);
  memset(h + n, ' ', pad);
  h[hlen - 1] = '\n';
  const void *parts[3] = {pre, h, v};
  size_t sizes[3] = {10, hlen, rows * cols * sizeof(float)};
  int rc = rt_write_atomic(path, parts, sizes, 3);
  free(h);
  return rc;
}

/* `count` samples of the trained generator from noise of its own stream. */
static int gan_samples(gan_run *r) {
  const rt_module *gen = r->gan->gen;
  size_t B = (size_t)gen->batch, count = (size_t)r->o->sample_count;
  size_t batches = (count + B - 1) / B, f = gen->out_features;
  float *all = malloc((batches * B * f + 1) * sizeof(float));
  if (!all)
    return -1;
  for (size_t b = 0; b < batches; b++) {
    const void *z[1] = {r->z};
    gan_noise(r->z, B * gen->inputs[0].features, r->ck.seed ^ 0x5a5a5a5a5a5a5a5aull, b);
    gen->predict(r->gen_state, z, all + b * B * f, r->gen_arena);
  }
  int rc = gan_write_npy(r->o->samples, all, count, f);
  free(all);
  if (!rc)
    fprintf(stderr, "wrote %s\n", r->o->samples);
  return rc;
}

static int gan_finish(gan_run *r) {
  const rt_gan_options *o = r->o;
  if (o->samples && gan_samples(r))
    return -1;
  const rt_module *parts[2] = {r->gan->gen, r->gan->d};
  unsigned char *states[2] = {r->gen_state, r->d_state};
  const char *paths[2] = {o->export_onnx, o->export_discriminator};
  for (int k = 0; k < 2; k++) {
    if (!paths[k])
      continue;
    if (rt_export_onnx(paths[k], parts[k], states[k]))
      return -1;
    fprintf(stderr, "wrote %s\n", paths[k]);
  }
  return 0;
}

/* Every epoch has the same number of steps, so a checkpoint's step count
 * says where in an epoch a run stopped (--steps) and a resumed run goes on
 * from there. */
static int gan_train(gan_run *r) {
  const rt_gan_options *o = r->o;
  size_t B = (size_t)r->gan->d->batch, batches = r->data.count / B;
  int64_t into = r->ck.step - r->ck.epochs_done * (int64_t)batches;
  r->since = rt_seconds();
  for (int epoch = (int)r->ck.epochs_done + 1; epoch <= o->epochs; epoch++) {
    rt_shuffle_epoch(r->perm, r->data.count, r->ck.seed, (uint64_t)epoch);
    size_t b = into > 0 && (size_t)into < batches ? (size_t)into : 0;
    into = 0;
    for (; b < batches && !(o->steps && r->ck.step >= o->steps); b++) {
      if (gan_step(r, b))
        return -1;
      if (o->log_every && r->ck.step % o->log_every == 0)
        gan_log(r, stderr, "epoch", epoch);
    }
    if (r->steps_logged)
      gan_log(r, stderr, "epoch", epoch);
    if (b == batches)
      r->ck.epochs_done = epoch;
    if (o->checkpoint && rt_checkpoint_save(o->checkpoint, &r->ck, r->blob, NULL))
      return -1;
    if (b < batches)
      break;
  }
  return 0;
}

static void gan_free(gan_run *r) {
  rt_dataset_free(&r->data);
  void *p[] = {r->blob, r->d_arena, r->g_arena, r->gen_arena, r->real, r->fake, r->z,
               r->ones, r->zeros, r->mask, r->pred, r->perm};
  for (size_t i = 0; i < sizeof p / sizeof *p; i++)
    free(p[i]);
}

int rt_gan_main(const rt_gan *gan, int argc, char **argv) {
  rt_gan_options o;
  int rc = rt_gan_parse_args(gan, argc, argv, &o);
  if (rc)
    return rc < 0 ? 0 : rc;
#ifdef _OPENMP
  if (o.threads > 0)
    omp_set_num_threads(o.threads);
#endif
  gan_run r = {.gan = gan, .o = &o};
  rc = gan_setup(&r) || gan_train(&r) || gan_finish(&r);
  if (!rc)
    printf("final: %lld steps, %lld epochs\n", (long long)r.ck.step, (long long)r.ck.epochs_done);
  gan_free(&r);
  return rc ? 1 : 0;
}
