/* libFuzzer harness for the .nn frontend. Any bytes must either load or be
 * rejected with messages: never a crash, a hang or a sanitizer report. Two
 * oracles go further: a file that loads must also get through the whole
 * pipeline (the frontend's checks promise that), and every layer's output
 * must have the shape the frontend worked out for it.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DNNCC_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_nn
 *   build-fuzz/tests/fuzz_nn -dict=tests/fuzz/nn.dict NEW_CORPUS tests/fuzz/corpus_nn
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"
#include "nn.h"
#include "passes.h"

static FILE *sink;

static void check_shapes(const nn_shape_log *log) {
  for (int i = 0; i < log->n; i++) {
    const ir_tensor *t = log->at[i].t;
    bool same = t->shaped && t->rank == log->at[i].rank;
    for (int d = 0; same && d < t->rank; d++)
      same = t->dims[d] == log->at[i].dims[d];
    if (!same) {
      fprintf(stderr, "fuzz_nn: '%s' has a shape the frontend did not predict\n", t->name);
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!sink)
    sink = fopen("/dev/null", "w");
  mem_arena *mem = mem_new();
  nn_shape_log log = {0};
  nn_train_config train;
  /* A low weight limit keeps every input fast; the limit itself is tested. */
  nn_load_options o = {.train = &train, .diag = sink, .max_weights = 1 << 20, .shapes = &log};
  ir_graph *g = nn_load_text("fuzz.nn", (const char *)data, size, mem, &o);
  if (g) {
    diag_reset();
    pipeline_options po = {.opt_level = 0};
    if (pipeline_run(g, &po) != NN_OK) {
      fprintf(stderr, "fuzz_nn: a file that loads does not compile\n");
      abort();
    }
    check_shapes(&log);
  }
  mem_free(mem);
  return 0;
}
