#include "idx.h"

#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

static int idx_fail(const char *path, const char *what) {
  fprintf(stderr, "%s: %s\n", path, what);
  return -1;
}

int idx_load(const char *path, idx_file *out) {
  gzFile f = gzopen(path, "rb"); /* reads uncompressed files as they are */
  if (!f)
    return idx_fail(path, "cannot open");
  unsigned char head[4];
  int rc = -1;
  out->data = NULL;
  if (gzread(f, head, 4) != 4 || head[0] != 0 || head[1] != 0) {
    rc = idx_fail(path, "not an IDX file (bad magic)");
    goto done;
  }
  if (head[2] != 0x08 || head[3] < 1 || head[3] > 4) {
    rc = idx_fail(path, "unsupported IDX element type or rank (want unsigned bytes, rank 1-4)");
    goto done;
  }
  out->rank = head[3];
  out->record = 1;
  for (int i = 0; i < out->rank; i++) {
    unsigned char d[4];
    if (gzread(f, d, 4) != 4) {
      rc = idx_fail(path, "truncated header");
      goto done;
    }
    out->dims[i] = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
    if (i > 0)
      out->record *= out->dims[i];
  }
  out->count = out->dims[0];
  size_t bytes = out->count * out->record;
  if (out->record == 0 || bytes / out->record != out->count || bytes > ((size_t)1 << 34)) {
    rc = idx_fail(path, "implausible dimensions");
    goto done;
  }
  out->data = malloc(bytes ? bytes : 1);
  if (!out->data) {
    rc = idx_fail(path, "out of memory");
    goto done;
  }
  int got = gzread(f, out->data, (unsigned)bytes);
  if (got < 0 || (size_t)got != bytes) {
    fprintf(stderr, "%s: truncated data: record %zu of %zu is incomplete\n", path,
            got < 0 ? 0 : (size_t)got / out->record, out->count);
    rc = -1;
    free(out->data);
    out->data = NULL;
    goto done;
  }
  rc = 0;
done:
  gzclose(f);
  return rc;
}

void idx_free(idx_file *f) {
  free(f->data);
  f->data = NULL;
}
