/* Two error channels. User errors (bad model, unsupported feature) are
 * reported with their location and counted; the caller turns the count into
 * an exit status. Internal bugs abort through NN_BUG with __FILE__:__LINE__. */
#ifndef NNCC_DIAG_H
#define NNCC_DIAG_H

#include <stdnoreturn.h>

struct ir_node;

typedef enum { NN_OK = 0, NN_ERR = 1 } nn_status;

/* "nncc: error: FILE: message" */
nn_status diag_error(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "nncc: error: FILE: node 'NAME' (OP): message" */
nn_status diag_node(const char *path, const struct ir_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warn(const char *path, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void diag_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int diag_error_count(void);
void diag_reset(void);
/* Silences notes (warnings and errors always print). */
void diag_set_quiet(int quiet);

noreturn void diag_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void diag_bug(const char *file, int line, const char *msg);

#define NN_BUG(msg) diag_bug(__FILE__, __LINE__, msg)
#define NN_ASSERT(cond) ((cond) ? (void)0 : diag_bug(__FILE__, __LINE__, #cond))

#endif
