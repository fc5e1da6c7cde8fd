/* nncc export MODEL --checkpoint CKPT -o OUT.onnx [training options]: a
 * trainer's checkpoint as ONNX, without running the trainer. MODEL is
 * compiled for training as `nncc train` compiles it (the same options give
 * the same state table, whose hash the checkpoint carries); the checkpoint's
 * params and running statistics are then written over the forward model's
 * initializers, exactly as the trainer's --export-onnx does, so both give
 * the same bytes. */
#include <stdlib.h>
#include <string.h>

#include "../runtime/checkpoint.h"
#include "codegen.h"
#include "file.h"
#include "train_cli.h"

/* The state table as a trainer's runtime holds it, hashed as it hashes it. */
static uint64_t trainer_state_hash(const ir_graph *g, mem_arena *mem) {
  const ir_tensor **order = mem_alloc(mem, sizeof *order * (size_t)(g->n_tensors + 1));
  int n = cg_state_table_order(g, order);
  rt_state_entry *e = mem_alloc(mem, sizeof *e * (size_t)(n + 1));
  for (int i = 0; i < n; i++) {
    const ir_tensor *t = order[i];
    NN_ASSERT(t->rank <= 8);
    e[i].name = cg_state_table_name(g, t);
    e[i].offset = (size_t)t->offset;
    e[i].bytes = (size_t)ir_numel(t) * ir_dtype_size(t->dtype);
    e[i].rank = t->rank;
    for (int d = 0; d < t->rank; d++)
      e[i].dims[d] = t->dims[d];
    e[i].role = (rt_role)(t->role - 1);
  }
  rt_module m = {.state_bytes = (size_t)g->state_bytes, .state = e, .n_state = n};
  return rt_state_hash(&m);
}

/* The checkpoint's state (the best epoch's, when early stopping kept a
 * better one than the last: what the trainer exports) into state. */
static nn_status read_state(const train_setup *s, const char *ckpt, void *state, void *best,
                            rt_ckpt_info *info, mem_arena *mem) {
  const ir_graph *g = s->g;
  info->state_hash = trainer_state_hash(g, mem);
  info->state_bytes = (uint64_t)g->state_bytes;
  uint64_t file_hash = 0, file_bytes = 0;
  rt_ckpt_status st = rt_checkpoint_read(ckpt, info, state, best, &file_hash, &file_bytes);
  size_t len = strlen(s->o.model);
  nn_gan_pair pair;
  bool gan_file = len > 3 && strcmp(s->o.model + len - 3, ".nn") == 0 &&
                  nn_gan_find(s->o.model, mem, &pair);
  if (st == RT_CKPT_OTHER_MODEL)
    return diag_error(ckpt, "written by a different model or different training options: its "
                      "state table (hash %016llx, %llu bytes) is not the one %s compiles to "
                      "with these options (hash %016llx, %llu bytes); give the model and the "
                      "training options (--batch, --loss, --optimizer, --no-train...) the "
                      "trainer was made with%s", (unsigned long long)file_hash,
                      (unsigned long long)file_bytes, s->o.model,
                      (unsigned long long)info->state_hash,
                      (unsigned long long)info->state_bytes,
                      gan_file ? " (a GAN trainer's checkpoint holds all three models: its "
                                 "--export-onnx and --export-discriminator export them)" : "");
  if (st != RT_CKPT_OK)
    return diag_error(ckpt, "%s", rt_checkpoint_problem(st));
  if (info->has_best && info->es.best_epoch > 0 && info->es.best_epoch != info->epochs_done) {
    memcpy(state, best, (size_t)g->state_bytes);
    diag_note("%s: early stopping's best weights, of epoch %d (as the trainer exports them)",
              ckpt, info->es.best_epoch);
  }
  return NN_OK;
}

/* The forward model's bytes with the state written over its initializers. */
static nn_status write_onnx(train_setup *s, const void *state, const char *out) {
  train_program prog = {.options = &s->o, .user_shapes = s->user_shapes};
  rt_module d = {0};
  train_program_onnx(&prog, s->g, &d);
  if (!d.onnx)
    return diag_error(s->o.model, "the trained model cannot be written as ONNX (see the note "
                      "above)");
  unsigned char *bytes = (unsigned char *)d.onnx;
  for (int i = 0; i < d.n_onnx_patches; i++) {
    const rt_onnx_patch *p = &d.onnx_patches[i];
    NN_ASSERT(p->onnx_offset + p->bytes <= d.onnx_bytes &&
              p->state_offset + p->bytes <= (size_t)s->g->state_bytes);
    memcpy(bytes + p->onnx_offset, (const unsigned char *)state + p->state_offset, p->bytes);
  }
  nn_status st = file_write_atomic(out, bytes, d.onnx_bytes);
  free(bytes);
  free((void *)d.onnx_patches);
  return st;
}

int cmd_export_checkpoint(int argc, char **argv) {
  mem_arena *mem = mem_new();
  const char *ckpt = NULL;
  char **args = mem_alloc(mem, sizeof *args * (size_t)(argc + 1));
  int n = 0, rc = 1;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--checkpoint") != 0) {
      args[n++] = argv[i];
      continue;
    }
    if (i + 1 == argc) {
      diag_error(NULL, "export: --checkpoint needs a file name");
      goto done;
    }
    ckpt = argv[++i];
  }
  train_setup *s = mem_alloc(mem, sizeof *s);
  if (train_setup_parse(s, n, args, false) != NN_OK)
    goto done;
  if (!s->t.out) {
    diag_error(NULL, "export: usage: nncc export MODEL --checkpoint CKPT -o OUT.onnx "
               "[training options]");
    goto done;
  }
  if (train_setup_load(s, mem) != NN_OK)
    goto done;
  if (s->gan) {
    diag_error(s->o.model, "a GAN (models '%s', '%s', '%s'): its trainer's checkpoint holds "
               "all three models; export them with the trainer's --export-onnx and "
               "--export-discriminator", s->pair.generator, s->pair.discriminator, s->pair.gan);
    goto done;
  }
  if (train_setup_compile(s) != NN_OK)
    goto done;
  size_t bytes = s->g->state_bytes ? (size_t)s->g->state_bytes : 1;
  void *state = malloc(bytes), *best = malloc(bytes);
  rt_ckpt_info info = {0};
  if (!state || !best)
    diag_fatal("out of memory");
  rc = read_state(s, ckpt, state, best, &info, mem) != NN_OK ||
       write_onnx(s, state, s->t.out) != NN_OK;
  free(state);
  free(best);
done:
  mem_free(mem);
  return rc;
}
