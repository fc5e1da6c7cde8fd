/* Checkpoints: the whole state blob (and the best epoch's, under early
 * stopping) behind a header that names the model by its state-table hash,
 * written to a temporary file then renamed, so a crash never leaves a torn
 * checkpoint in place of a good one. */
#ifndef NNCC_RT_CHECKPOINT_H
#define NNCC_RT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "early_stop.h"

typedef struct rt_ckpt_info {
  uint64_t state_hash;
  uint64_t state_bytes;
  int64_t epochs_done; /* epochs finished when it was written */
  int64_t step;        /* optimizer steps taken */
  uint64_t seed;       /* the shuffling seed, so a resumed run keeps the order */
  rt_early_stop es;
  int has_best;        /* a best-epoch state follows the current one */
} rt_ckpt_info;

int rt_checkpoint_save(const char *path, const rt_ckpt_info *info, const void *state,
                       const void *best);
/* Loads path into state (and best, when it holds one and best is not NULL);
 * info->state_hash and state_bytes are what this model expects, the rest is
 * filled in. Reports and returns -1 on any mismatch or damage. */
int rt_checkpoint_load(const char *path, rt_ckpt_info *info, void *state, void *best);
/* rt_checkpoint_load without a word: what is wrong, if anything. The file's
 * state hash and size land in file_hash/file_bytes once its magic is read
 * (so `nncc export --checkpoint` can word its own errors). */
typedef enum { RT_CKPT_OK, RT_CKPT_CANNOT_OPEN, RT_CKPT_NOT_CHECKPOINT, RT_CKPT_OTHER_MODEL,
               RT_CKPT_TRUNCATED, RT_CKPT_DAMAGED, RT_CKPT_NO_MEMORY } rt_ckpt_status;
rt_ckpt_status rt_checkpoint_read(const char *path, rt_ckpt_info *info, void *state, void *best,
                                  uint64_t *file_hash, uint64_t *file_bytes);
const char *rt_checkpoint_problem(rt_ckpt_status s);
/* Writes bytes to path through path.tmp and a rename. */
int rt_write_atomic(const char *path, const void *const *parts, const size_t *sizes, int n);

#endif
