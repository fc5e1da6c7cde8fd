/* .npy round trip and rejection of malformed files. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <unistd.h>

#include "npy.h"

Test(npy, round_trip) {
  mem_arena *mem = mem_new();
  ir_tensor t = {.dtype = IR_FLOAT, .rank = 2, .dims = {2, 3}};
  float data[6] = {1, 2, 3, 4, 5, 6.5f};
  char path[] = "/tmp/nncc_test_npy_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  cr_assert_eq(npy_write(path, &t, data), NN_OK);
  ir_tensor back = {0};
  cr_assert_eq(npy_read(path, mem, &back), NN_OK);
  cr_assert_eq(back.dtype, IR_FLOAT);
  cr_assert_eq(back.rank, 2);
  cr_assert_eq(back.dims[1], 3);
  cr_assert_eq(((float *)back.data)[5], 6.5f);
  remove(path);
  mem_free(mem);
}

Test(npy, rejects_garbage, .init = cr_redirect_stderr) {
  mem_arena *mem = mem_new();
  char path[] = "/tmp/nncc_test_npy_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_eq(write(fd, "not numpy at all", 16), 16);
  close(fd);
  ir_tensor t = {0};
  cr_assert_eq(npy_read(path, mem, &t), NN_ERR);
  remove(path);
  mem_free(mem);
}
