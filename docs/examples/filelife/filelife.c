/* filelife: nothing to configure; the helper loads, attaches and forwards the records. */
#include "eunomia_bpf.h"

EUNOMIA_PLUGIN(NULL)
