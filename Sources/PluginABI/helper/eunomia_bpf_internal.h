/* Shared between the helper's own source files; not part of the plugin-facing API. */
#ifndef EUNOMIA_BPF_INTERNAL_H
#define EUNOMIA_BPF_INTERNAL_H

#include "eunomia_bpf.h"

/* Take ownership of a link: destroyed at stop or destroy, with the auto-attached ones. */
eunomia_status eunomia_bpf_add_link_(struct eunomia_bpf *bpf, struct bpf_link *link);

/* True between create and start: constants may still be set and maps handed over. */
bool eunomia_bpf_created_(struct eunomia_bpf *bpf);

#endif
