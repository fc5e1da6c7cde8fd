/* The .nn error catalogue (docs/language.md, "Errors"): one test per
 * message, each checking the whole report -- "file:line:col: error: ...",
 * the source line, the caret under the token, and the hint -- and that
 * nothing else is printed (no echoes of the same mistake). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "nn.h"

/* Loads src as t.nn; the load must fail with exactly `want` printed. */
static void expect(const char *src, size_t len, const char *want) {
  char *got = NULL;
  size_t got_len = 0;
  FILE *f = open_memstream(&got, &got_len);
  mem_arena *mem = mem_new();
  int errors = 0;
  nn_load_options o = {.diag = f, .errors = &errors};
  ir_graph *g = nn_load_text("t.nn", src, len, mem, &o);
  fclose(f);
  cr_assert_null(g, "the file loaded");
  cr_assert_gt(errors, 0);
  cr_assert_str_eq(got, want, "got:\n%s\nwant:\n%s", got, want);
  free(got);
  mem_free(mem);
}

#define ERR(name, src, want) \
  Test(nn_errors, name) { expect(src, strlen(src), want); }

ERR(lex_malformed_number,
    "model m\n"
    "input x [3x3]\n"
    "output x\n",
    "t.nn:2:10: error: malformed number '3x3'\n"
    "    2 | input x [3x3]\n"
    "      |          ^~~\n"
    "  hint: sizes in several dimensions are lists, e.g. [3, 3]\n")

ERR(lex_integer_too_large,
    "model m\n"
    "input x [99999999999999999999]\n"
    "output x\n",
    "t.nn:2:10: error: integer '99999999999999999999' is too large\n"
    "    2 | input x [99999999999999999999]\n"
    "      |          ^~~~~~~~~~~~~~~~~~~~\n")

ERR(lex_number_too_large,
    "model m\n"
    "input x [4]\n"
    "d = dropout(x, 1e999)\n"
    "output d\n",
    "t.nn:3:16: error: number '1e999' is too large\n"
    "    3 | d = dropout(x, 1e999)\n"
    "      |                ^~~~~\n")

ERR(lex_unterminated_string,
    "model m\n"
    "input x [4]\n"
    "c = upsample1d(x, mode=\"nearest)\n"
    "output x\n",
    "t.nn:3:24: error: unterminated string\n"
    "    3 | c = upsample1d(x, mode=\"nearest)\n"
    "      |                        ^\n"
    "  hint: a string ends with \" on the same line\n")

ERR(lex_unknown_escape,
    "model m\n"
    "input x [2, 4]\n"
    "u = upsample1d(x, mode=\"near\\est\")\n"
    "output u\n",
    "t.nn:3:29: error: unknown escape in a string (only \\\" \\\\ \\n \\t)\n"
    "    3 | u = upsample1d(x, mode=\"near\\est\")\n"
    "      |                             ^~\n")

ERR(lex_unexpected_character,
    "model m;\n"
    "input x [4]\n"
    "output x\n",
    "t.nn:1:8: error: unexpected character ';'\n"
    "    1 | model m;\n"
    "      |        ^\n"
    "  hint: a statement ends at the end of its line; no ';' is needed\n")

ERR(lex_unexpected_colon,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, units: 3)\n"
    "output x\n",
    "t.nn:3:19: error: unexpected character ':'\n"
    "    3 | y = dense(x, units: 3)\n"
    "      |                   ^\n"
    "  hint: options are written name=value, e.g. kernel=3\n")

ERR(lex_unexpected_byte,
    "model m\n"
    "input x [4]\x01\n"
    "output x\n",
    "t.nn:2:12: error: unexpected byte 0x01\n"
    "    2 | input x [4]?\n"
    "      |            ^\n")

ERR(parse_empty_file,
    "# nothing here\n",
    "t.nn:1:1: error: the file has no model\n"
    "    1 | # nothing here\n"
    "      | ^\n")

ERR(parse_no_model_line,
    "input x [4]\n"
    "model m\n"
    "input y [4]\n"
    "output y\n",
    "t.nn:1:1: error: expected 'model NAME' before the first statement\n"
    "    1 | input x [4]\n"
    "      | ^~~~~\n"
    "  hint: a .nn file starts with a line like: model mnist\n")

ERR(parse_model_name,
    "model\n"
    "input x [4]\n"
    "output x\n",
    "t.nn:1:6: error: expected the model's name, found the end of the line\n"
    "    1 | model\n"
    "      |      ^\n")

ERR(parse_input_name,
    "model m\n"
    "input [4]\n",
    "t.nn:2:7: error: expected the input's name, found '['\n"
    "    2 | input [4]\n"
    "      |       ^\n")

ERR(parse_input_shape,
    "model m\n"
    "input x 4\n",
    "t.nn:2:9: error: expected the shape of one sample, e.g. [1, 28, 28], found the number 4\n"
    "    2 | input x 4\n"
    "      |         ^\n")

ERR(parse_input_rank,
    "model m\n"
    "input x []\n",
    "t.nn:2:9: error: an input has 1 to 7 dimensions, not 0\n"
    "    2 | input x []\n"
    "      |         ^\n")

ERR(parse_input_dimension,
    "model m\n"
    "input x [28, 0]\n",
    "t.nn:2:14: error: a dimension is an integer from 1 to 1073741824\n"
    "    2 | input x [28, 0]\n"
    "      |              ^\n"
    "  hint: give one sample's shape; the batch dimension is added\n")

ERR(parse_list_unclosed,
    "model m\n"
    "input x [4, 4\n"
    "output x\n",
    "t.nn:2:14: error: expected ',' or ']' in the list, found the end of the line\n"
    "    2 | input x [4, 4\n"
    "      |              ^\n"
    "t.nn:2:9: note: the list starts here\n"
    "    2 | input x [4, 4\n"
    "      |         ^\n")

ERR(parse_call_unclosed,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, 3\n"
    "output y\n",
    "t.nn:3:15: error: expected ',' or ')' in the call to 'dense', found the end of the line\n"
    "    3 | y = dense(x, 3\n"
    "      |               ^\n"
    "t.nn:3:10: note: the call opens here\n"
    "    3 | y = dense(x, 3\n"
    "      |          ^\n")

ERR(parse_value_expected,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, =)\n"
    "output y\n",
    "t.nn:3:14: error: expected a value, found '='\n"
    "    3 | y = dense(x, =)\n"
    "      |              ^\n")

ERR(parse_minus,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, -relu)\n"
    "output y\n",
    "t.nn:3:15: error: expected a number after '-', found 'relu'\n"
    "    3 | y = dense(x, -relu)\n"
    "      |               ^~~~\n")

ERR(parse_nesting,
    "model m\n"
    "input x [4]\n"
    "y = reshape(x, [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])\n"
    "output y\n",
    "t.nn:3:48: error: values nest more than 32 deep\n"
    "    3 | y = reshape(x, [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]])\n"
    "      |                                                ^\n")

ERR(parse_end_of_statement,
    "model m\n"
    "input x [4]\n"
    "output x y\n",
    "t.nn:3:10: error: expected the end of the line after the output list, found 'y'\n"
    "    3 | output x y\n"
    "      |          ^\n")

ERR(parse_layer_call_expected,
    "model m\n"
    "input x [4]\n"
    "y = x\n"
    "output y\n",
    "t.nn:3:5: error: expected a layer call like dense(x, 10) after '=', found 'x'\n"
    "    3 | y = x\n"
    "      |     ^\n")

ERR(parse_seed_assignment,
    "model m\n"
    "input x [4]\n"
    "seed = 3\n"
    "output x\n",
    "t.nn:3:8: error: expected a layer call like dense(x, 10) after '=', found the number 3\n"
    "    3 | seed = 3\n"
    "      |        ^\n"
    "  hint: a seed is set with 'seed N' on its own line, or seed = N in train { }\n")

ERR(parse_layer_without_name,
    "model m\n"
    "input x [4]\n"
    "dense(x, 3)\n"
    "output x\n",
    "t.nn:3:1: error: a layer needs a name\n"
    "    3 | dense(x, 3)\n"
    "      | ^~~~~\n"
    "  hint: write NAME = dense(...)\n")

ERR(parse_statement_expected,
    "model m\n"
    "input x [4]\n"
    "[4]\n"
    "output x\n",
    "t.nn:3:1: error: expected a statement (input, output, train { }, or NAME = layer(...)), found '['\n"
    "    3 | [4]\n"
    "      | ^\n")

ERR(parse_output_name,
    "model m\n"
    "input x [4]\n"
    "output 4\n",
    "t.nn:3:8: error: expected the name of a layer or input, found the number 4\n"
    "    3 | output 4\n"
    "      |        ^\n")

ERR(parse_seed_value,
    "model m\n"
    "input x [4]\n"
    "seed -1\n"
    "output x\n",
    "t.nn:3:6: error: the seed is an integer from 0 to 9223372036854775807\n"
    "    3 | seed -1\n"
    "      |      ^\n")

ERR(parse_file_seed_twice,
    "seed 1\n"
    "seed 2\n"
    "model m\n"
    "input x [4]\n"
    "output x\n",
    "t.nn:2:1: error: the seed is set twice\n"
    "    2 | seed 2\n"
    "      | ^~~~\n"
    "t.nn:1:1: note: it is first set here\n"
    "    1 | seed 1\n"
    "      | ^~~~\n")

ERR(parse_train_brace,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train epochs = 3\n",
    "t.nn:4:7: error: expected '{' after 'train', found 'epochs'\n"
    "    4 | train epochs = 3\n"
    "      |       ^~~~~~\n")

ERR(parse_train_unclosed,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  epochs = 3\n",
    "t.nn:4:7: error: the train block is not closed\n"
    "    4 | train {\n"
    "      |       ^\n"
    "  hint: end it with '}'\n")

ERR(parse_train_setting,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  3\n"
    "}\n",
    "t.nn:5:3: error: expected a setting like epochs = 10, found the number 3\n"
    "    5 |   3\n"
    "      |   ^\n")

ERR(parse_train_end_of_setting,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  epochs = 3 4\n"
    "}\n",
    "t.nn:5:14: error: expected the end of the line after the setting, found the number 4\n"
    "    5 |   epochs = 3 4\n"
    "      |              ^\n")

ERR(parse_second_train,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  epochs = 3\n"
    "}\n"
    "train {\n"
    "  batch = 8\n"
    "}\n",
    "t.nn:7:1: error: model 'm' has a second train block\n"
    "    7 | train {\n"
    "      | ^~~~~\n"
    "t.nn:4:1: note: the first one is here\n"
    "    4 | train {\n"
    "      | ^~~~~\n")

ERR(bind_unknown_option_typo,
    "model m\n"
    "input img [3, 8, 8]\n"
    "c = conv2d(img, 8, kernal=3)\n"
    "output c\n",
    "t.nn:3:20: error: conv2d has no option 'kernal'\n"
    "    3 | c = conv2d(img, 8, kernal=3)\n"
    "      |                    ^~~~~~\n"
    "  hint: did you mean 'kernel'?\n")

ERR(bind_unknown_option,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, 3, foo=1)\n"
    "output y\n",
    "t.nn:3:17: error: dense has no option 'foo'\n"
    "    3 | y = dense(x, 3, foo=1)\n"
    "      |                 ^~~\n"
    "  hint: its options are activation, bias, init\n")

ERR(bind_no_options,
    "model m\n"
    "input x [4]\n"
    "y = flatten(x, foo=1)\n"
    "output y\n",
    "t.nn:3:16: error: flatten has no option 'foo'\n"
    "    3 | y = flatten(x, foo=1)\n"
    "      |                ^~~\n"
    "  hint: it takes no options: flatten(x)\n")

ERR(bind_given_twice,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, 3, units=4)\n"
    "output y\n",
    "t.nn:3:17: error: 'units' is given twice\n"
    "    3 | y = dense(x, 3, units=4)\n"
    "      |                 ^~~~~\n")

ERR(bind_positional_after_named,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, units=3, relu)\n"
    "output y\n",
    "t.nn:3:23: error: a positional argument cannot follow named ones\n"
    "    3 | y = dense(x, units=3, relu)\n"
    "      |                       ^~~~\n"
    "  hint: give it by name too: NAME=VALUE\n")

ERR(bind_too_many_positional,
    "model m\n"
    "input img [3, 8, 8]\n"
    "c = conv2d(img, 8, 3)\n"
    "output c\n",
    "t.nn:3:20: error: conv2d takes 2 positional arguments: conv2d(x, filters)\n"
    "    3 | c = conv2d(img, 8, 3)\n"
    "      |                    ^\n"
    "  hint: give the others by name, e.g. kernel=...\n")

ERR(bind_missing,
    "model m\n"
    "input x [4]\n"
    "y = dense(x)\n"
    "output y\n",
    "t.nn:3:5: error: dense needs 'units'\n"
    "    3 | y = dense(x)\n"
    "      |     ^~~~~\n"
    "  hint: write dense(x, units)\n")

ERR(bind_wrong_type,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, \"ten\")\n"
    "output y\n",
    "t.nn:3:14: error: 'units' of dense wants an integer; got a string\n"
    "    3 | y = dense(x, \"ten\")\n"
    "      |              ^~~~~\n")

ERR(bind_nested_layer,
    "model m\n"
    "input x [4]\n"
    "y = dense(relu(x), 3)\n"
    "output y\n",
    "t.nn:3:11: error: 'x' of dense wants the name of an earlier layer or input; got a call to 'relu'\n"
    "    3 | y = dense(relu(x), 3)\n"
    "      |           ^~~~\n"
    "  hint: layers do not nest: give relu(...) its own line, NAME = relu(...), and pass NAME\n")

ERR(bind_list_wanted,
    "model m\n"
    "input x [4]\n"
    "y = add(x, x)\n"
    "output y\n",
    "t.nn:3:9: error: 'inputs' of add wants a list of layer names, e.g. [a, b]; got 'x'\n"
    "    3 | y = add(x, x)\n"
    "      |         ^\n"
    "  hint: write add([x, ...])\n"
    "t.nn:3:12: error: add takes 1 positional argument: add(inputs)\n"
    "    3 | y = add(x, x)\n"
    "      |            ^\n")

ERR(bind_one_input,
    "model m\n"
    "input x [4]\n"
    "y = dense([x, x], 3)\n"
    "output y\n",
    "t.nn:3:11: error: 'x' of dense wants the name of an earlier layer or input; got a list\n"
    "    3 | y = dense([x, x], 3)\n"
    "      |           ^\n"
    "  hint: dense takes one input; concat([...]) joins several\n")

ERR(bind_list_item,
    "model m\n"
    "input x [4]\n"
    "y = concat([x, 3])\n"
    "output y\n",
    "t.nn:3:16: error: 'inputs' of concat wants a list of layer names, e.g. [a, b]; this item is the number 3\n"
    "    3 | y = concat([x, 3])\n"
    "      |                ^\n")

ERR(bind_at_least_one,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, 0)\n"
    "output y\n",
    "t.nn:3:14: error: 'units' must be at least 1; got the number 0\n"
    "    3 | y = dense(x, 0)\n"
    "      |              ^\n")

ERR(bind_positive,
    "model m\n"
    "input x [4]\n"
    "y = batchnorm(x, epsilon=0)\n"
    "output y\n",
    "t.nn:3:26: error: 'epsilon' must be positive; got the number 0\n"
    "    3 | y = batchnorm(x, epsilon=0)\n"
    "      |                          ^\n")

ERR(bind_not_negative,
    "model m\n"
    "input x [4]\n"
    "y = leaky_relu(x, -1)\n"
    "output y\n",
    "t.nn:3:19: error: 'alpha' must not be negative; got the number -1\n"
    "    3 | y = leaky_relu(x, -1)\n"
    "      |                   ^~\n")

ERR(bind_fraction,
    "model m\n"
    "input x [4]\n"
    "y = dropout(x, 1.5)\n"
    "output y\n",
    "t.nn:3:16: error: 'rate' must be at least 0 and below 1; got the number 1.5\n"
    "    3 | y = dropout(x, 1.5)\n"
    "      |                ^~~\n")

ERR(bind_too_large,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, 2000000000)\n"
    "output y\n",
    "t.nn:3:14: error: 'units' is too large (at most 1073741824); got 2000000000\n"
    "    3 | y = dense(x, 2000000000)\n"
    "      |              ^~~~~~~~~~\n")

ERR(bind_seed_range,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  seed = -1\n"
    "}\n",
    "t.nn:5:10: error: 'seed' is an integer from 0 to 9223372036854775807; got the number -1\n"
    "    5 |   seed = -1\n"
    "      |          ^~\n")

ERR(bind_choice,
    "model m\n"
    "input x [2, 4]\n"
    "u = upsample1d(x, mode=cubic)\n"
    "output u\n",
    "t.nn:3:24: error: 'mode' of upsample1d wants one of nearest/linear/bilinear; got 'cubic'\n"
    "    3 | u = upsample1d(x, mode=cubic)\n"
    "      |                        ^~~~~\n")

ERR(bind_unknown_activation,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, 3, activation=rellu)\n"
    "output y\n",
    "t.nn:3:28: error: unknown activation 'rellu'\n"
    "    3 | y = dense(x, 3, activation=rellu)\n"
    "      |                            ^~~~~\n"
    "  hint: did you mean 'relu'?\n")

ERR(bind_unknown_initialiser,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, 3, init=he)\n"
    "output y\n",
    "t.nn:3:22: error: unknown initialiser 'he'\n"
    "    3 | y = dense(x, 3, init=he)\n"
    "      |                      ^~\n")

ERR(bind_shape_rank,
    "model m\n"
    "input x [4]\n"
    "y = reshape(x, [])\n"
    "output y\n",
    "t.nn:3:16: error: 'shape' has 0 dimensions; 1 to 7 are allowed\n"
    "    3 | y = reshape(x, [])\n"
    "      |                ^\n")

ERR(bind_shape_two_wildcards,
    "model m\n"
    "input x [4]\n"
    "y = reshape(x, [-1, -1])\n"
    "output y\n",
    "t.nn:3:21: error: only one dimension of 'shape' may be -1\n"
    "    3 | y = reshape(x, [-1, -1])\n"
    "      |                     ^~\n")

ERR(bind_shape_dimension,
    "model m\n"
    "input x [4]\n"
    "y = reshape(x, [0, 4])\n"
    "output y\n",
    "t.nn:3:17: error: a dimension is an integer from 1 to 1073741824, or -1 for 'the rest'\n"
    "    3 | y = reshape(x, [0, 4])\n"
    "      |                 ^\n")

ERR(bind_ints_length,
    "model m\n"
    "input img [3, 8, 8]\n"
    "c = conv2d(img, 8, kernel=[3, 3, 3])\n"
    "output c\n",
    "t.nn:3:27: error: 'kernel' has 3 values; conv2d wants one integer or a list of 2\n"
    "    3 | c = conv2d(img, 8, kernel=[3, 3, 3])\n"
    "      |                           ^\n")

ERR(bind_sides_length,
    "model m\n"
    "input img [3, 8, 8]\n"
    "p = zero_pad2d(img, [1, 2, 3])\n"
    "output p\n",
    "t.nn:3:21: error: 'pads' has 3 values; zero_pad2d wants one integer or a list of 2 or 4\n"
    "    3 | p = zero_pad2d(img, [1, 2, 3])\n"
    "      |                     ^\n"
    "  hint: a list of 2 gives both sides of each axis; 4 give [begin, end] of each axis in turn\n")

ERR(lower_unknown_layer,
    "model m\n"
    "input x [4]\n"
    "y = denes(x, 3)\n"
    "output y\n",
    "t.nn:3:5: error: unknown layer 'denes'\n"
    "    3 | y = denes(x, 3)\n"
    "      |     ^~~~~\n"
    "  hint: did you mean 'dense'?\n")

ERR(lower_not_defined,
    "model m\n"
    "input x [4]\n"
    "y = dense(x2, 3)\n"
    "output y\n",
    "t.nn:3:11: error: 'x2' is not defined\n"
    "    3 | y = dense(x2, 3)\n"
    "      |           ^~\n"
    "  hint: did you mean 'x'?\n")

ERR(lower_defined_later,
    "model m\n"
    "input x [4]\n"
    "y = dense(z, 3)\n"
    "z = relu(x)\n"
    "output y\n",
    "t.nn:3:11: error: 'z' is defined later, at line 4\n"
    "    3 | y = dense(z, 3)\n"
    "      |           ^\n"
    "  hint: a layer can only use inputs and layers above it\n")

ERR(lower_own_output,
    "model m\n"
    "input x [4]\n"
    "y = relu(y)\n"
    "output y\n",
    "t.nn:3:10: error: 'y' cannot take its own output as input\n"
    "    3 | y = relu(y)\n"
    "      |          ^\n"
    "  hint: give this layer a new name\n")

ERR(lower_defined_twice,
    "model m\n"
    "input x [4]\n"
    "y = relu(x)\n"
    "y = sigmoid(x)\n"
    "output y\n",
    "t.nn:4:1: error: 'y' is already defined\n"
    "    4 | y = sigmoid(x)\n"
    "      | ^\n"
    "t.nn:3:1: note: the first definition is here\n"
    "    3 | y = relu(x)\n"
    "      | ^\n")

ERR(lower_integer_input,
    "model m\n"
    "input t [4] int64\n"
    "y = dense(t, 3)\n"
    "output y\n",
    "t.nn:3:11: error: dense 'y' wants float32 values; 't' holds int64\n"
    "    3 | y = dense(t, 3)\n"
    "      |           ^\n"
    "  hint: integer inputs are token ids: an embedding layer turns them into vectors\n")

ERR(lower_element_type,
    "model m\n"
    "input x [4] float16\n"
    "output x\n",
    "t.nn:2:13: error: unknown element type 'float16'\n"
    "    2 | input x [4] float16\n"
    "      |             ^~~~~~~\n"
    "  hint: an input holds float32 (the default), int32 or int64\n")

ERR(lower_input_too_large,
    "model m\n"
    "input x [1073741824, 1073741824]\n"
    "output x\n",
    "t.nn:2:7: error: input 'x' holds more than 2^40 values\n"
    "    2 | input x [1073741824, 1073741824]\n"
    "      |       ^\n")

ERR(lower_no_output,
    "model m\n"
    "input x [4]\n"
    "y = relu(x)\n",
    "t.nn:1:7: error: model 'm' has no output\n"
    "    1 | model m\n"
    "      |       ^\n"
    "  hint: add a line: output y\n")

ERR(lower_output_not_defined,
    "model m\n"
    "input x [4]\n"
    "y = relu(x)\n"
    "output z\n",
    "t.nn:4:8: error: 'z' is not defined\n"
    "    4 | output z\n"
    "      |        ^\n")

ERR(lower_output_twice,
    "model m\n"
    "input x [4]\n"
    "y = relu(x)\n"
    "output y, y\n",
    "t.nn:4:11: error: 'y' is already an output\n"
    "    4 | output y, y\n"
    "      |           ^\n")

ERR(lower_no_input,
    "model m\n"
    "output x\n",
    "t.nn:1:7: error: model 'm' has no input\n"
    "    1 | model m\n"
    "      |       ^\n"
    "  hint: declare one, e.g. input x [784]\n"
    "t.nn:2:8: error: 'x' is not defined\n"
    "    2 | output x\n"
    "      |        ^\n")

ERR(lower_model_twice,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "model m\n"
    "input y [2]\n"
    "output y\n",
    "t.nn:4:7: error: model 'm' is defined twice\n"
    "    4 | model m\n"
    "      |       ^\n"
    "t.nn:1:7: note: the first definition is here\n"
    "    1 | model m\n"
    "      |       ^\n")

ERR(lower_seed_twice,
    "model m\n"
    "input x [4]\n"
    "seed 1\n"
    "seed 2\n"
    "output x\n",
    "t.nn:4:1: error: the seed is set twice\n"
    "    4 | seed 2\n"
    "      | ^~~~\n"
    "t.nn:3:1: note: it is first set here\n"
    "    3 | seed 1\n"
    "      | ^~~~\n")

ERR(lower_seed_and_train_seed,
    "model m\n"
    "input x [4]\n"
    "seed 1\n"
    "output x\n"
    "train {\n"
    "  seed = 2\n"
    "}\n",
    "t.nn:3:1: error: the seed is set both here and in the train block\n"
    "    3 | seed 1\n"
    "      | ^~~~\n"
    "t.nn:5:1: note: the train block\n"
    "    5 | train {\n"
    "      | ^~~~~\n")

ERR(lower_weight_limit,
    "model m\n"
    "input x [16384]\n"
    "y = dense(x, 32768)\n"
    "output y\n",
    "t.nn:3:5: error: dense 'y' takes the model past 268435456 weights, nncc's limit\n"
    "    3 | y = dense(x, 32768)\n"
    "      |     ^~~~~\n")

ERR(lower_tensor_too_large,
    "model m\n"
    "input x [1, 1048576, 1048576]\n"
    "u = upsample2d(x, 2)\n"
    "output u\n",
    "t.nn:3:5: error: upsample2d 'u' would make [1, 2097152, 2097152], over nncc's limit of 2^40 values\n"
    "    3 | u = upsample2d(x, 2)\n"
    "      |     ^~~~~~~~~~\n")

ERR(shape_conv_on_vector,
    "model m\n"
    "input x [784]\n"
    "c = conv2d(x, 6, kernel=5)\n"
    "output c\n",
    "t.nn:3:12: error: conv2d 'c' wants a [channels, height, width] input; 'x' is [784]\n"
    "    3 | c = conv2d(x, 6, kernel=5)\n"
    "      |            ^\n"
    "  hint: reshape it first, e.g. x2 = reshape(x, [1, 28, 28])\n")

ERR(shape_dense_on_image,
    "model m\n"
    "input img [3, 8, 8]\n"
    "d = dense(img, 10)\n"
    "output d\n",
    "t.nn:3:11: error: dense 'd' wants a [features] (or [steps, features]) input; 'img' is [3, 8, 8]\n"
    "    3 | d = dense(img, 10)\n"
    "      |           ^~~\n"
    "  hint: flatten it first: img_flat = flatten(img)\n")

ERR(shape_lstm_on_vector,
    "model m\n"
    "input x [784]\n"
    "r = lstm(x, 32)\n"
    "output r\n",
    "t.nn:3:10: error: lstm 'r' wants a [steps, features] input; 'x' is [784]\n"
    "    3 | r = lstm(x, 32)\n"
    "      |          ^\n"
    "  hint: reshape it first, e.g. x2 = reshape(x, [28, 28])\n")

ERR(shape_conv_window,
    "model m\n"
    "input img [3, 8, 8]\n"
    "c = conv2d(img, 4, kernel=9)\n"
    "output c\n",
    "t.nn:3:12: error: conv2d 'c': its 9x9 window does not fit in 'img', which is 8x8\n"
    "    3 | c = conv2d(img, 4, kernel=9)\n"
    "      |            ^~~\n"
    "  hint: use padding=same, a smaller kernel, or less downsampling before it\n")

ERR(shape_conv_transpose_padding,
    "model m\n"
    "input img [3, 8, 8]\n"
    "t = conv2d_transpose(img, 4, kernel=1, padding=4)\n"
    "output t\n",
    "t.nn:3:48: error: conv2d_transpose 't': the padding removes the whole output\n"
    "    3 | t = conv2d_transpose(img, 4, kernel=1, padding=4)\n"
    "      |                                                ^\n")

ERR(shape_output_padding,
    "model m\n"
    "input img [3, 8, 8]\n"
    "t = conv2d_transpose(img, 4, stride=2, output_padding=2)\n"
    "output t\n",
    "t.nn:3:55: error: 'output_padding' must be smaller than the stride or the dilation\n"
    "    3 | t = conv2d_transpose(img, 4, stride=2, output_padding=2)\n"
    "      |                                                       ^\n")

ERR(shape_groups,
    "model m\n"
    "input img [3, 8, 8]\n"
    "c = conv2d(img, 4, groups=2)\n"
    "output c\n",
    "t.nn:3:27: error: conv2d 'c': groups (2) must divide both the 3 input channels and the 4 filters\n"
    "    3 | c = conv2d(img, 4, groups=2)\n"
    "      |                           ^\n")

ERR(shape_pool_window,
    "model m\n"
    "input img [3, 8, 8]\n"
    "p = maxpool2d(img, 16)\n"
    "output p\n",
    "t.nn:3:15: error: maxpool2d 'p': its 16x16 window does not fit in 'img', which is 8x8\n"
    "    3 | p = maxpool2d(img, 16)\n"
    "      |               ^~~\n"
    "  hint: use a smaller window, padding=same, or less downsampling before it\n")

ERR(shape_pool_padding,
    "model m\n"
    "input img [3, 8, 8]\n"
    "p = maxpool2d(img, 2, padding=2)\n"
    "output p\n",
    "t.nn:3:31: error: maxpool2d 'p': padding must be smaller than the window (2x2)\n"
    "    3 | p = maxpool2d(img, 2, padding=2)\n"
    "      |                               ^\n")

ERR(shape_crop,
    "model m\n"
    "input img [3, 8, 8]\n"
    "c = crop2d(img, [4, 4, 0, 0])\n"
    "output c\n",
    "t.nn:3:17: error: crop2d 'c': crops of 4 and 4 leave nothing of axis 1 of 'img' (size 8)\n"
    "    3 | c = crop2d(img, [4, 4, 0, 0])\n"
    "      |                 ^\n")

ERR(shape_reshape,
    "model m\n"
    "input x [784]\n"
    "r = reshape(x, [1, 28, 27])\n"
    "output r\n",
    "t.nn:3:16: error: reshape 'r': 'x' is [784], 784 values, which [1, 28, 27] cannot hold\n"
    "    3 | r = reshape(x, [1, 28, 27])\n"
    "      |                ^\n"
    "  hint: the shape is one sample's; the batch dimension is kept as it is\n")

ERR(shape_concat_one_input,
    "model m\n"
    "input x [4]\n"
    "c = concat([x])\n"
    "output c\n",
    "t.nn:3:12: error: concat 'c' needs at least two inputs\n"
    "    3 | c = concat([x])\n"
    "      |            ^\n")

ERR(shape_concat_axis,
    "model m\n"
    "input x [4]\n"
    "c = concat([x, x], axis=1)\n"
    "output c\n",
    "t.nn:3:25: error: concat 'c': axis 1 is out of range for [4] (axes 0 to 0, or -1 to -1)\n"
    "    3 | c = concat([x, x], axis=1)\n"
    "      |                         ^\n")

ERR(shape_concat_mismatch,
    "model m\n"
    "input img [3, 8, 8]\n"
    "p = maxpool2d(img, 2)\n"
    "c = concat([img, p])\n"
    "output c\n",
    "t.nn:4:18: error: concat 'c' joins along axis 0, but 'img' is [3, 8, 8] and 'p' is [3, 4, 4]\n"
    "    4 | c = concat([img, p])\n"
    "      |                  ^\n"
    "  hint: every axis but 0 must match: upsample, pool or crop one of them\n")

ERR(shape_add_mismatch,
    "model m\n"
    "input img [3, 8, 8]\n"
    "c = conv2d(img, 6, stride=2, padding=same)\n"
    "s = add([c, img])\n"
    "output s\n",
    "t.nn:4:13: error: add 's' needs inputs of one shape; 'c' is [6, 4, 4] but 'img' is [3, 8, 8]\n"
    "    4 | s = add([c, img])\n"
    "      |             ^~~\n"
    "  hint: project the shortcut with a 1x1 convolution first, e.g. conv2d(img, 6, kernel=1, stride=2)\n")

ERR(shape_upsample_factor,
    "model m\n"
    "input x [1, 4]\n"
    "u = upsample1d(x, 20000000)\n"
    "output u\n",
    "t.nn:3:19: error: upsample1d 'u': a factor is at most 16777216, not 20000000\n"
    "    3 | u = upsample1d(x, 20000000)\n"
    "      |                   ^~~~~~~~\n")

ERR(shape_softmax_axis,
    "model m\n"
    "input x [4]\n"
    "s = softmax(x, axis=1)\n"
    "output s\n",
    "t.nn:3:21: error: softmax 's': axis 1 is out of range for [4] (axes 0 to 0, or -1 to -1)\n"
    "    3 | s = softmax(x, axis=1)\n"
    "      |                     ^\n")

ERR(shape_softmax_option_axis,
    "model m\n"
    "input x [4]\n"
    "d = dense(x, 3, activation=softmax(axis=2))\n"
    "output d\n",
    "t.nn:3:41: error: dense 'd': softmax axis 2 is out of range for [3] (axes 0 to 0, or -1 to -1)\n"
    "    3 | d = dense(x, 3, activation=softmax(axis=2))\n"
    "      |                                         ^\n")

ERR(shape_embedding_float,
    "model m\n"
    "input x [4]\n"
    "e = embedding(x, 100, 8)\n"
    "output e\n",
    "t.nn:3:15: error: embedding 'e' wants integer ids; 'x' holds float32\n"
    "    3 | e = embedding(x, 100, 8)\n"
    "      |               ^\n"
    "  hint: declare the input with its type, e.g. input tokens [20] int64\n")

ERR(shape_embedding_rank,
    "model m\n"
    "input t [1, 1, 1, 1, 1, 1, 1] int64\n"
    "e = embedding(t, 10, 4)\n"
    "output e\n",
    "t.nn:3:15: error: embedding 'e' would make a tensor of more than 7 axes\n"
    "    3 | e = embedding(t, 10, 4)\n"
    "      |               ^\n")

ERR(shape_primary_capsules_kernel,
    "model m\n"
    "input img [1, 8, 8]\n"
    "p = primary_capsules(img, 32, 8)\n"
    "output p\n",
    "t.nn:3:22: error: primary_capsules 'p': its 9x9 kernel does not fit in 'img', which is [1, 8, 8]\n"
    "    3 | p = primary_capsules(img, 32, 8)\n"
    "      |                      ^~~\n")

ERR(shape_capsules_on_image,
    "model m\n"
    "input img [1, 28, 28]\n"
    "c = capsules(img, 10, 16)\n"
    "output c\n",
    "t.nn:3:14: error: capsules 'c' wants a [capsules, dim] input; 'img' is [1, 28, 28]\n"
    "    3 | c = capsules(img, 10, 16)\n"
    "      |              ^~~\n")

ERR(shape_capsule_length_on_vector,
    "model m\n"
    "input v [16]\n"
    "n = capsule_length(v)\n"
    "output n\n",
    "t.nn:3:20: error: capsule_length 'n' wants a [capsules, dim] input; 'v' is [16]\n"
    "    3 | n = capsule_length(v)\n"
    "      |                    ^\n"
    "  hint: reshape it first, e.g. v2 = reshape(v, [1, 16])\n")

ERR(shape_capsule_mask_on_image,
    "model m\n"
    "input img [1, 4, 4]\n"
    "k = capsule_mask(img)\n"
    "output k\n",
    "t.nn:3:18: error: capsule_mask 'k' wants a [capsules, dim] input; 'img' is [1, 4, 4]\n"
    "    3 | k = capsule_mask(img)\n"
    "      |                  ^~~\n")

ERR(shape_recurrent_merge_one_direction,
    "model m\n"
    "input s [10, 8]\n"
    "r = lstm(s, 16, merge=sum)\n"
    "output r\n",
    "t.nn:3:23: error: lstm 'r': 'merge' joins the two directions, but the layer has one\n"
    "    3 | r = lstm(s, 16, merge=sum)\n"
    "      |                       ^~~\n"
    "  hint: add bidirectional=true, or drop 'merge'\n")

ERR(shape_recurrent_initial_state,
    "model m\n"
    "input s [10, 8]\n"
    "input h [16]\n"
    "r = gru(s, 16, bidirectional=true, initial_state=h)\n"
    "output r\n",
    "t.nn:4:50: error: gru 'r': its initial_state 'h' is [16]; it must be [32]\n"
    "    4 | r = gru(s, 16, bidirectional=true, initial_state=h)\n"
    "      |                                                  ^\n"
    "  hint: [dirs * units]: the forward state, then the backward one\n")

ERR(shape_recurrent_initial_state_stacked,
    "model m\n"
    "input s [10, 8]\n"
    "input c [16]\n"
    "r = lstm(s, 16, layers=2, initial_cell=c)\n"
    "output r\n",
    "t.nn:4:40: error: lstm 'r': its initial_cell 'c' is [16]; it must be [2, 16]\n"
    "    4 | r = lstm(s, 16, layers=2, initial_cell=c)\n"
    "      |                                        ^\n"
    "  hint: one row per stacked layer, each [dirs * units]: the forward state, then the backward one\n")

ERR(bind_initial_cell_not_lstm,
    "model m\n"
    "input s [10, 8]\n"
    "input c [16]\n"
    "r = gru(s, 16, initial_cell=c)\n"
    "output r\n",
    "t.nn:4:16: error: gru has no option 'initial_cell'\n"
    "    4 | r = gru(s, 16, initial_cell=c)\n"
    "      |                ^~~~~~~~~~~~\n"
    "  hint: its options are bidirectional, merge, layers, return_sequences, initial_state, init\n")

ERR(train_unknown_setting,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  epoch = 3\n"
    "}\n",
    "t.nn:5:3: error: train has no option 'epoch'\n"
    "    5 |   epoch = 3\n"
    "      |   ^~~~~\n"
    "  hint: did you mean 'epochs'?\n")

ERR(train_setting_twice,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  epochs = 3\n"
    "  epochs = 4\n"
    "}\n",
    "t.nn:6:3: error: 'epochs' is given twice\n"
    "    6 |   epochs = 4\n"
    "      |   ^~~~~~\n")

ERR(train_bare_call,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  adam(lr=0.01)\n"
    "}\n",
    "t.nn:5:3: error: 'adam(...)' on its own is not a setting\n"
    "    5 |   adam(lr=0.01)\n"
    "      |   ^~~~\n"
    "  hint: did you mean optimizer = adam(...)?\n")

ERR(train_bare_call_unknown,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  fit(3)\n"
    "}\n",
    "t.nn:5:3: error: 'fit(...)' on its own is not a setting\n"
    "    5 |   fit(3)\n"
    "      |   ^~~\n"
    "  hint: settings are written name = value, e.g. optimizer = adam(lr=0.001)\n")

ERR(train_unknown_optimizer,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  optimizer = adamm\n"
    "}\n",
    "t.nn:5:15: error: unknown optimizer 'adamm'\n"
    "    5 |   optimizer = adamm\n"
    "      |               ^~~~~\n"
    "  hint: did you mean 'adam'?\n")

ERR(train_loss_not_output,
    "model m\n"
    "input x [4]\n"
    "h = relu(x)\n"
    "y = dense(h, 2)\n"
    "output y\n"
    "train {\n"
    "  loss = mse(h)\n"
    "}\n",
    "t.nn:7:14: error: the loss is on 'h', which is not an output of model 'm'\n"
    "    7 |   loss = mse(h)\n"
    "      |              ^\n"
    "  hint: list it on the output line\n")

ERR(train_batch_with_sample,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, 2)\n"
    "output y\n"
    "train {\n"
    "  loss = mse(y)\n"
    "  update = sample\n"
    "  batch = 8\n"
    "}\n",
    "t.nn:8:3: error: batch = 8 contradicts update = sample (one sample per step)\n"
    "    8 |   batch = 8\n"
    "      |   ^~~~~\n"
    "  hint: drop the batch setting: update = sample trains on batches of 1\n")

ERR(train_loss_which_output,
    "model m\n"
    "input x [4]\n"
    "y = dense(x, 2)\n"
    "z = dense(x, 2)\n"
    "output y, z\n"
    "train {\n"
    "  loss = mse\n"
    "}\n",
    "t.nn:6:1: error: the model has 2 outputs: name the one the loss is for\n"
    "    6 | train {\n"
    "      | ^~~~~\n"
    "  hint: e.g. loss = cross_entropy(y)\n")

ERR(train_schedule_needs,
    "model m\n"
    "input x [4]\n"
    "output x\n"
    "train {\n"
    "  schedule = step\n"
    "}\n",
    "t.nn:5:14: error: step needs 'every'\n"
    "    5 |   schedule = step\n"
    "      |              ^~~~\n"
    "  hint: write step(every, gamma)\n")

Test(nn_errors, file_too_large) {
  size_t n = ((size_t)1 << 24) + 1;
  char *text = malloc(n);
  memset(text, '\n', n);
  expect(text, n,
         "t.nn:1:1: error: the file is over 16 MiB; a .nn file describes a network, not its data\n"
         "    1 | \n"
         "      | ^\n");
  free(text);
}

Test(nn_errors, too_many_errors_stop_the_run) {
  char *src = strdup("model m\n");
  for (int i = 0; i < 40; i++) {
    char line[64];
    snprintf(line, sizeof line, "y%d = dense(nothing, 3)\n", i);
    src = realloc(src, strlen(src) + strlen(line) + 1);
    strcat(src, line);
  }
  char *got = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&got, &len);
  mem_arena *mem = mem_new();
  int errors = 0;
  nn_load_options o = {.diag = f, .errors = &errors};
  cr_assert_null(nn_load_text("t.nn", src, strlen(src), mem, &o));
  fclose(f);
  cr_assert_eq(errors, 30, "the frontend stops at the limit");
  int printed = 0;
  for (const char *p = got; (p = strstr(p, ": error: ")); p++)
    printed++;
  cr_assert_eq(printed, 30);
  const char *last = "t.nn: too many errors; stopped\n";
  cr_assert_str_eq(got + strlen(got) - strlen(last), last);
  free(got);
  free(src);
  mem_free(mem);
}

/* ---- model calls (a GAN's models using each other) and --model ---- */

#define TWO_OUT "model d\ninput image [4]\na = relu(image)\nb = tanh(image)\noutput a, b\n"

ERR(call_model_itself,
    "model g\n"
    "input z [4]\n"
    "y = g(z)\n"
    "output y\n",
    "t.nn:3:5: error: model 'g' cannot use itself\n"
    "    3 | y = g(z)\n"
    "      |     ^\n"
    "  hint: a model can use the models above it\n")

ERR(call_model_defined_later,
    "model g\n"
    "input z [4]\n"
    "y = d(z)\n"
    "output y\n"
    "model d\n"
    "input image [4]\n"
    "r = relu(image)\n"
    "output r\n",
    "t.nn:3:5: error: model 'd' is defined later, at line 5\n"
    "    3 | y = d(z)\n"
    "      |     ^\n"
    "  hint: a model can use the models above it\n")

ERR(call_model_named_argument,
    TWO_OUT
    "model g\n"
    "input z [4]\n"
    "y = d(z, units=3)\n"
    "output y\n",
    "t.nn:8:10: error: a model call takes the names of its inputs, then out=NAME\n"
    "    8 | y = d(z, units=3)\n"
    "      |          ^~~~~\n"
    "  hint: e.g. y = d(image)\n")

ERR(call_model_input_count,
    TWO_OUT
    "model g\n"
    "input z [4]\n"
    "y = d(z, z, out=a)\n"
    "output y\n",
    "t.nn:8:5: error: model 'd' takes 1 input (image); the call gives 2\n"
    "    8 | y = d(z, z, out=a)\n"
    "      |     ^\n")

ERR(call_model_input_shape,
    TWO_OUT
    "model g\n"
    "input z [5]\n"
    "y = d(z, out=a)\n"
    "output y\n",
    "t.nn:8:7: error: model 'd' takes 'image' as [4]; 'z' is [5]\n"
    "    8 | y = d(z, out=a)\n"
    "      |       ^\n")

ERR(call_model_no_such_output,
    TWO_OUT
    "model g\n"
    "input z [4]\n"
    "y = d(z, out=c)\n"
    "output y\n",
    "t.nn:8:14: error: model 'd' has no output 'c'\n"
    "    8 | y = d(z, out=c)\n"
    "      |              ^\n"
    "  hint: its outputs are a, b\n")

ERR(call_model_which_output,
    TWO_OUT
    "model g\n"
    "input z [4]\n"
    "y = d(z)\n"
    "output y\n",
    "t.nn:8:5: error: model 'd' has 2 outputs: pick one with out=NAME\n"
    "    8 | y = d(z)\n"
    "      |     ^\n"
    "  hint: its outputs are a, b\n")

/* A called model's own mistakes are reported once, with it. */
ERR(call_model_with_errors_is_quiet,
    "model d\n"
    "input image [4]\n"
    "r = rellu(image)\n"
    "output r\n"
    "model g\n"
    "input z [4]\n"
    "y = d(z)\n"
    "w = relu(y)\n"
    "output w\n",
    "t.nn:3:5: error: unknown layer 'rellu'\n"
    "    3 | r = rellu(image)\n"
    "      |     ^~~~~\n"
    "  hint: did you mean 'relu'?\n")

/* Each model calls the one above twice: m_i has 2^i copies of m0's layer. */
Test(nn_errors, call_model_expansion_limit) {
  char src[4096] = "model m0\ninput x [2]\ny = relu(x)\noutput y\n";
  for (int i = 1; i <= 15; i++)
    snprintf(src + strlen(src), sizeof src - strlen(src),
             "model m%d\ninput x [2]\na = m%d(x)\nb = m%d(a)\noutput b\n", i, i - 1, i - 1);
  expect(src, strlen(src),
         "t.nn:72:1: error: the file expands to more than 16384 layers through its model calls\n"
         "   72 | a = m13(x)\n"
         "      | ^\n");
}

Test(nn_errors, model_option_names_no_model) {
  const char *src = "model g\ninput z [4]\noutput z\nmodel d\ninput x [4]\noutput x\n";
  char *got = NULL;
  size_t got_len = 0;
  FILE *f = open_memstream(&got, &got_len);
  mem_arena *mem = mem_new();
  nn_load_options o = {.diag = f, .model = "gen"};
  cr_assert_null(nn_load_text("t.nn", src, strlen(src), mem, &o));
  fclose(f);
  cr_assert_str_eq(got, "t.nn: error: --model gen: the file has no such model (its models: g, d)\n");
  free(got);
  mem_free(mem);
}
