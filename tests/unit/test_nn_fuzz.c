/* Replays the fuzzer's findings (tests/fuzz/regressions_nn/) and its seed
 * corpus through the same oracle as tests/fuzz/fuzz_nn.c, in every build:
 * each file loads or is rejected with messages; one that loads compiles,
 * with every layer's shape as the frontend predicted. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "file.h"
#include "nn.h"
#include "passes.h"

static int replay_dir(const char *dir) {
  DIR *d = opendir(dir);
  cr_assert_not_null(d, "cannot open %s", dir);
  FILE *sink = fopen("/dev/null", "w");
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (e->d_name[0] == '.' || (len > 3 && strcmp(e->d_name + len - 3, ".md") == 0))
      continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    size_t size;
    char *text = (char *)file_read(path, &size);
    cr_assert_not_null(text);
    mem_arena *mem = mem_new();
    nn_shape_log log = {0};
    nn_train_config train;
    nn_load_options o = {.train = &train, .diag = sink, .max_weights = 1 << 20, .shapes = &log};
    ir_graph *g = nn_load_text(path, text, size, mem, &o);
    if (g) {
      diag_reset();
      pipeline_options po = {.opt_level = 0};
      cr_assert_eq(pipeline_run(g, &po), NN_OK, "%s loads but does not compile", path);
      for (int i = 0; i < log.n; i++) {
        const ir_tensor *t = log.at[i].t;
        cr_assert_eq(t->rank, log.at[i].rank, "%s: %s", path, t->name);
        for (int k = 0; k < t->rank; k++)
          cr_assert_eq(t->dims[k], log.at[i].dims[k], "%s: %s axis %d", path, t->name, k);
      }
    }
    mem_free(mem);
    free(text);
    n++;
  }
  closedir(d);
  fclose(sink);
  return n;
}

Test(nn_fuzz_regressions, findings_stay_fixed) {
  replay_dir(NNCC_SOURCE_DIR "/tests/fuzz/regressions_nn");
}

Test(nn_fuzz_regressions, seed_corpus) {
  cr_assert_gt(replay_dir(NNCC_SOURCE_DIR "/tests/fuzz/corpus_nn"), 10);
}
