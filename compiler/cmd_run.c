/* nncc run MODEL: compile, build with the system C compiler, run, collect.
 * Inputs and outputs cross to the built program as raw bytes in a private
 * temporary directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen.h"
#include "control.h"
#include "driver.h"
#include "file.h"
#include "npy.h"
#include "onnx.h"

typedef struct run_input {
  const char *name; /* NULL: by position */
  const char *path;
} run_input;

/* Runs argv[0] with stdout/stderr to log (when given); returns its exit status. */
static int spawn(char **args, const char *log, const char *threads) {
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    if (log) {
      int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
    }
    if (threads)
      setenv("OMP_NUM_THREADS", threads, 1);
    execvp(args[0], args);
    fprintf(stderr, "nncc: cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The tensors of a sequence or optional value, in order. */
static void leaves(ir_tensor *v, ir_tensor **out, int *n) {
  if (!v->seq)
    out[(*n)++] = v;
  else
    for (int i = 0; i < v->seq->n; i++)
      leaves(v->seq->items[i], out, n);
}

/* Sequence and optional inputs take their structure from their files
 * (SequenceProto/OptionalProto .pb): each element becomes an input of its
 * own (seq_bind_input), its data ready in the array returned, and the file
 * leaves `in`. Positional --input files are named first, since the inputs
 * move. NULL after reporting. */
static ir_tensor **bind_sequences(ir_graph *g, run_input *in, int *n_in) {
  if (*n_in != g->n_inputs) {
    diag_error(g->path, "the model has %d inputs; %d given with --input", g->n_inputs, *n_in);
    return NULL;
  }
  for (int i = 0; i < *n_in; i++)
    if (!in[i].name)
      in[i].name = g->inputs[i]->name;
  ir_tensor **found = mem_alloc(g->mem, sizeof *found * 1024);
  ir_tensor **where = mem_alloc(g->mem, sizeof *where * 1024);
  int n_found = 0, kept = 0;
  for (int i = 0; i < *n_in; i++) {
    int k = 0;
    while (k < g->n_inputs && strcmp(g->inputs[k]->name, in[i].name) != 0)
      k++;
    if (k == g->n_inputs || !g->inputs[k]->seq) {
      in[kept++] = in[i];
      continue;
    }
    ir_tensor *v = mem_alloc(g->mem, sizeof *v);
    if (onnx_read_value_file(in[i].path, g->mem, g->inputs[k]->seq->optional, v) != NN_OK)
      return NULL;
    ir_tensor *vals[1024];
    int n = 0;
    leaves(v, vals, &n); /* counted before binding: at most 1024 elements */
    if (n + n_found > 1024) {
      diag_error(g->path, "input '%s': too many sequence elements for nncc run", in[i].name);
      return NULL;
    }
    int count = seq_bind_input(g, k, v);
    if (count < 0)
      return NULL;
    for (int j = 0; j < count; j++) {
      where[n_found] = g->inputs[k + j];
      found[n_found++] = vals[j];
    }
    diag_note("input '%s': %d tensor%s from %s, as inputs %s.0...", in[i].name, count,
              count == 1 ? "" : "s", in[i].path, in[i].name);
  }
  *n_in = kept;
  ir_tensor **data = mem_alloc(g->mem, sizeof *data * (size_t)(g->n_inputs + 1));
  for (int j = 0; j < n_found; j++)
    for (int k = 0; k < g->n_inputs; k++)
      if (g->inputs[k] == where[j])
        data[k] = found[j];
  return data;
}

/* Matches input files to graph inputs (by name or order) and fixes open
 * dimensions from the files' shapes. */
static nn_status bind_inputs(ir_graph *g, driver_options *o, run_input *in, int n_in,
                             ir_tensor **data) {
  int preset = 0; /* elements of sequences, bound already */
  for (int k = 0; k < g->n_inputs; k++)
    preset += data[k] != NULL;
  if (n_in + preset != g->n_inputs)
    return diag_error(g->path, "the model has %d inputs; %d given with --input", g->n_inputs, n_in);
  for (int i = 0; i < n_in; i++) {
    int k = i;
    if (in[i].name) {
      for (k = 0; k < g->n_inputs && strcmp(g->inputs[k]->name, in[i].name); k++)
        ;
      if (k == g->n_inputs)
        return diag_error(g->path, "--input %s: the model has no input of that name", in[i].name);
    }
    if (data[k])
      return diag_error(g->path, "input '%s' is given twice", g->inputs[k]->name);
    data[k] = mem_alloc(g->mem, sizeof *data[k]);
    data[k]->name = g->inputs[k]->name;
    if (driver_read_tensor(in[i].path, g->mem, data[k]) != NN_OK)
      return NN_ERR;
    ir_tensor *t = g->inputs[k];
    bool open = t->rank < 0;
    for (int d = 0; d < t->rank; d++)
      open |= t->dims[d] < 0;
    bool bound = false;
    for (int s = 0; s < o->n_shapes; s++)
      bound |= strcmp(o->shapes[s].name, t->name) == 0;
    if (open && !bound && o->n_shapes < (int)(sizeof o->shapes / sizeof *o->shapes)) {
      shape_binding *b = &o->shapes[o->n_shapes++];
      b->name = t->name;
      b->rank = data[k]->rank;
      memcpy(b->dims, data[k]->dims, sizeof b->dims);
      diag_note("input '%s': open dimensions fixed from %s", t->name, in[i].path);
    }
  }
  return NN_OK;
}

/* An input that some node needs at compile time (Reshape's shape...) is
 * compiled in from its data: this run's program is specialised to it. */
static nn_status freeze_const_inputs(ir_graph *g, ir_tensor **data) {
  bool *needed = driver_const_tensors(g);
  for (int k = 0; k < g->n_inputs;) {
    if (!needed[g->inputs[k]->id]) {
      k++;
      continue;
    }
    diag_note("input '%s' determines a value that must be known at compile time (a shape, "
              "axes, pads...): its value is compiled in", g->inputs[k]->name);
    if (driver_freeze_input(g, k, data[k], "the input file") != NN_OK)
      return NN_ERR;
    for (int i = k + 1; i <= g->n_inputs; i++)
      data[i - 1] = data[i];
  }
  return NN_OK;
}

static nn_status check_input(const ir_graph *g, const ir_tensor *want, const ir_tensor *got) {
  char a[256], b[256];
  bool same = want->dtype == got->dtype && want->rank == got->rank;
  for (int d = 0; same && d < want->rank; d++)
    same = want->dims[d] == got->dims[d];
  if (!same)
    return diag_error(g->path, "input '%s' wants %s%s, the file holds %s%s", want->name,
                      ir_dtype_name(want->dtype), ir_shape_str(want, a, sizeof a),
                      ir_dtype_name(got->dtype), ir_shape_str(got, b, sizeof b));
  return NN_OK;
}

static void print_output(const ir_tensor *t, const void *data) {
  char shape[256];
  printf("output %s: %s%s", t->name, ir_dtype_name(t->dtype), ir_shape_str(t, shape, sizeof shape));
  ir_tensor view = *t;
  view.data = (void *)data;
  int64_t n = ir_numel(t);
  printf(" = [");
  for (int64_t i = 0; i < n && i < 8; i++)
    if (t->dtype == IR_STRING)
      printf("%s\"%s\"", i ? ", " : "", ((char *const *)data)[i]);
    else
      printf("%s%.6g", i ? ", " : "", ir_weight_float(&view, i));
  printf("%s]\n", n > 8 ? ", ..." : "");
}

static char *path_in(mem_arena *mem, const char *dir, const char *name) {
  return mem_printf(mem, "%s/%s", dir, name);
}

/* -O2 with AVX2/FMA where the CPU has them. Not -march=native: GCC 12
 * miscompiles constant memcpy under its AVX-512 tunings (docs/design.md). */
static const char *default_cflags(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return "-O2 -mavx2 -mfma";
#endif
  return "-O2";
}

nn_status driver_build_c(const char *model_path, const char *const *sources, int n_sources,
                         const char *const *libs, int n_libs, const char *exe, const char *log,
                         mem_arena *mem) {
  const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
  const char *flags = getenv("NNCC_CFLAGS") ? getenv("NNCC_CFLAGS") : default_cflags();
  char *args[64];
  int n = 0;
  if (n_sources + n_libs > 16)
    return diag_error(model_path, "too many files to build");
  args[n++] = (char *)cc;
  char *copy = mem_strdup(mem, flags);
  for (char *tok = strtok(copy, " \t"); tok && n < 40; tok = strtok(NULL, " \t"))
    args[n++] = tok;
  args[n++] = "-fopenmp";
  args[n++] = "-o";
  args[n++] = (char *)exe;
  for (int i = 0; i < n_sources; i++)
    args[n++] = (char *)sources[i];
  for (int i = 0; i < n_libs; i++)
    args[n++] = (char *)libs[i];
  args[n++] = "-lm";
  args[n] = NULL;
  if (spawn(args, log, NULL) != 0)
    return diag_error(model_path, "the C compiler (%s) failed on the generated code; see %s", cc, log);
  return NN_OK;
}

/* Builds the program in dir: $CC $NNCC_CFLAGS -fopenmp model.c main.c -lm. */
static nn_status build(const ir_graph *g, const char *dir, mem_arena *mem) {
  const char *sources[] = {path_in(mem, dir, "model.c"), path_in(mem, dir, "main.c")};
  return driver_build_c(g->path, sources, 2, NULL, 0, path_in(mem, dir, "prog"),
                        path_in(mem, dir, "build.log"), mem);
}

static nn_status emit_program(ir_graph *g, const char *dir, bool trace, mem_arena *mem) {
  cg_options co = {.prefix = "model", .header_name = "model.h", .command = "nncc run",
                   .openmp = true, .trace = trace};
  cbuf c, h, m;
  cb_init(&c);
  cb_init(&h);
  cb_init(&m);
  nn_status st = cg_emit_model(g, &co, &c, &h);
  cg_emit_harness(g, &co, &m);
  if (st == NN_OK)
    st = file_write_atomic(path_in(mem, dir, "model.c"), c.data, c.len) ||
         file_write_atomic(path_in(mem, dir, "model.h"), h.data, h.len) ||
         file_write_atomic(path_in(mem, dir, "main.c"), m.data, m.len);
  cb_free(&c);
  cb_free(&h);
  cb_free(&m);
  return st;
}

/* Where tensor output i goes: output_<k>.npy for model output k, or
 * output_<k>_<j>.npy for element j of a sequence output, beside
 * output_<k>.seq (its length) or output_<k>.none (an absent optional), the
 * layout tests/conformance/compare.py reads. */
static const char *output_path(const ir_graph *g, const char *dir, int i, mem_arena *mem) {
  for (int k = 0; k < g->n_model_outputs; k++)
    if (i >= g->out_first[k] && i < g->out_first[k] + g->out_count[k])
      return g->out_kind[k] == 'S'
                 ? mem_printf(mem, "%s/output_%d_%d.npy", dir, k, i - g->out_first[k])
                 : mem_printf(mem, "%s/output_%d.npy", dir, k);
  return mem_printf(mem, "%s/output_%d.npy", dir, i);
}

static nn_status write_markers(const ir_graph *g, const char *dir, mem_arena *mem) {
  for (int k = 0; k < g->n_model_outputs; k++) {
    char kind = g->out_kind[k];
    if (kind == 'T')
      continue;
    const char *text = kind == 'S' ? mem_printf(mem, "%d\n", g->out_count[k]) : "";
    if (file_write_atomic(mem_printf(mem, "%s/output_%d.%s", dir, k, kind == 'S' ? "seq" : "none"),
                          text, strlen(text)) != NN_OK)
      return NN_ERR;
  }
  return NN_OK;
}

static bool is_actual_shape(const ir_graph *g, const ir_tensor *t) {
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i]->actual_shape == t)
      return true;
  return false;
}

/* A bounded output's dims as the program found them (its companion output's
 * file), checked against the bounds. */
static nn_status actual_dims(const ir_graph *g, ir_tensor *t, const char *const *out_paths) {
  int j = 0;
  while (g->outputs[j] != t->actual_shape)
    j++;
  size_t size;
  int64_t *dims = (int64_t *)file_read(out_paths[j], &size);
  if (!dims)
    return NN_ERR;
  nn_status st = NN_OK;
  for (int d = 0; d < t->rank && st == NN_OK; d++)
    if (size != sizeof *dims * (size_t)t->rank || dims[d] < 0 || dims[d] > t->dims[d])
      st = diag_error(g->path, "output '%s': the program reported dimension %d as %lld, outside "
                      "[0, %lld]", t->name, d, (long long)dims[d], (long long)t->dims[d]);
    else
      t->dims[d] = dims[d];
  t->bounded = false;
  free(dims);
  return st;
}

/* A string tensor crosses as its elements, each followed by a NUL. */
static nn_status write_input(const char *path, const ir_tensor *t) {
  if (t->dtype != IR_STRING)
    return file_write_atomic(path, t->data, ir_bytes(t));
  cbuf b;
  cb_init(&b);
  for (int64_t i = 0; i < ir_numel(t); i++) {
    const char *s = ((char *const *)t->data)[i];
    cb_bytes(&b, s, strlen(s) + 1);
  }
  nn_status st = file_write_atomic(path, b.data ? b.data : "", b.len);
  cb_free(&b);
  return st;
}

/* The program's string output file as an array of n strings into bytes. */
static nn_status split_strings(const ir_graph *g, int i, unsigned char *bytes, size_t size,
                               int64_t n, char ***out, mem_arena *mem) {
  char **s = mem_alloc(mem, sizeof *s * (size_t)(n + 1));
  int64_t k = 0;
  for (size_t at = 0; at < size && k < n; at += strlen((char *)bytes + at) + 1)
    s[k++] = (char *)bytes + at;
  if (k != n || size == 0 || bytes[size - 1] != '\0')
    return diag_error(g->path, "output %d: program wrote %lld strings, expected %lld", i,
                      (long long)k, (long long)n);
  *out = s;
  return NN_OK;
}

static nn_status execute(ir_graph *g, const char *dir, ir_tensor **data, int repeat,
                         const char *threads, const char *out_dir, mem_arena *mem) {
  char *args[8 + 2 * 256];
  int n = 0;
  if (g->n_inputs + g->n_outputs > 500)
    return diag_error(g->path, "too many inputs and outputs for nncc run");
  args[n++] = path_in(mem, dir, "prog");
  args[n++] = mem_printf(mem, "%d", repeat);
  for (int i = 0; i < g->n_inputs; i++) {
    char *p = path_in(mem, dir, mem_printf(mem, "in%d.bin", i));
    if (check_input(g, g->inputs[i], data[i]) || write_input(p, data[i]))
      return NN_ERR;
    args[n++] = p;
  }
  for (int i = 0; i < g->n_outputs; i++)
    args[n++] = path_in(mem, dir, mem_printf(mem, "out%d.bin", i));
  args[n] = NULL;
  fflush(stdout);
  int rc = spawn(args, NULL, threads);
  if (rc != 0)
    return diag_error(g->path, "the built program failed (exit status %d)", rc);
  if (out_dir && write_markers(g, out_dir, mem) != NN_OK)
    return NN_ERR;
  for (int i = 0; i < g->n_outputs; i++) {
    if (is_actual_shape(g, g->outputs[i]))
      continue; /* read with the output it describes */
    size_t size;
    unsigned char *bytes = file_read(args[2 + g->n_inputs + i], &size);
    if (!bytes)
      return NN_ERR;
    ir_tensor view = *g->outputs[i];
    nn_status st = NN_OK;
    char **strings = NULL;
    if (view.dtype == IR_STRING)
      st = ir_numel(&view) == 0 ? NN_OK
           : split_strings(g, i, bytes, size, ir_numel(&view), &strings, mem);
    else if (size != ir_bytes(g->outputs[i]))
      st = diag_error(g->path, "output %d: program wrote %zu bytes, expected %zu", i, size,
                      ir_bytes(g->outputs[i]));
    if (st == NN_OK && view.actual_shape)
      st = actual_dims(g, &view, (const char *const *)args + 2 + g->n_inputs);
    if (st != NN_OK)
      ;
    else if (out_dir)
      st = npy_write(output_path(g, out_dir, i, mem), &view,
                     strings ? (void *)strings : bytes);
    else
      print_output(&view, strings ? (void *)strings : bytes);
    free(bytes);
    if (st != NN_OK)
      return st;
  }
  return NN_OK;
}

/* A file name for a tensor: its name with anything but [A-Za-z0-9_.-] as '_'. */
static char *file_stem(mem_arena *mem, const char *name) {
  char *s = mem_strdup(mem, name && *name ? name : "unnamed");
  for (char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '.' || *p == '-'))
      *p = '_';
  return s;
}

/* Turns the program's raw dumps (dir/t<k>.bin, one per computed tensor in
 * schedule order) into out_dir/<k>_<tensor>.npy and an index, trace.tsv. */
static nn_status write_trace(const ir_graph *g, const char *dir, const char *out_dir,
                             mem_arena *mem) {
  const char *index_path = mem_printf(mem, "%s/trace.tsv", out_dir);
  FILE *index = fopen(index_path, "w");
  if (!index)
    return diag_error(index_path, "cannot write: %s", strerror(errno));
  fprintf(index, "k\tnode\top\ttensor\tdtype\tshape\tfile\n");
  nn_status st = NN_OK;
  int k = 0;
  for (int i = 0; i < g->n_nodes && st == NN_OK; i++) {
    const ir_node *n = g->nodes[i];
    for (int o = 0; o < n->n_outputs && st == NN_OK; o++) {
      const ir_tensor *t = n->outputs[o];
      if (!t)
        continue;
      const char *raw = mem_printf(mem, "%s/t%d.bin", dir, k);
      size_t size;
      unsigned char *bytes = file_read(raw, &size);
      const char *npy = mem_printf(mem, "%04d_%s.npy", k, file_stem(mem, t->name));
      char shape[256];
      if (!bytes)
        st = NN_ERR;
      else if (t->dtype == IR_STRING)
        npy = "-"; /* pointers into the program's memory: nothing to show */
      else if (size != ir_bytes(t))
        st = diag_error(g->path, "trace of '%s': %zu bytes, expected %zu", t->name, size, ir_bytes(t));
      else
        st = npy_write(mem_printf(mem, "%s/%s", out_dir, npy), t, bytes);
      free(bytes);
      remove(raw);
      fprintf(index, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", k, n->name, n->op_type, t->name,
              ir_dtype_name(t->dtype), ir_shape_str(t, shape, sizeof shape), npy);
      k++;
    }
  }
  if (fclose(index) != 0 && st == NN_OK)
    st = diag_error(index_path, "cannot write: %s", strerror(errno));
  if (st == NN_OK)
    fprintf(stderr, "nncc: traced %d tensors into %s (index: trace.tsv)\n", k, out_dir);
  return st;
}

static void remove_dir(const char *dir, mem_arena *mem) {
  const char *files[] = {"model.c", "model.h", "main.c", "prog", "build.log"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++)
    remove(path_in(mem, dir, files[i]));
  for (int i = 0; i < 1024; i++) {
    if (remove(path_in(mem, dir, mem_printf(mem, "in%d.bin", i))) != 0 &&
        remove(path_in(mem, dir, mem_printf(mem, "out%d.bin", i))) != 0)
      break;
    remove(path_in(mem, dir, mem_printf(mem, "out%d.bin", i)));
  }
  rmdir(dir);
}

int cmd_run(int argc, char **argv) {
  mem_arena *mem = mem_new();
  driver_options o = {.opt_level = 2};
  run_input inputs[256];
  int n_in = 0, repeat = 0;
  const char *out_dir = NULL, *threads = NULL, *trace_dir = NULL;
  bool keep = false;
  for (int i = 1; i < argc; i++) {
    int took = driver_parse_common(&o, argc, argv, &i);
    if (took < 0)
      return 1;
    if (took)
      continue;
    const char *a = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp(a, "--input") == 0 && has_value && n_in < 256) {
      char *v = argv[++i], *eq = strchr(v, '=');
      inputs[n_in].name = eq ? mem_strdup(mem, v) : NULL;
      if (eq)
        ((char *)inputs[n_in].name)[eq - v] = '\0';
      inputs[n_in++].path = eq ? eq + 1 : v;
    } else if (strcmp(a, "--output-dir") == 0 && has_value) {
      out_dir = argv[++i];
    } else if (strcmp(a, "--trace") == 0 && has_value) {
      trace_dir = argv[++i];
    } else if (strcmp(a, "--repeat") == 0 && has_value) {
      repeat = atoi(argv[++i]);
      if (repeat <= 0) {
        diag_error(NULL, "--repeat wants a positive count, got '%s'", argv[i]);
        return 1;
      }
    } else if (strcmp(a, "--threads") == 0 && has_value) {
      threads = argv[++i];
      if (atoi(threads) <= 0) {
        diag_error(NULL, "--threads wants a positive count, got '%s'", threads);
        return 1;
      }
    } else if (strcmp(a, "--keep") == 0) {
      keep = true;
    } else {
      diag_error(NULL, "run: unknown or incomplete option '%s' (see nncc --help)", a);
      return 1;
    }
  }
  if (!o.model) {
    diag_error(NULL, "run: no model given");
    return 1;
  }
  ir_graph *g = driver_load(&o, mem);
  if (!g)
    return 1;
  ir_tensor **data = bind_sequences(g, inputs, &n_in);
  if (!data || bind_inputs(g, &o, inputs, n_in, data) != NN_OK || freeze_const_inputs(g, data) != NN_OK)
    return 1;
  pipeline_options po = {.shapes = o.shapes, .n_shapes = o.n_shapes, .opt_level = o.opt_level,
                         .dump_after = o.dump_after};
  if (pipeline_run(g, &po) != NN_OK)
    return 1;
  const char *dirs[] = {out_dir, trace_dir};
  for (int d = 0; d < 2; d++)
    if (dirs[d] && mkdir(dirs[d], 0755) != 0 && errno != EEXIST) {
      diag_error(dirs[d], "cannot create directory: %s", strerror(errno));
      return 1;
    }
  const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  char *dir = mem_printf(mem, "%s/nncc-run-XXXXXX", tmp);
  if (!mkdtemp(dir)) {
    diag_error(dir, "cannot create a build directory: %s", strerror(errno));
    return 1;
  }
  nn_status st = emit_program(g, dir, trace_dir != NULL, mem);
  if (st == NN_OK)
    st = build(g, dir, mem);
  if (trace_dir)
    setenv("NNCC_TRACE_DIR", dir, 1);
  if (st == NN_OK)
    st = execute(g, dir, data, repeat, threads, out_dir, mem);
  if (st == NN_OK && trace_dir)
    st = write_trace(g, dir, trace_dir, mem);
  if (keep || st != NN_OK)
    fprintf(stderr, "nncc: build directory kept: %s\n", dir);
  else
    remove_dir(dir, mem);
  mem_free(mem);
  return st == NN_OK ? 0 : 1;
}
