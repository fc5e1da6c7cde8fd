/* TensorProto -> weight tensor: dims, dtype, and data from raw_data, the typed
 * repeated fields, or an external file beside the model. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "narrow.h"
#include "onnx.h"
#include "onnx_internal.h"

static nn_status bad(const char *path, const char *what, const Onnx__TensorProto *tp, const char *fmt,
                     const char *detail) {
  char msg[512];
  snprintf(msg, sizeof msg, fmt, detail);
  return diag_error(path, "%s '%s': %s", what, tp->name ? tp->name : "", msg);
}

/* Copies n typed values into dst, converting to the tensor's dtype. */
static void copy_typed(ir_tensor *t, int64_t n, const Onnx__TensorProto *tp) {
  for (int64_t i = 0; i < n; i++) {
    void *d = t->data;
    switch (t->dtype) {
    case IR_FLOAT: ((float *)d)[i] = tp->float_data[i]; break;
    case IR_DOUBLE: ((double *)d)[i] = tp->double_data[i]; break;
    case IR_INT64: ((int64_t *)d)[i] = tp->int64_data[i]; break;
    case IR_INT32: ((int32_t *)d)[i] = tp->int32_data[i]; break;
    case IR_INT16: ((int16_t *)d)[i] = (int16_t)tp->int32_data[i]; break;
    case IR_INT8: ((int8_t *)d)[i] = (int8_t)tp->int32_data[i]; break;
    case IR_UINT16: case IR_FLOAT16: case IR_BFLOAT16: /* 16-bit floats: their bits */
      ((uint16_t *)d)[i] = (uint16_t)tp->int32_data[i];
      break;
    case IR_UINT8: case IR_BOOL: ((uint8_t *)d)[i] = (uint8_t)tp->int32_data[i]; break;
    case IR_UINT32: ((uint32_t *)d)[i] = (uint32_t)tp->uint64_data[i]; break;
    case IR_UINT64: ((uint64_t *)d)[i] = tp->uint64_data[i]; break;
    case IR_FLOAT8E4M3FN: case IR_FLOAT8E4M3FNUZ: case IR_FLOAT8E5M2: case IR_FLOAT8E5M2FNUZ:
    case IR_FLOAT8E8M0: /* 8-bit floats: their bits */
      ((uint8_t *)d)[i] = (uint8_t)tp->int32_data[i];
      break;
    case IR_INT4: case IR_UINT4: case IR_FLOAT4E2M1: case IR_INT2: case IR_UINT2:
      NN_BUG("packed types are unpacked by decode_packed");
    case IR_STRING: ((char **)d)[i] = NULL; break; /* decode_strings fills these */
    case IR_UNDEFINED: break;
    }
  }
}

static size_t typed_count(ir_dtype t, const Onnx__TensorProto *tp) {
  switch (t) {
  case IR_FLOAT: return tp->n_float_data;
  case IR_DOUBLE: return tp->n_double_data;
  case IR_INT64: return tp->n_int64_data;
  case IR_UINT32: case IR_UINT64: return tp->n_uint64_data;
  case IR_STRING: return tp->n_string_data;
  default: return tp->n_int32_data;
  }
}

/* Reads the tensor's `want` bytes of external data into dst. */
static nn_status read_external(const char *path, const Onnx__TensorProto *tp, void *dst,
                               size_t want, const char *what) {
  const char *location = NULL;
  long long offset = 0, length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = tp->external_data[i];
    if (!e->key || !e->value)
      continue;
    if (strcmp(e->key, "location") == 0)
      location = e->value;
    else if (strcmp(e->key, "offset") == 0)
      offset = strtoll(e->value, NULL, 10);
    else if (strcmp(e->key, "length") == 0)
      length = strtoll(e->value, NULL, 10);
  }
  if (!location || strstr(location, "..") || location[0] == '/')
    return bad(path, what, tp, "external data has no usable location ('%s')", location ? location : "");
  char *dir = file_dirname(path);
  size_t n = strlen(dir) + strlen(location) + 2;
  char *full = xmalloc(n);
  snprintf(full, n, "%s/%s", dir, location);
  free(dir);
  FILE *f = fopen(full, "rb");
  nn_status st = NN_OK;
  if (!f)
    st = bad(path, what, tp, "cannot open external data file: %s", strerror(errno));
  else if ((length >= 0 && (size_t)length != want) || offset < 0 || fseek(f, offset, SEEK_SET) != 0 ||
           fread(dst, 1, want, f) != want)
    st = bad(path, what, tp, "external data in '%s' is shorter than the tensor", location);
  if (f)
    fclose(f);
  free(full);
  return st;
}

/* 4- and 2-bit types: ONNX packs them (raw_data, external data, or one
 * packed byte per int32_data value); nncc keeps one element per byte. */
static nn_status decode_packed(const char *path, mem_arena *mem, const Onnx__TensorProto *tp,
                               ir_tensor *t, const char *what) {
  int64_t numel = ir_numel(t);
  size_t bytes = narrow_packed_size(t->dtype, numel);
  uint8_t *packed = mem_alloc(mem, bytes + 1);
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    if (read_external(path, tp, packed, bytes, what) != NN_OK)
      return NN_ERR;
  } else if (tp->has_raw_data) {
    if (tp->raw_data.len != bytes) {
      char d[96];
      snprintf(d, sizeof d, "%zu bytes of packed raw data for %zu expected", tp->raw_data.len, bytes);
      return bad(path, what, tp, "%s", d);
    }
    if (bytes)
      memcpy(packed, tp->raw_data.data, bytes);
  } else {
    if (tp->n_int32_data != bytes) {
      char d[96];
      snprintf(d, sizeof d, "%zu packed values for %lld elements", tp->n_int32_data,
               (long long)numel);
      return bad(path, what, tp, "%s", d);
    }
    for (size_t i = 0; i < bytes; i++)
      packed[i] = (uint8_t)tp->int32_data[i];
  }
  narrow_unpack(t->dtype, packed, t->data, numel);
  return NN_OK;
}

/* string_data elements as NUL-terminated copies; an embedded NUL would cut
 * the string short in C, so it is refused. */
static nn_status decode_strings(const char *path, mem_arena *mem, const Onnx__TensorProto *tp,
                                ir_tensor *t, const char *what) {
  char **s = t->data;
  for (size_t i = 0; i < tp->n_string_data; i++) {
    const ProtobufCBinaryData *b = &tp->string_data[i];
    if (memchr(b->data, 0, b->len))
      return bad(path, what, tp, "string %s holds a NUL byte, which C strings cannot", "element");
    s[i] = mem_alloc(mem, b->len + 1);
    if (b->len)
      memcpy(s[i], b->data, b->len);
  }
  return NN_OK;
}

nn_status onnx_decode_tensor(const char *path, mem_arena *mem, const Onnx__TensorProto *tp,
                             ir_tensor *t, const char *what) {
  if (!tp->has_data_type || !ir_dtype_known(tp->data_type))
    return bad(path, what, tp, "unsupported data type %s", onnx_dtype_name(tp->data_type));
  if (tp->n_dims > IR_MAX_RANK)
    return bad(path, what, tp, "rank %s is above nncc's limit of 8", "> 8");
  int64_t numel = 1;
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0 || (tp->dims[i] > 0 && numel > (INT64_C(1) << 40) / tp->dims[i]))
      return bad(path, what, tp, "invalid dimensions%s", "");
    numel *= tp->dims[i];
    t->dims[i] = tp->dims[i];
  }
  t->dtype = (ir_dtype)tp->data_type;
  t->rank = (int)tp->n_dims;
  t->shaped = true;
  t->kind = IR_WEIGHT;
  t->data = mem_alloc(mem, ir_bytes(t));
  size_t bytes = ir_bytes(t);
  if (narrow_packed_bits(t->dtype))
    return decode_packed(path, mem, tp, t, what);
  bool external = tp->has_data_location &&
                  tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  if (external && t->dtype == IR_STRING)
    return bad(path, what, tp, "strings %s cannot be stored as external data", "tensors");
  if (external)
    return read_external(path, tp, t->data, bytes, what);
  if (tp->has_raw_data && t->dtype != IR_STRING) {
    if (tp->raw_data.len != bytes) {
      char d[96];
      snprintf(d, sizeof d, "%zu bytes of raw data for %zu expected", tp->raw_data.len, bytes);
      return bad(path, what, tp, "%s", d);
    }
    if (bytes)
      memcpy(t->data, tp->raw_data.data, bytes);
    return NN_OK;
  }
  size_t have = typed_count(t->dtype, tp);
  if ((int64_t)have != numel) {
    char d[96];
    snprintf(d, sizeof d, "%zu values for %lld elements", have, (long long)numel);
    return bad(path, what, tp, "%s", d);
  }
  copy_typed(t, numel, tp);
  if (t->dtype == IR_STRING)
    return decode_strings(path, mem, tp, t, what);
  return NN_OK;
}

nn_status onnx_read_tensor_file(const char *path, mem_arena *mem, ir_tensor *t) {
  size_t size;
  unsigned char *buf = file_read(path, &size);
  if (!buf)
    return NN_ERR;
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, size, buf);
  free(buf);
  if (!tp)
    return diag_error(path, "not a serialized ONNX TensorProto (protobuf parse failed)");
  nn_status st = onnx_decode_tensor(path, mem, tp, t, "tensor");
  onnx__tensor_proto__free_unpacked(tp, NULL);
  return st;
}
