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

static int ckpt_fail(const char *path, const char *what) {
  fprintf(stderr, "%s: %s\n", path, what);
  return -1;
}

int rt_checkpoint_load(const char *path, rt_ckpt_info *info, void *state, void *best) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return ckpt_fail(path, "cannot open the checkpoint");
  unsigned char head[CKPT_HEADER_BYTES];
  const unsigned char *p = head + 8;
  int rc = -1;
  void *best_buf = NULL;
  if (fread(head, 1, sizeof head, f) != sizeof head || memcmp(head, ckpt_magic, 8) != 0) {
    rc = ckpt_fail(path, "not an nncc checkpoint (bad magic)");
    goto done;
  }
  uint64_t hash = ckpt_get(&p, 8), bytes = ckpt_get(&p, 8);
  if (hash != info->state_hash || bytes != info->state_bytes) {
    fprintf(stderr, "%s: written by another model (state table hash %016llx, %llu bytes; this "
                    "trainer's is %016llx, %llu bytes)\n", path, (unsigned long long)hash,
            (unsigned long long)bytes, (unsigned long long)info->state_hash,
            (unsigned long long)info->state_bytes);
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
    rc = ckpt_fail(path, "out of memory");
    goto done;
  }
  if (fread(state, 1, bytes, f) != bytes ||
      (best_buf && fread(best_buf, 1, bytes, f) != bytes)) {
    rc = ckpt_fail(path, "truncated checkpoint");
    goto done;
  }
  if (ckpt_crc(state, best_buf, bytes) != crc) {
    rc = ckpt_fail(path, "damaged checkpoint (checksum mismatch)");
    goto done;
  }
  rc = 0;
done:
  if (best_buf && best_buf != best)
    free(best_buf);
  fclose(f);
  return rc;
}
