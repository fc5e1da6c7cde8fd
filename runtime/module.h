/* What the runtime knows of a generated training module (docs/training.md):
 * its sizes, its entry points behind label-type-neutral wrappers, its state
 * table, the train block's defaults and the forward graph as ONNX bytes. The
 * trainer's generated glue fills one of these; tests fill it by hand. */
#ifndef NNCC_RT_MODULE_H
#define NNCC_RT_MODULE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { RT_ROLE_PARAM, RT_ROLE_GRAD, RT_ROLE_OPTIMIZER, RT_ROLE_BUFFER } rt_role;
typedef enum { RT_LABEL_INT64, RT_LABEL_INT32, RT_LABEL_FLOAT } rt_label_type;
typedef enum { RT_LOSS_MSE, RT_LOSS_MAE, RT_LOSS_BCE, RT_LOSS_CE, RT_LOSS_NLL,
               RT_LOSS_HINGE } rt_loss;
typedef enum { RT_UPDATE_MINIBATCH, RT_UPDATE_FULL_BATCH } rt_update;
typedef enum { RT_SCHED_CONSTANT, RT_SCHED_STEP, RT_SCHED_EXPONENTIAL,
               RT_SCHED_COSINE } rt_schedule;
typedef enum { RT_METRIC_VAL_LOSS, RT_METRIC_VAL_ACCURACY } rt_metric;
/* Element types of data (the module's input types, and what files hold). */
typedef enum { RT_ELEM_FLOAT32, RT_ELEM_FLOAT64, RT_ELEM_INT64, RT_ELEM_INT32, RT_ELEM_INT16,
               RT_ELEM_INT8, RT_ELEM_UINT8, RT_ELEM_UINT16, RT_ELEM_UINT32,
               RT_ELEM_BOOL } rt_elem;

#define RT_MAX_INPUTS 16

/* One data input of the module, in the order _grad takes them. */
typedef struct rt_input {
  const char *name;     /* the graph input's (--train-input NAME=FILE) */
  rt_elem type;
  size_t features;      /* values per sample */
  int has_range;        /* every value must lie in [lo, hi) (an embedding's token ids) */
  int64_t lo, hi;
  const char *value_word; /* what a value is, for messages: "token", "index" */
  const char *range_of;   /* what the range is: "the vocabulary of embedding 'words'" */
} rt_input;

/* One state tensor: where it lives in the state blob and what it is. */
typedef struct rt_state_entry {
  const char *name;
  size_t offset, bytes;
  int is_float;     /* float32 items (the only kind scanned for NaN/Inf) */
  int rank;
  int64_t dims[8];
  rt_role role;
  const char *layer; /* the layer (node) it belongs to, for messages; may be NULL */
} rt_state_entry;

/* A trainable weight's raw_data inside the embedded ONNX bytes. */
typedef struct rt_onnx_patch {
  size_t state_offset, onnx_offset, bytes;
} rt_onnx_patch;

typedef struct rt_module {
  const char *name;
  int batch;               /* samples per call (compile-time) */
  size_t state_bytes, arena_bytes;
  const rt_input *inputs;  /* the data inputs: x[k] of _grad and _predict is inputs[k] */
  int n_inputs;
  size_t out_features;     /* floats per sample of pred */
  rt_label_type label_type;
  size_t label_width;      /* label values per sample: 1 for a class index */
  int n_classes;           /* > 0: labels are class indices in [0, n_classes), one per
                              position (label_width positions per sample) */
  size_t class_inner;      /* class-index labels: pred's values per class after the class
                              axis; position p = o * inner + i, class c is pred value
                              (o * n_classes + c) * inner + i (0 taken as 1: classes last) */
  rt_loss loss;
  int from_logits;         /* pred holds logits (CE: before softmax; BCE: before sigmoid) */
  const rt_state_entry *state;
  int n_state;
  void (*init)(void *state);
  /* x[k]: a batch of input k, [batch, inputs[k].features] of its type */
  double (*grad)(void *state, const void *const *x, const void *labels, const float *mask,
                 float *pred, void *arena);
  void (*update)(void *state, float lr, int64_t step, float scale);
  void (*predict)(const void *state, const void *const *x, float *pred, void *arena);
  /* The train block's settings, the defaults of the command line. */
  struct {
    int epochs;
    double lr;
    uint64_t seed;
    rt_update update;
    rt_schedule schedule;
    int64_t sched_every; /* step: epochs between decays */
    double sched_gamma;
    int64_t sched_epochs; /* cosine: the period in epochs, 0: the run's epochs */
    int early_stopping;
    rt_metric metric;
    int patience;
  } defaults;
  /* `nncc export`'s model of the forward graph, for --export-onnx (NULL: none). */
  const unsigned char *onnx;
  size_t onnx_bytes;
  const rt_onnx_patch *onnx_patches;
  int n_onnx_patches;
} rt_module;

/* FNV-1a over the state table (names, offsets, sizes, shapes, roles): a
 * checkpoint carries it so it is only loaded into the model that wrote it. */
uint64_t rt_state_hash(const rt_module *m);
/* The first gradient (in state-table order: the forward order of the layers)
 * holding NaN or Inf, or NULL. */
const rt_state_entry *rt_first_bad_grad(const rt_module *m, const void *state);
/* Zeroes every gradient entry (after a validation pass, for instance). */
void rt_zero_grads(const rt_module *m, void *state);

#endif
