/* oomkill plugin: nothing of its own to configure; everything is generic (eunomia_bpf.c). */
#include "eunomia_bpf.h"

EUNOMIA_BPF_PLUGIN("oomkill", "0.1.0", NULL)
