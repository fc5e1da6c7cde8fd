/* Test driver of a generated training module with prefix `t` (nncc train
 * --prefix t), compiled beside it with the sizes of its one model input:
 *   cc -DX_T=double -DX_COUNT=n -DP_T=double -DPRED_COUNT=m -DLABEL_WIDTH=k \
 *      module_driver.c t.c -lm
 * (P_T: the prediction's type; LABEL_WIDTH: labels per sample)
 * Modes:
 *   gradcheck X LABELS MASK H   the gradient of every param element (up to 64
 *                               per param, evenly spaced) from t_grad, and by
 *                               central differences of the loss with step H:
 *                               lines "NAME INDEX ANALYTIC NUMERIC"
 *   steps X LABELS MASK N LR OUT
 *                               N times t_grad then t_update(LR, step, 1/BATCH);
 *                               writes every param (float32 or float64, state
 *                               table order) to OUT
 * X, LABELS and MASK are raw little-endian files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"

static _Alignas(64) unsigned char state[T_STATE_BYTES + 64];
static _Alignas(64) unsigned char arena[T_ARENA_BYTES + 64];
static X_T x[X_COUNT];
static t_label_t labels[T_BATCH * LABEL_WIDTH];
static P_T mask[T_BATCH], pred[PRED_COUNT];

static void read_file(const char *path, void *dst, size_t bytes) {
  FILE *f = fopen(path, "rb");
  if (!f || fread(dst, 1, bytes, f) != bytes) {
    fprintf(stderr, "module_driver: cannot read %zu bytes from %s\n", bytes, path);
    exit(2);
  }
  fclose(f);
}

static double loss(void) { return (double)t_grad(state, x, labels, mask, pred, arena); }

static double get(const t_state_entry *e, int64_t i) {
  const unsigned char *p = state + e->offset;
  return e->dtype_size == 8 ? ((const double *)p)[i] : ((const float *)p)[i];
}

static void set(const t_state_entry *e, int64_t i, double v) {
  unsigned char *p = state + e->offset;
  if (e->dtype_size == 8)
    ((double *)p)[i] = v;
  else
    ((float *)p)[i] = (float)v;
}

static const t_state_entry *grad_of(const t_state_entry *param) {
  char want[512];
  snprintf(want, sizeof want, "%s.grad", param->name);
  for (int k = 0; k < T_STATE_COUNT; k++)
    if (t_state_table[k].role == 2 && strcmp(t_state_table[k].name, want) == 0)
      return &t_state_table[k];
  return NULL;
}

static int gradcheck(double h) {
  loss();
  static unsigned char snapshot[T_STATE_BYTES + 64];
  memcpy(snapshot, state, sizeof snapshot); /* the gradients of one call */
  for (int k = 0; k < T_STATE_COUNT; k++) {
    const t_state_entry *p = &t_state_table[k];
    if (p->role != 1)
      continue;
    const t_state_entry *g = grad_of(p);
    if (!g) {
      printf("%s: no gradient entry\n", p->name);
      return 1;
    }
    int64_t stride = p->numel > 64 ? p->numel / 64 : 1;
    for (int64_t i = 0; i < p->numel; i += stride) {
      const unsigned char *gp = snapshot + g->offset;
      double analytic = g->dtype_size == 8 ? ((const double *)gp)[i] : ((const float *)gp)[i];
      double w = get(p, i);
      set(p, i, w + h);
      double up = loss();
      set(p, i, w - h);
      double down = loss();
      set(p, i, w);
      printf("%s %lld %.17g %.17g\n", p->name, (long long)i, analytic, (up - down) / (2 * h));
    }
  }
  return 0;
}

static int steps(int n, float lr, const char *out) {
  for (int s = 1; s <= n; s++) {
    loss();
    t_update(state, lr, s, 1.0f / T_BATCH);
  }
  FILE *f = fopen(out, "wb");
  if (!f)
    return 1;
  for (int k = 0; k < T_STATE_COUNT; k++) {
    const t_state_entry *p = &t_state_table[k];
    if (p->role == 1)
      fwrite(state + p->offset, (size_t)p->dtype_size, (size_t)p->numel, f);
  }
  return fclose(f) != 0;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: module_driver gradcheck|steps X LABELS MASK ...\n");
    return 2;
  }
  read_file(argv[2], x, sizeof x);
  read_file(argv[3], labels, sizeof labels);
  read_file(argv[4], mask, sizeof mask);
  t_init(state);
  if (strcmp(argv[1], "gradcheck") == 0)
    return gradcheck(atof(argv[5]));
  if (strcmp(argv[1], "steps") == 0 && argc == 8)
    return steps(atoi(argv[5]), (float)atof(argv[6]), argv[7]);
  fprintf(stderr, "module_driver: bad mode\n");
  return 2;
}
