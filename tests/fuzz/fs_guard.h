/* fs_guard.h — a count of the calls that may have changed a file tree
 * (fs_guard.c, linked with -Wl,--wrap of each): a harness compares it
 * before and after an input to know whether its tree needs rebuilding. */
#ifndef FERRY_FUZZ_FS_GUARD_H
#define FERRY_FUZZ_FS_GUARD_H

/* Calls made so far, by anyone in the process, that may change files. */
unsigned long fuzz_fs_changes(void);

#endif
