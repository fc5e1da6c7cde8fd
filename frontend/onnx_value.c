/* SequenceProto and OptionalProto files (a test_data_set's input_0.pb when
 * the input is a sequence or an optional). They live in onnx-data.proto,
 * which Debian's onnx.proto lacks, and only a few fields matter, so they are
 * read here from the protobuf wire format directly:
 *   SequenceProto: 3 tensor_values, 5 sequence_values, 7 optional_values
 *   OptionalProto: 3 tensor_value,  5 sequence_value,  7 optional_value
 * (both: 1 name, 2 elem_type; 4 sparse tensors and 6 maps: unsupported). */
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "onnx.h"
#include "onnx_internal.h"

typedef struct reader {
  const char *path;
  mem_arena *mem;
} reader;

static bool varint(const unsigned char **p, const unsigned char *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; *p < end && shift < 64; shift += 7) {
    unsigned char b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return true;
  }
  return false;
}

static nn_status read_value(reader *R, const unsigned char *p, const unsigned char *end,
                            bool optional, ir_tensor *t, int depth);

/* One element: a TensorProto, or a nested sequence/optional. */
static nn_status read_element(reader *R, int field, const unsigned char *p, size_t len,
                              ir_tensor *t, int depth) {
  if (field == 3) {
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, p);
    if (!tp)
      return diag_error(R->path, "a sequence element is not a TensorProto");
    nn_status st = onnx_decode_tensor(R->path, R->mem, tp, t, "sequence element");
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
  }
  return read_value(R, p, p + len, field == 7, t, depth + 1);
}

static nn_status read_value(reader *R, const unsigned char *p, const unsigned char *end,
                            bool optional, ir_tensor *t, int depth) {
  if (depth > 8)
    return diag_error(R->path, "sequences nested too deeply");
  t->seq = mem_alloc(R->mem, sizeof *t->seq);
  t->seq->optional = optional;
  t->seq->elem_dtype = IR_FLOAT;
  int cap = 0;
  while (p < end) {
    uint64_t key, len;
    if (!varint(&p, end, &key))
      break;
    int field = (int)(key >> 3), wire = (int)(key & 7);
    if (wire == 0) {
      if (!varint(&p, end, &len))
        break;
      continue;
    }
    if (wire != 2 || !varint(&p, end, &len) || len > (uint64_t)(end - p))
      return diag_error(R->path, "not a serialized %s (bad field %d)",
                        optional ? "OptionalProto" : "SequenceProto", field);
    if (field == 4 || field == 6)
      return diag_error(R->path, "sparse tensors and maps in sequences are not supported");
    if (field == 3 || field == 5 || field == 7) {
      ir_tensor *e = mem_alloc(R->mem, sizeof *e);
      e->name = "";
      if (read_element(R, field, p, (size_t)len, e, depth) != NN_OK)
        return NN_ERR;
      t->seq->items = mem_grow(R->mem, t->seq->items, sizeof *t->seq->items, &cap, t->seq->n + 1);
      t->seq->items[t->seq->n++] = e;
      if (!e->seq)
        t->seq->elem_dtype = e->dtype;
    }
    p += len;
  }
  if (p != end)
    return diag_error(R->path, "truncated %s", optional ? "OptionalProto" : "SequenceProto");
  if (optional && t->seq->n > 1)
    return diag_error(R->path, "an OptionalProto with more than one value");
  return NN_OK;
}

nn_status onnx_read_value_file(const char *path, mem_arena *mem, bool optional, ir_tensor *t) {
  size_t size;
  unsigned char *buf = file_read(path, &size);
  if (!buf)
    return NN_ERR;
  reader R = {.path = path, .mem = mem};
  nn_status st = read_value(&R, buf, buf + size, optional, t, 0);
  free(buf);
  return st;
}
