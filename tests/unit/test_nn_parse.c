/* The .nn parser: the tree it builds, its line rules, and recovery. */
#include <criterion/criterion.h>

#include "nn_parse.h"

static mem_arena *mem;
static nn_source src;

static void setup(void) { mem = mem_new(); }
static void teardown(void) { mem_free(mem); }

TestSuite(nn_parse, .init = setup, .fini = teardown);

static nn_file *parse(const char *text) {
  src = (nn_source){.path = "t.nn", .text = text, .len = (int)strlen(text),
                    .out = fopen("/dev/null", "w")};
  nn_tokens t = nn_lex(&src, mem);
  nn_file *f = nn_parse(&src, &t, mem);
  fclose(src.out);
  return f;
}

Test(nn_parse, lenet_like_file) {
  nn_file *f = parse("# LeNet\n"
                     "model lenet\n"
                     "input image [1, 28, 28]\n"
                     "c1 = conv2d(image, 6, kernel=5, padding=same, activation=tanh)\n"
                     "logits = dense(c1, 10)\n"
                     "output logits\n"
                     "train {\n  loss = cross_entropy(logits, from_logits=true)\n"
                     "  early_stopping(val_loss, 3)\n}\n");
  cr_assert_eq(src.errors, 0);
  cr_assert_eq(f->n_models, 1);
  const nn_model *m = &f->models[0];
  cr_assert_str_eq(m->name, "lenet");
  cr_assert_eq(m->n_stmts, 4);
  cr_assert_eq(m->stmts[0].kind, NN_S_INPUT);
  cr_assert_eq(m->stmts[0].rank, 3);
  cr_assert_eq(m->stmts[0].dims[2], 28);
  const nn_value *call = m->stmts[1].call;
  cr_assert_eq(m->stmts[1].kind, NN_S_LAYER);
  cr_assert_str_eq(call->s, "conv2d");
  cr_assert_eq(call->n_args, 5);
  cr_assert_null(call->args[0].name);
  cr_assert_eq(call->args[0].value->kind, NN_V_IDENT);
  cr_assert_str_eq(call->args[2].name, "kernel");
  cr_assert_eq(call->args[2].value->i, 5);
  cr_assert_eq(m->stmts[3].kind, NN_S_OUTPUT);
  cr_assert(m->has_train);
  cr_assert_eq(m->n_train, 2);
  cr_assert_str_eq(m->train[0].name, "loss");
  cr_assert_eq(m->train[0].value->args[1].value->kind, NN_V_BOOL);
  cr_assert(m->train[1].bare_call);
}

Test(nn_parse, line_breaks_inside_brackets) {
  nn_file *f = parse("model m\ninput x [4]\n"
                     "y = dense(\n  x,\n  3,\n  activation=relu,\n)\n"
                     "z = concat([x,\n  y\n], axis=0)\noutput z\n");
  cr_assert_eq(src.errors, 0);
  cr_assert_eq(f->models[0].n_stmts, 4);
  cr_assert_eq(f->models[0].stmts[2].call->args[0].value->n_items, 2);
}

Test(nn_parse, negative_numbers_and_nested_values) {
  nn_file *f = parse("model m\nr = reshape(x, [-1, 2])\na = dense(x, 2, activation=leaky_relu(alpha=0.2))\n");
  cr_assert_eq(src.errors, 0);
  const nn_value *shape = f->models[0].stmts[0].call->args[1].value;
  cr_assert_eq(shape->items[0]->i, -1);
  cr_assert_eq(shape->items[0]->loc.len, 2);
  const nn_value *act = f->models[0].stmts[1].call->args[2].value;
  cr_assert_eq(act->kind, NN_V_CALL);
  cr_assert_float_eq(act->args[0].value->f, 0.2, 1e-12);
}

Test(nn_parse, seeds_and_models) {
  nn_file *f = parse("seed 5\nmodel a\nseed 7\ninput x [1]\noutput x\nmodel b\ninput y [2] int64\n");
  cr_assert_eq(src.errors, 0);
  cr_assert_eq(f->seed->seed, 5);
  cr_assert_eq(f->n_models, 2);
  cr_assert_eq(f->models[0].stmts[0].kind, NN_S_SEED);
  cr_assert_eq(f->models[0].stmts[0].seed, 7);
  cr_assert_str_eq(f->models[1].stmts[0].dtype, "int64");
}

Test(nn_parse, recovers_at_the_next_line) {
  nn_file *f = parse("model m\ninput x [4]\ny = dense(x 3)\nz = dense(x, 3)\nw = = 2\noutput z\n");
  cr_assert_eq(src.errors, 2);
  cr_assert_eq(f->models[0].n_stmts, 5, "every statement with a name is kept");
  cr_assert(f->models[0].stmts[1].broken, "y is marked broken, so uses of it stay quiet");
  cr_assert(f->models[0].stmts[3].broken);
  cr_assert(!f->models[0].stmts[2].broken);
  cr_assert_str_eq(f->models[0].stmts[2].name, "z");
}

Test(nn_parse, train_block_on_one_line) {
  nn_file *f = parse("model m\ntrain { epochs = 3 }\n");
  cr_assert_eq(src.errors, 0);
  cr_assert_eq(f->models[0].n_train, 1);
}

Test(nn_parse, value_text) {
  nn_value *v = nn_parse_value_text("[1, 2.5, relu, f(a=1)]", mem);
  cr_assert_not_null(v);
  cr_assert_eq(v->kind, NN_V_LIST);
  cr_assert_eq(v->n_items, 4);
  cr_assert_eq(v->items[3]->kind, NN_V_CALL);
  cr_assert_null(nn_parse_value_text("1 2", mem));
}
