#include <math.h>
#include <string.h>

#include "mock.h"

#define W(s) ((float *)((unsigned char *)(s) + MOCK_W_OFFSET))
#define B(s) ((float *)((unsigned char *)(s) + MOCK_B_OFFSET))
#define GW(s) ((float *)((unsigned char *)(s) + MOCK_GW_OFFSET))
#define GB(s) ((float *)((unsigned char *)(s) + MOCK_GB_OFFSET))

const mock_state_entry mock_state_table[MOCK_STATE_COUNT] = {
    {"dense.weight", MOCK_W_OFFSET, MOCK_CLASSES * MOCK_IN, 4, 1, 2, {MOCK_CLASSES, MOCK_IN}},
    {"dense.bias", MOCK_B_OFFSET, MOCK_CLASSES, 4, 1, 1, {MOCK_CLASSES}},
    {"dense.weight.grad", MOCK_GW_OFFSET, MOCK_CLASSES * MOCK_IN, 4, 2, 2, {MOCK_CLASSES, MOCK_IN}},
    {"dense.bias.grad", MOCK_GB_OFFSET, MOCK_CLASSES, 4, 2, 1, {MOCK_CLASSES}},
};

void mock_init(void *state) {
  memset(state, 0, MOCK_STATE_BYTES);
  for (int c = 0; c < MOCK_CLASSES; c++) /* small fixed weights, not all equal */
    for (int i = 0; i < MOCK_IN; i++)
      W(state)[c * MOCK_IN + i] = 0.01f * (float)((c * 7 + i * 3) % 5 - 2);
}

/* Softmax probabilities of one sample. */
static void forward(const void *state, const float *x, float *p) {
  float top = -INFINITY;
  for (int c = 0; c < MOCK_CLASSES; c++) {
    p[c] = ((const float *)((const unsigned char *)state + MOCK_B_OFFSET))[c];
    for (int i = 0; i < MOCK_IN; i++)
      p[c] += ((const float *)((const unsigned char *)state + MOCK_W_OFFSET))[c * MOCK_IN + i] * x[i];
    top = p[c] > top ? p[c] : top;
  }
  float sum = 0;
  for (int c = 0; c < MOCK_CLASSES; c++)
    sum += p[c] = expf(p[c] - top);
  for (int c = 0; c < MOCK_CLASSES; c++)
    p[c] /= sum;
}

double mock_grad(void *state, const float *x, const int64_t *labels, const float *mask,
                float *pred, void *arena) {
  (void)arena;
  float loss = 0;
  for (int s = 0; s < MOCK_BATCH; s++) {
    const float *xs = x + s * MOCK_IN;
    float *p = pred + s * MOCK_CLASSES;
    forward(state, xs, p);
    if (mask[s] == 0)
      continue;
    loss -= logf(p[labels[s]]);
    for (int c = 0; c < MOCK_CLASSES; c++) {
      float d = p[c] - (c == labels[s]);
      GB(state)[c] += d;
      for (int i = 0; i < MOCK_IN; i++)
        GW(state)[c * MOCK_IN + i] += d * xs[i];
    }
  }
  return loss;
}

void mock_update(void *state, float lr, int64_t step, float scale) {
  (void)step;
  for (int k = 0; k < MOCK_CLASSES * MOCK_IN; k++)
    W(state)[k] -= lr * scale * GW(state)[k];
  for (int c = 0; c < MOCK_CLASSES; c++)
    B(state)[c] -= lr * scale * GB(state)[c];
  memset(GW(state), 0, MOCK_CLASSES * MOCK_IN * sizeof(float));
  memset(GB(state), 0, MOCK_CLASSES * sizeof(float));
}

void mock_predict(const void *state, const float *x, float *pred, void *arena) {
  (void)arena;
  for (int s = 0; s < MOCK_BATCH; s++)
    forward(state, x + s * MOCK_IN, pred + s * MOCK_CLASSES);
}
