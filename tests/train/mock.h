/* A hand-written training module with the generated API of docs/training.md:
 * a linear softmax classifier (MOCK_IN inputs, MOCK_CLASSES classes) with
 * cross-entropy and plain SGD, so the trainer's loop, checkpoints, early
 * stopping and data errors are tested before generated modules exist. */
#ifndef MOCK_H
#define MOCK_H

#include <stdint.h>

#define MOCK_BATCH 8
#define MOCK_IN 4
#define MOCK_CLASSES 3
/* State: W [CLASSES, IN], b [CLASSES], their gradients; 64-byte aligned. */
#define MOCK_W_OFFSET 0
#define MOCK_B_OFFSET 64
#define MOCK_GW_OFFSET 128
#define MOCK_GB_OFFSET 192
#define MOCK_STATE_BYTES 256
#define MOCK_ARENA_BYTES 64
#define MOCK_STATE_COUNT 4
typedef int64_t mock_label_t;

/* The state blob's tensors, as generated modules list them. role: 1 param,
 * 2 gradient, 3 optimizer moment, 4 buffer. */
typedef struct mock_state_entry {
  const char *name;
  int64_t offset, numel;
  int dtype_size, role, rank;
  int64_t dims[8];
} mock_state_entry;
extern const mock_state_entry mock_state_table[MOCK_STATE_COUNT];

void mock_init(void *state);
double mock_grad(void *state, const float *x, const int64_t *labels, const float *mask,
                float *pred, void *arena);
void mock_update(void *state, float lr, int64_t step, float scale);
void mock_predict(const void *state, const float *x, float *pred, void *arena);

#endif
