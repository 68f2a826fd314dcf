/* ptracesnoop plugin: everything is generic (eunomia_bpf.c). */
#include "eunomia_bpf.h"

EUNOMIA_BPF_PLUGIN("ptracesnoop", "0.1.0", NULL)
