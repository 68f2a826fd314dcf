/* Syscall number -> name for the architecture the plugin is built for (x86_64, arm64). */
#ifndef SYSCALL_NAMES_H
#define SYSCALL_NAMES_H

/* NULL for a number this table does not know. */
const char *syscall_name(unsigned nr);

#endif
