/* The reduction family (in progress). */
#include "common.h"

const op_def op_family_reduction[] = {
    {NULL},
};
