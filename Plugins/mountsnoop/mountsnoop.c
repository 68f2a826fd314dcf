/* mountsnoop plugin: nothing of its own to configure; the generic part (eunomia_bpf.c) applies
 * the filters and skips the new mount API on kernels that lack it. */
#include "eunomia_bpf.h"

EUNOMIA_PLUGIN(NULL)
