/* The signal and sampling families through the infer pass: window and mel
 * tables folded at compile time (closed forms, symmetry, unit triangles), and
 * the output shapes of DFT, STFT, Col2Im and AffineGrid. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "passes.h"

#define PI 3.14159265358979323846

static ir_tensor *weight_i64(ir_graph *g, const char *name, int rank, const int64_t *dims,
                             const int64_t *vals) {
  ir_tensor *t = ir_tensor_new(g, name);
  ir_set_shape(t, IR_INT64, rank, dims);
  memcpy(ir_make_weight(g, t), vals, ir_bytes(t));
  return t;
}

static ir_tensor *scalar_i64(ir_graph *g, const char *name, int64_t v) {
  return weight_i64(g, name, 0, NULL, &v);
}

static ir_tensor *scalar_f32(ir_graph *g, const char *name, float v) {
  ir_tensor *t = ir_tensor_new(g, name);
  ir_set_shape(t, IR_FLOAT, 0, NULL);
  memcpy(ir_make_weight(g, t), &v, sizeof v);
  return t;
}

static ir_tensor *input_f32(ir_graph *g, const char *name, int rank, const int64_t *dims) {
  ir_tensor *t = ir_tensor_new(g, name);
  ir_set_shape(t, IR_FLOAT, rank, dims);
  t->kind = IR_INPUT;
  return t;
}

/* Node op over ins, feeding an Identity graph output (graph outputs are
 * never folded), at opset; set attributes on it, then call run_infer. */
static ir_node *build(ir_graph *g, const char *op, int opset, int n_in, ir_tensor **ins) {
  ir_node *n = ir_node_new(g, op, n_in, 1);
  n->opset = opset;
  for (int k = 0; k < n_in; k++)
    n->inputs[k] = ins[k];
  n->outputs[0] = ir_tensor_new(g, "y");
  ir_node *id = ir_node_new(g, "Identity", 1, 1);
  id->opset = opset;
  id->inputs[0] = n->outputs[0];
  id->outputs[0] = ir_tensor_new(g, "z");
  id->outputs[0]->is_output = true;
  g->outputs = mem_alloc(g->mem, sizeof *g->outputs);
  g->outputs[0] = id->outputs[0];
  g->n_outputs = 1;
  return n;
}

static void run_infer(ir_graph *g) {
  cr_assert_eq(pass_resolve_ops(g), NN_OK);
  cr_assert_eq(pass_infer(g), NN_OK, "inference failed");
}

static ir_node *infer(ir_graph *g, const char *op, int opset, int n_in, ir_tensor **ins) {
  ir_node *n = build(g, op, opset, n_in, ins);
  run_infer(g);
  return n;
}

static void check_dims(const ir_tensor *t, int rank, const int64_t *want) {
  cr_assert_eq(t->rank, rank);
  for (int d = 0; d < rank; d++)
    cr_assert_eq(t->dims[d], want[d], "dim %d: %lld, expected %lld", d, (long long)t->dims[d],
                 (long long)want[d]);
}

/* w(i) for the three windows, in double, over span (N or N - 1). */
static double window(char kind, int64_t i, double span) {
  double a = 2 * PI * (double)i / span;
  if (kind == 'n')
    return sin(PI * (double)i / span) * sin(PI * (double)i / span);
  if (kind == 'm')
    return 25.0 / 46.0 - 21.0 / 46.0 * cos(a); /* alpha = 0.54, as 25/46 */
  return 0.42 - 0.5 * cos(a) + 0.08 * cos(2 * a);
}

Test(signal, windows_fold_to_their_closed_forms) {
  const char *ops[3] = {"HannWindow", "HammingWindow", "BlackmanWindow"};
  const char kinds[3] = {'n', 'm', 'b'};
  for (int w = 0; w < 3; w++) {
    for (int periodic = 0; periodic < 2; periodic++) {
      mem_arena *mem = mem_new();
      ir_graph *g = ir_graph_new(mem, "t");
      ir_tensor *size = scalar_i64(g, "n", 9);
      ir_node *m = build(g, ops[w], 17, 1, &size);
      ir_node_set_int_attr(g, m, "periodic", periodic);
      ir_node_set_int_attr(g, m, "output_datatype", IR_DOUBLE);
      run_infer(g);
      const ir_tensor *y = m->outputs[0];
      cr_assert_eq(y->kind, IR_WEIGHT, "%s was not folded", ops[w]);
      cr_assert_eq(y->dtype, IR_DOUBLE);
      double span = periodic ? 9 : 8;
      for (int64_t i = 0; i < 9; i++) {
        double got = ir_weight_float(y, i), want = window(kinds[w], i, span);
        cr_assert(fabs(got - want) < 1e-12, "%s periodic=%d [%lld]: %.17g, expected %.17g",
                  ops[w], periodic, (long long)i, got, want);
        if (!periodic) /* symmetric windows are symmetric */
          cr_assert(fabs(got - ir_weight_float(y, 8 - i)) < 1e-12);
      }
      mem_free(mem);
    }
  }
}

Test(signal, mel_filters_are_unit_triangles) {
  mem_arena *mem = mem_new();
  ir_graph *g = ir_graph_new(mem, "t");
  ir_tensor *ins[5] = {scalar_i64(g, "bins", 10), scalar_i64(g, "len", 256), scalar_i64(g, "rate", 16000),
                       scalar_f32(g, "lo", 20), scalar_f32(g, "hi", 8000)};
  ir_node *n = infer(g, "MelWeightMatrix", 17, 5, ins);
  const ir_tensor *y = n->outputs[0];
  static const int64_t want[2] = {129, 10};
  check_dims(y, 2, want);
  cr_assert_eq(y->kind, IR_WEIGHT);
  for (int64_t c = 0; c < 10; c++) {
    /* each column rises to exactly 1 and falls, never leaving [0, 1] */
    int64_t peak = -1;
    for (int64_t r = 0; r < 129; r++) {
      double v = ir_weight_float(y, r * 10 + c);
      cr_assert(v >= 0 && v <= 1, "column %lld row %lld: %g", (long long)c, (long long)r, v);
      if (v == 1 && peak < 0)
        peak = r;
    }
    cr_assert(peak >= 0, "column %lld has no peak", (long long)c);
    for (int64_t r = 1; r < 129; r++) {
      double a = ir_weight_float(y, (r - 1) * 10 + c), b = ir_weight_float(y, r * 10 + c);
      cr_assert(r <= peak ? b >= a : b <= a, "column %lld is not a triangle at row %lld",
                (long long)c, (long long)r);
    }
  }
  mem_free(mem);
}

Test(signal, dft_and_stft_shapes) {
  static const int64_t xd[4] = {2, 10, 3, 1};
  for (int onesided = 0; onesided < 2; onesided++) {
    mem_arena *mem = mem_new();
    ir_graph *g = ir_graph_new(mem, "t");
    ir_tensor *a[3] = {input_f32(g, "x", 4, xd), scalar_i64(g, "len", 12), scalar_i64(g, "axis", -3)};
    ir_node *n = build(g, "DFT", 20, 3, a);
    ir_node_set_int_attr(g, n, "onesided", onesided);
    run_infer(g);
    const int64_t want[4] = {2, onesided ? 7 : 12, 3, 2}; /* axis -3 is dim 1; complex out */
    check_dims(n->outputs[0], 4, want);
    mem_free(mem);
  }

  mem_arena *mem = mem_new();
  ir_graph *g = ir_graph_new(mem, "t");
  static const int64_t sd[3] = {3, 100, 1};
  ir_tensor *s[4] = {input_f32(g, "x", 3, sd), scalar_i64(g, "step", 10), NULL, scalar_i64(g, "len", 32)};
  ir_node *n = infer(g, "STFT", 17, 4, s);
  static const int64_t frames[4] = {3, 7, 17, 2}; /* 1 + (100 - 32) / 10 frames, 32 / 2 + 1 bins */
  check_dims(n->outputs[0], 4, frames);
  mem_free(mem);
}

Test(sample, col2im_and_affine_grid_shapes) {
  mem_arena *mem = mem_new();
  ir_graph *g = ir_graph_new(mem, "t");
  static const int64_t cd[3] = {2, 3 * 4, 12}, two = 2, img[2] = {4, 5}, blk[2] = {2, 2};
  ir_tensor *c[3] = {input_f32(g, "x", 3, cd), weight_i64(g, "img", 1, &two, img),
                     weight_i64(g, "blk", 1, &two, blk)};
  ir_node *n = infer(g, "Col2Im", 18, 3, c);
  static const int64_t image[4] = {2, 3, 4, 5};
  check_dims(n->outputs[0], 4, image);
  mem_free(mem);

  mem = mem_new();
  g = ir_graph_new(mem, "t");
  static const int64_t td[3] = {2, 3, 4}, five = 5, size[5] = {2, 7, 3, 4, 6};
  ir_tensor *a[2] = {input_f32(g, "theta", 3, td), weight_i64(g, "size", 1, &five, size)};
  n = infer(g, "AffineGrid", 20, 2, a);
  static const int64_t grid[5] = {2, 3, 4, 6, 3};
  check_dims(n->outputs[0], 5, grid);
  mem_free(mem);
}
