#include "eunomia/plugin.h"

const char *eunomia_status_name(eunomia_status status)
{
    switch (status) {
    case EUNOMIA_OK: return "EUNOMIA_OK";
    case EUNOMIA_ERR_INVALID_ARGUMENT: return "EUNOMIA_ERR_INVALID_ARGUMENT";
    case EUNOMIA_ERR_ABI: return "EUNOMIA_ERR_ABI";
    case EUNOMIA_ERR_UNSUPPORTED: return "EUNOMIA_ERR_UNSUPPORTED";
    case EUNOMIA_ERR_BPF: return "EUNOMIA_ERR_BPF";
    case EUNOMIA_ERR_NO_MEMORY: return "EUNOMIA_ERR_NO_MEMORY";
    case EUNOMIA_ERR_STATE: return "EUNOMIA_ERR_STATE";
    case EUNOMIA_ERR_INTERNAL: return "EUNOMIA_ERR_INTERNAL";
    default: return "EUNOMIA_ERR_UNKNOWN";
    }
}
