/* The RegexFullMatch compiler (compiler/regex.c): full matches of the
 * syntax nncc accepts, as RE2 gives them (Python's re.fullmatch agrees except
 * where RE2 differs: \w is ASCII, "{,2}" is literal text), and a clear
 * refusal of the rest. */
#include <criterion/criterion.h>
#include <string.h>

#include "regex.h"

typedef struct rx_case {
  const char *pattern, *text;
  bool match;
} rx_case;

static const rx_case cases[] = {
    /* literals, concatenation, escapes */
    {"abc", "abc", true}, {"abc", "abcd", false}, {"abc", "ab", false}, {"", "", true},
    {"", "a", false}, {"a\\.b", "a.b", true}, {"a\\.b", "axb", false}, {"a.b", "axb", true},
    {"a.b", "a\nb", false}, {"\\x41\\x{42}", "AB", true}, {"\\t", "\t", true},
    {"a\\\\b", "a\\b", true}, {"\\(\\)", "()", true},
    /* UTF-8: `.` and classes take whole code points */
    {"..", "\xe7\x9a\x84\xe4\xb8\xad", true}, {".", "\xe7\x9a\x84\xe4\xb8\xad", false},
    {"[\xe4\xb8\xad]x", "\xe4\xb8\xadx", true}, {"\\W", "\xc3\xa9", true},
    /* classes */
    {"[abc]+", "abcabc", true}, {"[abc]+", "abd", false}, {"[^abc]", "d", true},
    {"[^abc]", "a", false}, {"[a-z0-9]*", "az09", true}, {"[a-z]", "A", false},
    {"[\\w.-]+", "a.b-c_9", true}, {"[\\w.-]+", "a b", false}, {"[]a]", "]", true},
    {"[a-]", "-", true}, {"[\\d\\s]+", "1 2\t3", true}, {"[\\W]", "a", false},
    {"\\w+", "hello_42", true}, {"\\W", "!", true}, {"\\d{3}", "123", true},
    {"\\D", "1", false}, {"\\s\\S", " x", true},
    /* alternation, groups */
    {"cat|dog", "dog", true}, {"cat|dog", "cow", false}, {"(yahoo|gmail)\\.com", "gmail.com", true},
    {"(?:ab)+", "ababab", true}, {"(?:ab)+", "aba", false}, {"a(b|)c", "ac", true},
    {"(a|ab)(c|bcd)", "abcd", true},
    /* repetition */
    {"a*", "", true}, {"a*", "aaaa", true}, {"a+", "", false}, {"a?b", "b", true},
    {"a{2}", "aa", true}, {"a{2}", "aaa", false}, {"a{2,}", "aaaaa", true}, {"a{2,}", "a", false},
    {"a{1,3}", "aaa", true}, {"a{1,3}", "aaaa", false}, {"a{0,2}b", "b", true},
    {"(ab){1,2}c", "ababc", true}, {"a*?b", "aab", true}, {"a{,2}", "a{,2}", true},
    {"(a*)*b", "aaab", true}, {"(a|b)*abb", "babaabb", true},
    /* anchors and word boundaries */
    {"^abc$", "abc", true}, {"a^b", "ab", false}, {"(\\W|^)x(\\W|$)", "x", true},
    {"(\\W|^)x(\\W|$)", " x!", true}, {"\\bcom\\b", "com", true}, {"a\\bb", "ab", false},
    {"a\\Bb", "ab", true}, {".\\b.", "a.", true},
    /* the suite's patterns */
    {"www\\.[\\w.-]+\\.\\bcom\\b", "www.google.com", true},
    {"www\\.[\\w.-]+\\.\\bcom\\b", "www.bbc.co.uk", false},
    {"(\\W|^)[\\w.\\-]{0,25}@(yahoo|gmail)\\.com(\\W|$)", "account@gmail.com", true},
    {"(\\W|^)[\\w.\\-]{0,25}@(yahoo|gmail)\\.com(\\W|$)", "account@hotmail.com", false},
    {"(\\W|^)[\\w.\\-]{0,25}@(yahoo|gmail)\\.com(\\W|$)", "not email", false},
};

Test(regex, full_matches) {
  mem_arena *mem = mem_new();
  char err[160];
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    rx_program p;
    cr_assert(rx_compile(cases[i].pattern, mem, &p, err, sizeof err), "'%s': %s",
              cases[i].pattern, err);
    cr_expect_eq(rx_full_match(&p, cases[i].text), cases[i].match, "'%s' on '%s': expected %s",
                 cases[i].pattern, cases[i].text, cases[i].match ? "a match" : "no match");
  }
  mem_free(mem);
}

Test(regex, refuses_unsupported_syntax) {
  static const struct { const char *pattern, *says; } bad[] = {
      {"(a", "missing ')'"},       {"a)", "unmatched ')'"},
      {"[ab", "missing ']'"},       {"*a", "nothing to repeat"},
      {"(?i)a", "group flags"},     {"(?P<n>a)", "group flags"},
      {"\\1", "unsupported escape '\\1'"}, {"\\pL", "unsupported escape '\\p'"},
      {"[[:alpha:]]", "POSIX"},     {"[z-a]", "out of order"},
      {"a{3,2}", "repeat count"},   {"a{2000}", "repeat count"},
      {"(a{1000}){1000}", "too large"}, {"\\xZZ", "\\x escape"},
  };
  mem_arena *mem = mem_new();
  char err[160];
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    rx_program p;
    err[0] = '\0';
    cr_expect_not(rx_compile(bad[i].pattern, mem, &p, err, sizeof err), "'%s' compiled",
                  bad[i].pattern);
    cr_expect(strstr(err, bad[i].says) != NULL, "'%s': message '%s' lacks '%s'", bad[i].pattern,
              err, bad[i].says);
    cr_expect(strstr(err, "at offset") != NULL, "'%s': message '%s' has no offset", bad[i].pattern, err);
  }
  mem_free(mem);
}

Test(regex, decodes_utf8) {
  int len;
  cr_expect_eq(rx_decode((const unsigned char *)"A", &len), 'A');
  cr_expect_eq(len, 1);
  cr_expect_eq(rx_decode((const unsigned char *)"\xc3\xa9", &len), 0xe9);
  cr_expect_eq(len, 2);
  cr_expect_eq(rx_decode((const unsigned char *)"\xe7\x9a\x84", &len), 0x7684);
  cr_expect_eq(len, 3);
  cr_expect_eq(rx_decode((const unsigned char *)"\xf0\x9f\x98\x80", &len), 0x1f600);
  cr_expect_eq(len, 4);
  cr_expect_eq(rx_decode((const unsigned char *)"\xc3(", &len), 0xc3); /* malformed: the byte */
  cr_expect_eq(len, 1);
  cr_expect_eq(rx_decode((const unsigned char *)"", &len), -1);
  cr_expect_eq(len, 0);
}
