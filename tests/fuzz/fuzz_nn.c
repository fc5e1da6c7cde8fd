/* libFuzzer harness for the .nn frontend. Any bytes must either load or be
 * rejected with messages: never a crash, a hang or a sanitizer report. Two
 * oracles go further: a file that loads must also get through the whole
 * pipeline (the frontend's checks promise that), and every layer's output
 * must have the shape the frontend worked out for it. Both the first model
 * and the last (which may call the others) are checked.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DNNCC_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_nn
 *   build-fuzz/tests/fuzz_nn -dict=tests/fuzz/nn.dict NEW_CORPUS tests/fuzz/corpus_nn
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The name after the last line starting "model " (the model most likely to
 * call others), or NULL; a wrong guess only makes the load fail. */
static char *last_model_name(const uint8_t *data, size_t size) {
  const char *name = NULL;
  size_t len = 0;
  for (size_t i = 0; i + 6 < size; i++) {
    if ((i > 0 && data[i - 1] != '\n') || memcmp(data + i, "model ", 6) != 0)
      continue;
    size_t k = i + 6;
    while (k < size && (data[k] == '_' || (data[k] >= '0' && data[k] <= '9') ||
                        ((data[k] | 0x20) >= 'a' && (data[k] | 0x20) <= 'z')))
      k++;
    name = (const char *)data + i + 6, len = k - i - 6;
  }
  if (!name || !len)
    return NULL;
  char *s = malloc(len + 1);
  memcpy(s, name, len);
  s[len] = '\0';
  return s;
}

/* Loads the model `pick` (NULL: the first); one that loads must compile
 * with the predicted shapes. */
static void load_and_compile(const uint8_t *data, size_t size, const char *pick) {
  mem_arena *mem = mem_new();
  nn_shape_log log = {0};
  nn_train_config train;
  /* A low weight limit keeps every input fast; the limit itself is tested. */
  nn_load_options o = {.train = &train, .diag = sink, .max_weights = 1 << 20, .shapes = &log,
                       .model = pick};
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!sink)
    sink = fopen("/dev/null", "w");
  load_and_compile(data, size, NULL);
  /* The last model too: only a later model can call others (a GAN's). */
  char *last = last_model_name(data, size);
  if (last)
    load_and_compile(data, size, last);
  free(last);
  return 0;
}
