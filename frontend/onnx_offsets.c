/* Finds the bytes of each initializer's raw_data inside a serialized
 * ModelProto by walking the protobuf wire format: ModelProto.graph (field 7)
 * -> GraphProto.initializer (field 5) -> TensorProto.name (8), raw_data (9).
 * A trainer patches trained weights into those bytes in place, so it can
 * write ONNX without a protobuf library. */
#include <stdlib.h>
#include <string.h>

#include "onnx.h"

typedef struct wire {
  const unsigned char *p, *end;
} wire;

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

static bool wire_varint(wire *w, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && w->p < w->end; shift += 7) {
    unsigned char b = *w->p++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return true;
  }
  return false;
}

/* The next field: its number, wire type, and for WIRE_LEN the payload. */
static bool wire_field(wire *w, uint64_t *field, int *type, wire *payload) {
  uint64_t tag, v;
  if (!wire_varint(w, &tag))
    return false;
  *field = tag >> 3;
  *type = (int)(tag & 7);
  switch (*type) {
  case WIRE_VARINT:
    return wire_varint(w, &v);
  case WIRE_I64:
  case WIRE_I32: {
    size_t n = *type == WIRE_I64 ? 8 : 4;
    if ((size_t)(w->end - w->p) < n)
      return false;
    w->p += n;
    return true;
  }
  case WIRE_LEN:
    if (!wire_varint(w, &v) || v > (uint64_t)(w->end - w->p))
      return false;
    payload->p = w->p;
    payload->end = w->p + v;
    w->p += v;
    return true;
  default:
    return false; /* groups: not in ONNX */
  }
}

static bool read_tensor(wire t, const unsigned char *base, onnx_raw_span *s) {
  uint64_t field;
  int type;
  wire payload = {0};
  s->name = NULL;
  s->offset = s->bytes = 0;
  while (t.p < t.end) {
    if (!wire_field(&t, &field, &type, &payload))
      return false;
    if (type != WIRE_LEN)
      continue;
    size_t len = (size_t)(payload.end - payload.p);
    if (field == 8) {
      char *name = malloc(len + 1);
      memcpy(name, payload.p, len);
      name[len] = 0;
      free((char *)s->name);
      s->name = name;
    } else if (field == 9) {
      s->offset = (size_t)(payload.p - base);
      s->bytes = len;
    }
  }
  return s->name != NULL;
}

static nn_status walk_graph(wire g, const unsigned char *base, onnx_raw_span **spans, int *n) {
  uint64_t field;
  int type, cap = 0;
  wire payload = {0};
  while (g.p < g.end) {
    if (!wire_field(&g, &field, &type, &payload))
      return NN_ERR;
    if (field != 5 || type != WIRE_LEN)
      continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 16;
      onnx_raw_span *more = realloc(*spans, sizeof **spans * (size_t)cap);
      if (!more)
        return NN_ERR;
      *spans = more;
    }
    bool ok = read_tensor(payload, base, &(*spans)[*n]);
    (*n)++; /* counted even when partly read, so its name is freed */
    if (!ok)
      return NN_ERR;
  }
  return NN_OK;
}

nn_status onnx_initializer_spans(const unsigned char *model, size_t size, onnx_raw_span **spans,
                                 int *n) {
  wire m = {model, model + size}, payload = {0};
  uint64_t field;
  int type;
  *spans = NULL;
  *n = 0;
  while (m.p < m.end) {
    if (!wire_field(&m, &field, &type, &payload))
      break;
    if (field != 7 || type != WIRE_LEN)
      continue;
    if (walk_graph(payload, model, spans, n) == NN_OK)
      return NN_OK;
    onnx_free_spans(*spans, *n);
    *spans = NULL;
    *n = 0;
    return NN_ERR;
  }
  return NN_ERR;
}

void onnx_free_spans(onnx_raw_span *spans, int n) {
  for (int i = 0; i < n; i++)
    free((char *)spans[i].name);
  free(spans);
}
