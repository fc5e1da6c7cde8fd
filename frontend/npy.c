#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "narrow.h"

static const struct {
  ir_dtype t;
  const char *descr;
} npy_types[] = {
    {IR_FLOAT, "<f4"}, {IR_DOUBLE, "<f8"}, {IR_INT64, "<i8"}, {IR_INT32, "<i4"},
    {IR_INT16, "<i2"}, {IR_INT8, "|i1"},   {IR_UINT8, "|u1"}, {IR_UINT16, "<u2"},
    {IR_UINT32, "<u4"}, {IR_UINT64, "<u8"}, {IR_BOOL, "|b1"},
    {IR_FLOAT16, "<f2"}, {IR_BFLOAT16, "|V2"}, /* NumPy has no bfloat16: raw 2-byte items */
    /* ml_dtypes' names (NumPy needs `import ml_dtypes` to load them); one
     * element per byte, 4- and 2-bit values in the low bits */
    {IR_FLOAT8E4M3FN, "float8_e4m3fn"}, {IR_FLOAT8E4M3FNUZ, "float8_e4m3fnuz"},
    {IR_FLOAT8E5M2, "float8_e5m2"}, {IR_FLOAT8E5M2FNUZ, "float8_e5m2fnuz"},
    {IR_FLOAT8E8M0, "float8_e8m0fnu"}, {IR_FLOAT4E2M1, "float4_e2m1fn"},
    {IR_INT4, "int4"}, {IR_UINT4, "uint4"}, {IR_INT2, "int2"}, {IR_UINT2, "uint2"},
};

/* Does the quoted descr at d (just past its opening quote) name want? A
 * byte-order mark may be '=' instead of '<' or '|'. */
static bool descr_is(const char *d, const char *want) {
  size_t n = strlen(want);
  if (strncmp(d, want, n) == 0 && d[n] == '\'')
    return true;
  return d[0] == '=' && (want[0] == '<' || want[0] == '|') && strncmp(d + 1, want + 1, n - 1) == 0 &&
         d[n] == '\'';
}

/* Value of key 'name' in the header dict: points just past "'name':" and spaces. */
static const char *dict_value(const char *h, const char *name) {
  char key[32];
  snprintf(key, sizeof key, "'%s':", name);
  const char *p = strstr(h, key);
  if (!p)
    return NULL;
  p += strlen(key);
  while (*p == ' ')
    p++;
  return p;
}

/* NumPy strings: '<U<n>' (UTF-32LE, n code points) or '|S<n>' (n bytes). */
typedef struct npy_text {
  char kind; /* 'U', 'S', or 0 for numbers */
  size_t width;
} npy_text;

static nn_status parse_header(const char *path, const char *h, ir_tensor *t, npy_text *text) {
  const char *descr = dict_value(h, "descr"), *order = dict_value(h, "fortran_order"),
             *shape = dict_value(h, "shape");
  if (!descr || !order || !shape || *shape != '(')
    return diag_error(path, "malformed .npy header");
  if (strncmp(order, "False", 5) != 0)
    return diag_error(path, ".npy in Fortran order is not supported; save it in C order");
  t->dtype = IR_UNDEFINED;
  for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++)
    if (descr_is(descr + 1, npy_types[i].descr))
      t->dtype = npy_types[i].t;
  char *width_end;
  if (t->dtype == IR_UNDEFINED && (strncmp(descr, "'<U", 3) == 0 || strncmp(descr, "'|S", 3) == 0) &&
      (text->width = strtoul(descr + 3, &width_end, 10)) > 0 && *width_end == '\'') {
    t->dtype = IR_STRING;
    text->kind = descr[2];
  }
  if (descr[0] != '\'' || t->dtype == IR_UNDEFINED)
    return diag_error(path, "unsupported .npy dtype %.8s", descr);
  t->rank = 0;
  for (const char *p = shape + 1; *p && *p != ')';) {
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == ')')
      break;
    char *end;
    long long d = strtoll(p, &end, 10);
    if (end == p || d < 0 || t->rank == IR_MAX_RANK)
      return diag_error(path, "malformed or unsupported .npy shape");
    t->dims[t->rank++] = d;
    p = end;
  }
  t->shaped = true;
  return NN_OK;
}

/* Appends code point c to out as UTF-8; returns the bytes written. */
static size_t put_utf8(uint32_t c, char *out) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xc0 | c >> 6);
    out[1] = (char)(0x80 | (c & 0x3f));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xe0 | c >> 12);
    out[1] = (char)(0x80 | (c >> 6 & 0x3f));
    out[2] = (char)(0x80 | (c & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | c >> 18);
  out[1] = (char)(0x80 | (c >> 12 & 0x3f));
  out[2] = (char)(0x80 | (c >> 6 & 0x3f));
  out[3] = (char)(0x80 | (c & 0x3f));
  return 4;
}

/* NumPy strings into NUL-terminated UTF-8 (t->data: char *[numel]); trailing
 * zeros are padding, as NumPy reads them. */
static nn_status read_strings(const char *path, mem_arena *mem, ir_tensor *t, const npy_text *text,
                              const unsigned char *data) {
  int64_t n = ir_numel(t);
  char **s = mem_alloc(mem, sizeof *s * (size_t)(n + 1));
  for (int64_t i = 0; i < n; i++) {
    char *out = s[i] = mem_alloc(mem, 4 * text->width + 1);
    size_t len = 0;
    for (size_t k = 0; k < text->width; k++) {
      uint32_t c;
      if (text->kind == 'S') {
        c = data[(size_t)i * text->width + k];
      } else {
        const unsigned char *p = data + 4 * ((size_t)i * text->width + k);
        c = p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if (c > 0x10ffff)
          return diag_error(path, "string %lld holds an invalid code point", (long long)i);
      }
      if (c == 0)
        break;
      if (text->kind == 'S')
        out[len++] = (char)c;
      else
        len += put_utf8(c, out + len);
    }
  }
  t->data = s;
  return NN_OK;
}

nn_status npy_read(const char *path, mem_arena *mem, ir_tensor *t) {
  size_t size;
  unsigned char *buf = file_read(path, &size);
  if (!buf)
    return NN_ERR;
  nn_status st = NN_ERR;
  size_t hlen = 0, start = 0;
  if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
    diag_error(path, "not a .npy file (bad magic)");
    goto done;
  }
  if (buf[6] == 1) {
    hlen = buf[8] | (size_t)buf[9] << 8;
    start = 10;
  } else if (size >= 12) {
    hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    start = 12;
  }
  if (start == 0 || start + hlen > size) {
    diag_error(path, "truncated .npy header");
    goto done;
  }
  char *header = xmalloc(hlen + 1);
  memcpy(header, buf + start, hlen);
  header[hlen] = '\0';
  npy_text text = {0};
  st = parse_header(path, header, t, &text);
  free(header);
  if (st != NN_OK)
    goto done;
  size_t bytes = text.kind ? (size_t)ir_numel(t) * text.width * (text.kind == 'U' ? 4 : 1) : ir_bytes(t);
  if (size - start - hlen != bytes) {
    st = diag_error(path, ".npy holds %zu data bytes; its header promises %zu", size - start - hlen, bytes);
    goto done;
  }
  t->kind = IR_WEIGHT;
  if (text.kind) {
    st = read_strings(path, mem, t, &text, buf + start + hlen);
    goto done;
  }
  t->data = mem_alloc(mem, bytes);
  memcpy(t->data, buf + start + hlen, bytes);
  if (narrow_is_int(t->dtype)) /* only the low bits count; keep the value sign-extended */
    for (int64_t i = 0; i < ir_numel(t); i++)
      ((uint8_t *)t->data)[i] = (uint8_t)narrow_wrap_int(t->dtype, ((uint8_t *)t->data)[i]);
done:
  free(buf);
  return st;
}

static nn_status write_descr(const char *path, const ir_tensor *t, const char *descr,
                             const void *data, size_t bytes);

/* The code points of UTF-8 text s into out (when not NULL); returns their
 * count. A byte that starts no valid sequence stands for itself. */
static size_t utf8_to_utf32(const char *s, uint32_t *out) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = 0;
  while (*p) {
    uint32_t c = *p;
    int len = 1;
    if ((c & 0xe0) == 0xc0 && (p[1] & 0xc0) == 0x80)
      c = (c & 0x1f) << 6 | (p[1] & 0x3f), len = 2;
    else if ((c & 0xf0) == 0xe0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80)
      c = (c & 0x0f) << 12 | (p[1] & 0x3f) << 6 | (p[2] & 0x3f), len = 3;
    else if ((c & 0xf8) == 0xf0 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80 &&
             (p[3] & 0xc0) == 0x80)
      c = (c & 0x07) << 18 | (p[1] & 0x3f) << 12 | (p[2] & 0x3f) << 6 | (p[3] & 0x3f), len = 4;
    if (out)
      out[n] = c;
    n++;
    p += len;
  }
  return n;
}

/* Strings (data: char *[numel], UTF-8) as NumPy unicode, '<U<longest>':
 * UTF-32LE code points, each string padded with zeros. */
static nn_status write_strings(const char *path, const ir_tensor *t, const void *data) {
  char *const *s = data;
  int64_t n = ir_numel(t);
  size_t width = 1;
  for (int64_t i = 0; i < n; i++) {
    size_t len = utf8_to_utf32(s[i], NULL);
    if (len > width)
      width = len;
  }
  uint32_t *cells = xmalloc(sizeof *cells * (width * (size_t)n + 1));
  memset(cells, 0, sizeof *cells * (width * (size_t)n + 1));
  for (int64_t i = 0; i < n; i++)
    utf8_to_utf32(s[i], cells + (size_t)i * width);
  unsigned char *bytes = (unsigned char *)cells; /* little-endian whatever the host */
  for (size_t k = 0; k < width * (size_t)n; k++) {
    uint32_t c = cells[k];
    bytes[4 * k] = (unsigned char)c;
    bytes[4 * k + 1] = (unsigned char)(c >> 8);
    bytes[4 * k + 2] = (unsigned char)(c >> 16);
    bytes[4 * k + 3] = (unsigned char)(c >> 24);
  }
  char descr[32];
  snprintf(descr, sizeof descr, "<U%zu", width);
  nn_status st = write_descr(path, t, descr, cells, 4 * width * (size_t)n);
  free(cells);
  return st;
}

nn_status npy_write(const char *path, const ir_tensor *t, const void *data) {
  if (t->dtype == IR_STRING)
    return write_strings(path, t, data);
  const char *descr = NULL;
  for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++)
    if (npy_types[i].t == t->dtype)
      descr = npy_types[i].descr;
  if (!descr)
    return diag_error(path, "cannot write dtype %s to .npy", ir_dtype_name(t->dtype));
  return write_descr(path, t, descr, data, ir_bytes(t));
}

static nn_status write_descr(const char *path, const ir_tensor *t, const char *descr,
                             const void *data, size_t bytes) {
  char dict[512];
  int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int d = 0; d < t->rank; d++)
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld,%s", (long long)t->dims[d],
                    d + 1 < t->rank ? " " : "");
  len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
  /* Pad so the data starts on a 64-byte boundary, header ending in '\n'. */
  size_t total = ((size_t)(10 + len + 1) + 63) / 64 * 64;
  size_t hlen = total - 10;
  unsigned char *out = xmalloc(total + bytes);
  memcpy(out, "\x93NUMPY\x01\x00", 8);
  out[8] = (unsigned char)(hlen & 0xff);
  out[9] = (unsigned char)(hlen >> 8);
  memset(out + 10, ' ', hlen);
  memcpy(out + 10, dict, (size_t)len);
  out[total - 1] = '\n';
  if (bytes)
    memcpy(out + total, data, bytes);
  if (narrow_is_int(t->dtype)) /* ml_dtypes' layout: the value in the low bits, upper bits 0 */
    for (size_t i = 0; i < bytes; i++)
      out[total + i] &= (uint8_t)((1u << narrow_packed_bits(t->dtype)) - 1);
  nn_status st = file_write_atomic(path, out, total + bytes);
  free(out);
  return st;
}
