/* ptracesnoop plugin: everything is generic (eunomia_bpf.c). */
#include "eunomia_bpf.h"

EUNOMIA_PLUGIN(NULL)
