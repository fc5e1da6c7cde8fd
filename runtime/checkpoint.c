#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fsync, fileno */
#endif
#include "checkpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* The header: magic, then little-endian fields in this order. */
static const char ckpt_magic[8] = {'N', 'N', 'C', 'C', 'C', 'K', 'P', '1'};
enum { CKPT_HEADER_BYTES = 8 + 8 * 6 + 4 * 2 + 8 * 3 + 4 * 2 };

static unsigned char *ckpt_put(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++)
    *p++ = (unsigned char)(v >> (8 * i));
  return p;
}

static uint64_t ckpt_get(const unsigned char **p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++)
    v |= (uint64_t)(*p)[i] << (8 * i);
  *p += bytes;
  return v;
}

static uint64_t ckpt_double_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return u;
}

static double ckpt_bits_double(uint64_t u) {
  double d;
  memcpy(&d, &u, 8);
  return d;
}

static uint32_t ckpt_crc(const void *state, const void *best, size_t bytes) {
  uLong c = crc32(0L, Z_NULL, 0);
  for (size_t done = 0; done < bytes; done += 1u << 30) /* crc32 takes a uInt length */
    c = crc32(c, (const Bytef *)state + done, (uInt)(bytes - done < 1u << 30 ? bytes - done : 1u << 30));
  for (size_t done = 0; best && done < bytes; done += 1u << 30)
    c = crc32(c, (const Bytef *)best + done, (uInt)(bytes - done < 1u << 30 ? bytes - done : 1u << 30));
  return (uint32_t)c;
}

int rt_write_atomic(const char *path, const void *const *parts, const size_t *sizes, int n) {
  size_t len = strlen(path);
  char *tmp = malloc(len + 5);
  if (!tmp) {
    fprintf(stderr, "%s: out of memory\n", path);
    return -1;
  }
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".tmp", 5);
  FILE *f = fopen(tmp, "wb");
  int ok = f != NULL;
  for (int i = 0; ok && i < n; i++)
    ok = fwrite(parts[i], 1, sizes[i], f) == sizes[i];
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  if (f && fclose(f) != 0)
    ok = 0;
  if (!ok || rename(tmp, path) != 0) {
    fprintf(stderr, "%s: cannot write: %s\n", path, strerror(errno));
    remove(tmp);
    free(tmp);
    return -1;
  }
  free(tmp);
  return 0;
}

int rt_checkpoint_save(const char *path, const rt_ckpt_info *info, const void *state,
                       const void *best) {
  unsigned char head[CKPT_HEADER_BYTES], *p = head;
  memcpy(p, ckpt_magic, 8);
  p = ckpt_put(p + 8, info->state_hash, 8);
  p = ckpt_put(p, info->state_bytes, 8);
  p = ckpt_put(p, (uint64_t)info->epochs_done, 8);
  p = ckpt_put(p, (uint64_t)info->step, 8);
  p = ckpt_put(p, info->seed, 8);
  p = ckpt_put(p, ckpt_double_bits(info->es.best), 8);
  p = ckpt_put(p, (uint64_t)info->es.metric, 4);
  p = ckpt_put(p, (uint64_t)info->es.patience, 4);
  p = ckpt_put(p, (uint64_t)info->es.best_epoch, 8);
  p = ckpt_put(p, (uint64_t)info->es.waited, 8);
  p = ckpt_put(p, 0, 8); /* reserved */
  p = ckpt_put(p, best != NULL, 4);
  ckpt_put(p, ckpt_crc(state, best, info->state_bytes), 4);
  const void *parts[3] = {head, state, best};
  size_t sizes[3] = {sizeof head, info->state_bytes, info->state_bytes};
  return rt_write_atomic(path, parts, sizes, best ? 3 : 2);
}

const char *rt_checkpoint_problem(rt_ckpt_status s) {
  switch (s) {
  case RT_CKPT_OK: return "ok";
  case RT_CKPT_CANNOT_OPEN: return "cannot open the checkpoint";
  case RT_CKPT_NOT_CHECKPOINT: return "not an nncc checkpoint (bad magic)";
  case RT_CKPT_OTHER_MODEL: return "written by another model";
  case RT_CKPT_TRUNCATED: return "truncated checkpoint";
  case RT_CKPT_DAMAGED: return "damaged checkpoint (checksum mismatch)";
  case RT_CKPT_NO_MEMORY: return "out of memory";
  }
  return "unknown problem";
}

rt_ckpt_status rt_checkpoint_read(const char *path, rt_ckpt_info *info, void *state, void *best,
                                  uint64_t *file_hash, uint64_t *file_bytes) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return RT_CKPT_CANNOT_OPEN;
  unsigned char head[CKPT_HEADER_BYTES];
  const unsigned char *p = head + 8;
  rt_ckpt_status rc;
  void *best_buf = NULL;
  size_t got = fread(head, 1, sizeof head, f);
  if (got < 8 || memcmp(head, ckpt_magic, 8) != 0) {
    rc = RT_CKPT_NOT_CHECKPOINT;
    goto done;
  }
  if (got != sizeof head) { /* a checkpoint's start */
    rc = RT_CKPT_TRUNCATED;
    goto done;
  }
  uint64_t hash = ckpt_get(&p, 8), bytes = ckpt_get(&p, 8);
  *file_hash = hash;
  *file_bytes = bytes;
  if (hash != info->state_hash || bytes != info->state_bytes) {
    rc = RT_CKPT_OTHER_MODEL;
    goto done;
  }
  info->epochs_done = (int64_t)ckpt_get(&p, 8);
  info->step = (int64_t)ckpt_get(&p, 8);
  info->seed = ckpt_get(&p, 8);
  info->es.best = ckpt_bits_double(ckpt_get(&p, 8));
  info->es.metric = (rt_metric)ckpt_get(&p, 4);
  info->es.patience = (int)ckpt_get(&p, 4);
  info->es.best_epoch = (int)ckpt_get(&p, 8);
  info->es.waited = (int)ckpt_get(&p, 8);
  ckpt_get(&p, 8);
  info->has_best = (int)ckpt_get(&p, 4);
  uint32_t crc = (uint32_t)ckpt_get(&p, 4);
  best_buf = info->has_best ? (best ? best : malloc(bytes ? bytes : 1)) : NULL;
  if (info->has_best && !best_buf) {
    rc = RT_CKPT_NO_MEMORY;
    goto done;
  }
  if (fread(state, 1, bytes, f) != bytes ||
      (best_buf && fread(best_buf, 1, bytes, f) != bytes)) {
    rc = RT_CKPT_TRUNCATED;
    goto done;
  }
  rc = ckpt_crc(state, best_buf, bytes) != crc ? RT_CKPT_DAMAGED : RT_CKPT_OK;
done:
  if (best_buf && best_buf != best)
    free(best_buf);
  fclose(f);
  return rc;
}

int rt_checkpoint_load(const char *path, rt_ckpt_info *info, void *state, void *best) {
  uint64_t hash = 0, bytes = 0;
  rt_ckpt_status s = rt_checkpoint_read(path, info, state, best, &hash, &bytes);
  if (s == RT_CKPT_OTHER_MODEL)
    fprintf(stderr, "%s: written by another model (state table hash %016llx, %llu bytes; this "
                    "trainer's is %016llx, %llu bytes)\n", path, (unsigned long long)hash,
            (unsigned long long)bytes, (unsigned long long)info->state_hash,
            (unsigned long long)info->state_bytes);
  else if (s != RT_CKPT_OK)
    fprintf(stderr, "%s: %s\n", path, rt_checkpoint_problem(s));
  return s == RT_CKPT_OK ? 0 : -1;
}
