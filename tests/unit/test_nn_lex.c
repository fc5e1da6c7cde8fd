/* The .nn lexer: token kinds, values, places, and what it skips. */
#include <criterion/criterion.h>

#include "nn_lex.h"

static mem_arena *mem;
static nn_source src;

static void setup(void) { mem = mem_new(); }
static void teardown(void) { mem_free(mem); }

TestSuite(nn_lex, .init = setup, .fini = teardown);

static nn_tokens lex(const char *text) {
  src = (nn_source){.path = "t.nn", .text = text, .len = (int)strlen(text),
                    .out = fopen("/dev/null", "w")};
  nn_tokens t = nn_lex(&src, mem);
  fclose(src.out);
  return t;
}

static void kinds(const nn_tokens *t, const nn_tok_kind *want, int n) {
  cr_assert_eq(t->n, n, "got %d tokens, want %d", t->n, n);
  for (int i = 0; i < n; i++)
    cr_assert_eq(t->t[i].kind, want[i], "token %d is kind %d, want %d", i, t->t[i].kind, want[i]);
}

Test(nn_lex, a_layer_line) {
  nn_tokens t = lex("c1 = conv2d(x, 6, kernel=[5, 5])");
  nn_tok_kind want[] = {NN_T_IDENT, NN_T_EQ, NN_T_IDENT, NN_T_LPAREN, NN_T_IDENT, NN_T_COMMA,
                        NN_T_INT, NN_T_COMMA, NN_T_IDENT, NN_T_EQ, NN_T_LBRACK, NN_T_INT,
                        NN_T_COMMA, NN_T_INT, NN_T_RBRACK, NN_T_RPAREN, NN_T_EOF};
  kinds(&t, want, 17);
  cr_assert_str_eq(t.t[2].s, "conv2d");
  cr_assert_eq(t.t[6].i, 6);
  cr_assert_eq(t.t[8].loc.line, 1);
  cr_assert_eq(t.t[8].loc.col, 19);
  cr_assert_eq(t.t[8].loc.len, 6);
  cr_assert_eq(src.errors, 0);
}

Test(nn_lex, keywords_and_identifiers) {
  nn_tokens t = lex("model input output train true false model_2 _x seed");
  nn_tok_kind want[] = {NN_T_MODEL, NN_T_INPUT, NN_T_OUTPUT, NN_T_TRAIN, NN_T_TRUE, NN_T_FALSE,
                        NN_T_IDENT, NN_T_IDENT, NN_T_IDENT, NN_T_EOF};
  kinds(&t, want, 10);
  cr_assert_str_eq(t.t[6].s, "model_2");
}

Test(nn_lex, numbers) {
  nn_tokens t = lex("64 1e-3 0.5 .25 2. 1E+2 -7");
  nn_tok_kind want[] = {NN_T_INT, NN_T_REAL, NN_T_REAL, NN_T_REAL, NN_T_REAL, NN_T_REAL,
                        NN_T_MINUS, NN_T_INT, NN_T_EOF};
  kinds(&t, want, 9);
  cr_assert_eq(t.t[0].i, 64);
  cr_assert_float_eq(t.t[1].f, 1e-3, 1e-12);
  cr_assert_float_eq(t.t[3].f, 0.25, 1e-12);
  cr_assert_float_eq(t.t[4].f, 2.0, 1e-12);
  cr_assert_float_eq(t.t[5].f, 100.0, 1e-12);
  cr_assert_eq(t.t[7].i, 7);
}

Test(nn_lex, strings_unescape) {
  nn_tokens t = lex("\"a\\\"b\\\\c\\n\"");
  cr_assert_eq(t.t[0].kind, NN_T_STRING);
  cr_assert_str_eq(t.t[0].s, "a\"b\\c\n");
  cr_assert_eq(src.errors, 0);
}

Test(nn_lex, blank_lines_and_comments_make_one_newline) {
  nn_tokens t = lex("a # one\n\n   # two\r\n\nb\n");
  nn_tok_kind want[] = {NN_T_IDENT, NN_T_NEWLINE, NN_T_IDENT, NN_T_NEWLINE, NN_T_EOF};
  kinds(&t, want, 5);
  cr_assert_eq(t.t[1].loc.line, 1);
  cr_assert_eq(t.t[1].loc.col, 8, "the newline sits at the end of its line");
  cr_assert_eq(t.t[2].loc.line, 5);
}

Test(nn_lex, columns_count_characters) {
  nn_tokens t = lex("\"\xc3\xa9t\xc3\xa9\" x");
  cr_assert_eq(t.t[1].loc.col, 7);
  cr_assert_eq(t.t[1].loc.pos, 8);
}

Test(nn_lex, errors_are_skipped_and_lexing_finishes) {
  nn_tokens t = lex("a ; b \x01 c \"open\nd 3x3 e");
  cr_assert_eq(src.errors, 4);
  nn_tok_kind want[] = {NN_T_IDENT, NN_T_IDENT, NN_T_IDENT, NN_T_STRING, NN_T_NEWLINE,
                        NN_T_IDENT, NN_T_INT, NN_T_IDENT, NN_T_EOF};
  kinds(&t, want, 9);
  cr_assert(t.t[6].bad, "a malformed number is marked");
  cr_assert_eq(t.t[6].i, 3, "and keeps its numeric prefix");
  cr_assert(t.bad_line[1] && t.bad_line[2]);
}

Test(nn_lex, eof_token_is_at_the_end) {
  nn_tokens t = lex("ab");
  cr_assert_eq(t.t[1].kind, NN_T_EOF);
  cr_assert_eq(t.t[1].loc.pos, 2);
  cr_assert_eq(t.t[1].loc.col, 3);
}

Test(nn_lex, token_descriptions) {
  nn_tokens t = lex("x ) 3 2.5 \"s\" model\n");
  cr_assert_str_eq(nn_tok_desc(mem, &t.t[0]), "'x'");
  cr_assert_str_eq(nn_tok_desc(mem, &t.t[1]), "')'");
  cr_assert_str_eq(nn_tok_desc(mem, &t.t[2]), "the number 3");
  cr_assert_str_eq(nn_tok_desc(mem, &t.t[3]), "the number 2.5");
  cr_assert_str_eq(nn_tok_desc(mem, &t.t[4]), "a string");
  cr_assert_str_eq(nn_tok_desc(mem, &t.t[5]), "the keyword 'model'");
  cr_assert_str_eq(nn_tok_desc(mem, &t.t[6]), "the end of the line");
  cr_assert_str_eq(nn_tok_desc(mem, &t.t[7]), "the end of the file");
}
