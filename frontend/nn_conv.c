/* The convolution family: conv1d/2d/3d, their transposes, depthwise and
 * separable. Padding words are turned into explicit pads here (same: the
 * extra pixel goes at the end, as Keras and ONNX SAME_UPPER do), so the IR
 * carries plain Conv/ConvTranspose attributes like an exported model. */
#include <string.h>

#include "nn_lower.h"

typedef struct geo {
  int nsp;
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], op[3], out[3];
} geo;

static const char *const layouts[] = {NULL, "[channels, length]", "[channels, height, width]",
                                      "[channels, depth, height, width]"};

/* "5x5" */
static const char *dims_str(mem_arena *mem, const int64_t *v, int n) {
  char *s = "";
  for (int i = 0; i < n; i++)
    s = mem_printf(mem, "%s%s%lld", s, i ? "x" : "", (long long)v[i]);
  return s;
}

static nn_status check_rank(nn_layer *c) {
  int nsp = c->def->nsp;
  return c->in[0].shape.rank == nsp + 1 ? NN_OK : nn_want_rank(c, 0, nsp + 1, layouts[nsp]);
}

/* Output size and pads of every axis of a Conv (tr false) or ConvTranspose. */
static nn_status conv_sizes(nn_layer *c, geo *g, bool tr) {
  nn_lower *L = c->L;
  const char *word = nn_arg_word(&c->a, "padding");
  bool same = word && strcmp(word, "same") == 0;
  if (!word && nn_arg_sides(L->src, &c->a, "padding", g->nsp, g->pb, g->pe))
    return NN_ERR;
  int64_t span[3], ek[3];
  for (int i = 0; i < g->nsp; i++) {
    ek[i] = g->d[i] * (g->k[i] - 1) + 1;
    if (word) {
      int64_t total = 0;
      if (same && !tr)
        total = ((g->in[i] + g->s[i] - 1) / g->s[i] - 1) * g->s[i] + ek[i] - g->in[i];
      else if (same) {
        total = ek[i] + g->op[i] - g->s[i]; /* out = in * stride */
        if (total < 0)
          g->op[i] -= total, total = 0;
      }
      total = total > 0 ? total : 0;
      g->pb[i] = total / 2;
      g->pe[i] = total - total / 2;
    }
    span[i] = g->in[i] + g->pb[i] + g->pe[i];
    g->out[i] = tr ? nn_sat_mul(g->s[i], g->in[i] - 1) + g->op[i] + ek[i] - g->pb[i] - g->pe[i]
                   : span[i] < ek[i] ? 0 : (span[i] - ek[i]) / g->s[i] + 1;
  }
  for (int i = 0; i < g->nsp; i++) {
    if (g->out[i] >= 1)
      continue;
    if (tr) {
      nn_error(L->src, nn_arg_loc(&c->a, "padding"), "%s '%s': the padding removes the whole output",
               c->def->fn.name, c->name);
    } else {
      nn_error(L->src, c->in_loc[0], "%s '%s': its %s window does not fit in '%s', which is %s%s",
               c->def->fn.name, c->name, dims_str(L->mem, ek, g->nsp), c->in_name[0],
               dims_str(L->mem, span, g->nsp), word && !same ? "" : " with padding");
      nn_hint(L->src, "use padding=same, a smaller kernel, or less downsampling before it");
    }
    return NN_ERR;
  }
  return NN_OK;
}

/* Kernel, stride, dilation (and output_padding) of input 0, then sizes. */
static nn_status read_geo(nn_layer *c, geo *g, bool tr) {
  nn_lower *L = c->L;
  memset(g, 0, sizeof *g);
  g->nsp = c->def->nsp;
  for (int i = 0; i < g->nsp; i++)
    g->in[i] = c->in[0].shape.d[1 + i];
  if (nn_arg_ints(L->src, &c->a, "kernel", g->nsp, g->k) ||
      nn_arg_ints(L->src, &c->a, "stride", g->nsp, g->s) ||
      nn_arg_ints(L->src, &c->a, "dilation", g->nsp, g->d) ||
      (tr && nn_arg_ints(L->src, &c->a, "output_padding", g->nsp, g->op)))
    return NN_ERR;
  for (int i = 0; tr && i < g->nsp; i++)
    if (g->op[i] >= g->s[i] && g->op[i] >= g->d[i]) {
      nn_error(L->src, nn_arg_loc(&c->a, "output_padding"),
               "'output_padding' must be smaller than the stride or the dilation");
      return NN_ERR;
    }
  return conv_sizes(c, g, tr);
}

static int64_t receptive(const geo *g) {
  int64_t r = 1;
  for (int i = 0; i < g->nsp; i++)
    r = nn_sat_mul(r, g->k[i]);
  return r;
}

/* One Conv or ConvTranspose node with the attributes an exporter writes. */
static ir_tensor *conv_node(nn_layer *c, bool tr, ir_tensor *x, ir_tensor *w, ir_tensor *b,
                            const geo *g, int64_t group, const char *suffix) {
  ir_node *n = nb_node(c, tr ? "ConvTranspose" : "Conv", b ? 3 : 2, 1, suffix);
  n->inputs[0] = x;
  n->inputs[1] = w;
  if (b)
    n->inputs[2] = b;
  int64_t pads[6];
  for (int i = 0; i < g->nsp; i++)
    pads[i] = g->pb[i], pads[g->nsp + i] = g->pe[i];
  nb_ints(c, "kernel_shape", g->k, g->nsp);
  nb_ints(c, "strides", g->s, g->nsp);
  nb_ints(c, "dilations", g->d, g->nsp);
  nb_ints(c, "pads", pads, 2 * g->nsp);
  nb_int(c, "group", group);
  bool opad = false;
  for (int i = 0; i < g->nsp; i++)
    opad |= g->op[i] != 0;
  if (tr && opad)
    nb_ints(c, "output_padding", g->op, g->nsp);
  return n->outputs[0];
}

/* [channels, out...] then the activation, as the layer's output. */
static nn_status finish(nn_layer *c, ir_tensor *y, int64_t channels, const geo *g) {
  nn_val v = {.t = y, .shape = {.rank = g->nsp + 1, .d = {channels}}};
  for (int i = 0; i < g->nsp; i++)
    v.shape.d[1 + i] = g->out[i];
  if (nn_act_apply(c, nn_arg_fn(&c->a, "activation"), &v, nn_arg_loc(&c->a, "activation")))
    return NN_ERR;
  return nn_set_out(c, v.t, &v.shape);
}

static nn_status check_groups(nn_layer *c, int64_t C, int64_t M, int64_t G) {
  if (C % G == 0 && M % G == 0)
    return NN_OK;
  nn_error(c->L->src, nn_arg_loc(&c->a, "groups"),
           "%s '%s': groups (%lld) must divide both the %lld input channels and the %lld filters",
           c->def->fn.name, c->name, (long long)G, (long long)C, (long long)M);
  return NN_ERR;
}

/* W [filters, channels / groups, kernel...] */
nn_status nn_lower_conv(nn_layer *c) {
  geo g;
  if (check_rank(c) || read_geo(c, &g, false))
    return NN_ERR;
  int64_t C = c->in[0].shape.d[0], M = nn_arg_int(&c->a, "filters"), G = nn_arg_int(&c->a, "groups");
  if (check_groups(c, C, M, G))
    return NN_ERR;
  int64_t wd[5] = {M, C / G, g.k[0], g.k[1], g.k[2]}, rec = receptive(&g);
  ir_tensor *w = nb_learned(c, "weight", g.nsp + 2, wd, nn_sat_mul(C / G, rec), nn_sat_mul(M, rec));
  ir_tensor *b = nn_arg_bool(&c->a, "bias") ? nb_bias(c, "bias", 1, &M, nn_sat_mul(C / G, rec)) : NULL;
  return finish(c, conv_node(c, false, c->in[0].t, w, b, &g, G, "conv"), M, &g);
}

/* W [channels, filters / groups, kernel...] */
nn_status nn_lower_conv_transpose(nn_layer *c) {
  geo g;
  if (check_rank(c) || read_geo(c, &g, true))
    return NN_ERR;
  int64_t C = c->in[0].shape.d[0], M = nn_arg_int(&c->a, "filters"), G = nn_arg_int(&c->a, "groups");
  if (check_groups(c, C, M, G))
    return NN_ERR;
  int64_t wd[5] = {C, M / G, g.k[0], g.k[1], g.k[2]}, rec = receptive(&g);
  ir_tensor *w = nb_learned(c, "weight", g.nsp + 2, wd, nn_sat_mul(M / G, rec), nn_sat_mul(C, rec));
  ir_tensor *b = nn_arg_bool(&c->a, "bias") ? nb_bias(c, "bias", 1, &M, nn_sat_mul(M / G, rec)) : NULL;
  return finish(c, conv_node(c, true, c->in[0].t, w, b, &g, G, "convt"), M, &g);
}

/* Conv with group = channels: W [channels * multiplier, 1, kernel...]. */
static ir_tensor *depthwise(nn_layer *c, const geo *g, bool bias, const char *suffix) {
  int64_t C = c->in[0].shape.d[0], M = nn_sat_mul(C, nn_arg_int(&c->a, "multiplier"));
  int64_t rec = receptive(g);
  int64_t wd[5] = {M, 1, g->k[0], g->k[1], g->k[2]};
  ir_tensor *w = nb_learned(c, suffix, g->nsp + 2, wd, rec, nn_sat_mul(M, rec));
  ir_tensor *b = bias ? nb_bias(c, "bias", 1, &M, rec) : NULL;
  return conv_node(c, false, c->in[0].t, w, b, g, C, suffix);
}

nn_status nn_lower_depthwise(nn_layer *c) {
  geo g;
  if (check_rank(c) || read_geo(c, &g, false))
    return NN_ERR;
  int64_t M = nn_sat_mul(c->in[0].shape.d[0], nn_arg_int(&c->a, "multiplier"));
  return finish(c, depthwise(c, &g, nn_arg_bool(&c->a, "bias"), "depthwise"), M, &g);
}

/* Depthwise (no bias), then a 1x1 Conv to `filters` channels with the bias. */
nn_status nn_lower_separable(nn_layer *c) {
  geo g;
  if (check_rank(c) || read_geo(c, &g, false))
    return NN_ERR;
  int64_t CM = nn_sat_mul(c->in[0].shape.d[0], nn_arg_int(&c->a, "multiplier"));
  int64_t F = nn_arg_int(&c->a, "filters");
  ir_tensor *dw = depthwise(c, &g, false, "depthwise");
  geo p = {.nsp = g.nsp};
  for (int i = 0; i < g.nsp; i++)
    p.k[i] = p.s[i] = p.d[i] = 1, p.out[i] = g.out[i];
  int64_t wd[5] = {F, CM, 1, 1, 1};
  ir_tensor *w = nb_learned(c, "pointwise", g.nsp + 2, wd, CM, F);
  ir_tensor *b = nn_arg_bool(&c->a, "bias") ? nb_bias(c, "bias", 1, &F, CM) : NULL;
  return finish(c, conv_node(c, false, dw, w, b, &p, 1, "pointwise"), F, &g);
}
