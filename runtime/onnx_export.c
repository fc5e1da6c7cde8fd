#include "onnx_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

int rt_export_onnx(const char *path, const rt_module *m, const void *state) {
  if (!m->onnx) {
    fprintf(stderr, "%s: this trainer was built without the ONNX model to export\n", path);
    return -1;
  }
  const unsigned int probe = 1;
  if (*(const unsigned char *)&probe != 1) {
    fprintf(stderr, "%s: ONNX raw_data is little-endian; this machine is not\n", path);
    return -1;
  }
  unsigned char *bytes = malloc(m->onnx_bytes ? m->onnx_bytes : 1);
  if (!bytes) {
    fprintf(stderr, "%s: out of memory\n", path);
    return -1;
  }
  memcpy(bytes, m->onnx, m->onnx_bytes);
  for (int i = 0; i < m->n_onnx_patches; i++) {
    const rt_onnx_patch *p = &m->onnx_patches[i];
    if (p->onnx_offset + p->bytes > m->onnx_bytes || p->state_offset + p->bytes > m->state_bytes) {
      fprintf(stderr, "%s: internal error: weight %d lies outside the model\n", path, i);
      free(bytes);
      return -1;
    }
    memcpy(bytes + p->onnx_offset, (const unsigned char *)state + p->state_offset, p->bytes);
  }
  const void *parts[1] = {bytes};
  size_t sizes[1] = {m->onnx_bytes};
  int rc = rt_write_atomic(path, parts, sizes, 1);
  free(bytes);
  return rc;
}
