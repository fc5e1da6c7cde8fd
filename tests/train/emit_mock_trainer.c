/* Writes the trainer nncc generates around the hand-written module of
 * mock.h (tests/train/mock_module.c), through the real emitter and the
 * embedded runtime: usage: emit_mock_trainer OUT.c [ONNX_FILE W_OFFSET B_OFFSET]
 * (with an ONNX file, --export-onnx writes the mock's W and b over its bytes
 * at those offsets). */
#include <stdio.h>
#include <stdlib.h>

#include "emit_trainer.h"
#include "file.h"
#include "mock.h"

int main(int argc, char **argv) {
  if (argc != 2 && argc != 5) {
    fprintf(stderr, "usage: %s OUT.c [ONNX_FILE W_OFFSET B_OFFSET]\n", argv[0]);
    return 2;
  }
  cg_trainer t = {
      .prefix = "mock",
      .module_header = "mock.h",
      .command = "emit_mock_trainer",
      .desc = {.name = "mock", .inputs = (const rt_input[]){{"x", RT_ELEM_FLOAT32, MOCK_IN}},
               .n_inputs = 1, .out_features = MOCK_CLASSES,
               .label_type = RT_LABEL_INT64, .label_width = 1, .n_classes = MOCK_CLASSES,
               .loss = RT_LOSS_CE,
               .defaults = {.epochs = 5, .lr = 0.5, .seed = 7, .early_stopping = 0,
                            .metric = RT_METRIC_VAL_LOSS, .patience = 2}},
  };
  size_t size = 0;
  unsigned char *onnx = NULL;
  rt_onnx_patch patches[2];
  if (argc == 5) {
    if (!(onnx = file_read(argv[2], &size)))
      return 1;
    patches[0] = (rt_onnx_patch){MOCK_W_OFFSET, (size_t)strtoull(argv[3], NULL, 10),
                                 MOCK_CLASSES * MOCK_IN * 4};
    patches[1] = (rt_onnx_patch){MOCK_B_OFFSET, (size_t)strtoull(argv[4], NULL, 10),
                                 MOCK_CLASSES * 4};
    t.desc.onnx = onnx;
    t.desc.onnx_bytes = size;
    t.desc.onnx_patches = patches;
    t.desc.n_onnx_patches = 2;
  }
  cbuf c;
  cb_init(&c);
  cg_emit_trainer(&t, &c);
  int rc = file_write_atomic(argv[1], c.data, c.len) == NN_OK ? 0 : 1;
  cb_free(&c);
  free(onnx);
  return rc;
}
