#define _POSIX_C_SOURCE 200809L
#include "file.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mem.h"

unsigned char *file_read(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    diag_error(path, "cannot open: %s", strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    diag_error(path, "not a regular file");
    fclose(f);
    return NULL;
  }
  unsigned char *buf = xmalloc((size_t)st.st_size + 1);
  size_t n = fread(buf, 1, (size_t)st.st_size, f);
  fclose(f);
  if (n != (size_t)st.st_size) {
    diag_error(path, "read error");
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *size = n;
  return buf;
}

nn_status file_write_atomic(const char *path, const void *data, size_t size) {
  size_t n = strlen(path);
  char *tmp = xmalloc(n + 16);
  snprintf(tmp, n + 16, "%s.tmpXXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    diag_error(path, "cannot create: %s", strerror(errno));
    free(tmp);
    return NN_ERR;
  }
  FILE *f = fdopen(fd, "wb");
  bool ok = f && fwrite(data, 1, size, f) == size;
  ok = (f ? fclose(f) == 0 : (close(fd), false)) && ok;
  /* mkstemp makes 0600; outputs are ordinary files. */
  ok = ok && chmod(tmp, 0644) == 0;
  if (!ok || rename(tmp, path) != 0) {
    diag_error(path, "cannot write: %s", strerror(errno));
    remove(tmp);
    free(tmp);
    return NN_ERR;
  }
  free(tmp);
  return NN_OK;
}

char *file_dirname(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    char *d = xmalloc(2);
    strcpy(d, ".");
    return d;
  }
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  char *d = xmalloc(n + 1);
  memcpy(d, path, n);
  d[n] = '\0';
  return d;
}
