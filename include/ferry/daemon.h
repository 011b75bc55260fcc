/* daemon.h — becoming a daemon (detach, pidfile, priority) and reporting
 * start-up success or failure back to the shell that started us. */
#ifndef FERRY_DAEMON_H
#define FERRY_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ferry/config.h"

/* Detach into the background. The parent stays until the child calls
 * daemon_ready(), then exits with the status the child reported, so a
 * failed start (bad interface, unwritable log) still fails the command.
 * Returns 0 in the child, -1 on error (nothing forked). */
int daemon_detach(void);

/* Report the start-up result to the waiting parent (no-op in foreground). */
void daemon_ready(int exit_status);

int pidfile_write(const char *path);   /* 0 or -errno */
void pidfile_remove(const char *path);

int set_priority(int nice_value);      /* 0 or -errno */

/* ---- privdrop.c: who ferryd runs as ---- */
enum daemon_priv_mode {
	PRIV_UNPRIVILEGED,   /* not started as root: run as we are */
	PRIV_DROP,           /* root now, the service user after start-up */
	PRIV_STAY_ROOT,      /* --allow-root: stays root, warned at every start */
};
struct daemon_identity {
	enum daemon_priv_mode mode;
	uid_t uid;
	gid_t gid;
	char name[64];
};
/* Decides from cfg (user, group, allow_root) and the effective uid. 0, or
 * -1 with the reason in why (refuse to start). */
int daemon_privdrop_plan(const struct ferry_config *cfg, uid_t euid,
			 struct daemon_identity *id, char *why, size_t cap);
/* Becomes id for good (all threads), sets no_new_privs and checks that
 * root cannot be regained. 0 or -1 (logged): stop. */
int daemon_privdrop(const struct daemon_identity *id);

/* ---- sandbox.c: what the process may do after start-up ---- */
/* Landlock: file access only beneath the FTP roots and the log, transfer
 * log and pidfile paths. Per thread, so call it before any thread starts;
 * sets no_new_privs. 0, or -1 with a message logged (stop). */
int daemon_sandbox_files(const struct ferry_config *cfg);
/* seccomp-BPF allow-list on every thread (TSYNC). 0 or -1 (logged). */
int daemon_sandbox_syscalls(const struct ferry_config *cfg);

/* ---- safety.c: set-ups refused unless allow_unsafe ---- */
/* 0, or FERRY_EXIT_PARAM with err filled, naming the option to override. */
int daemon_check_safety(const struct ferry_config *cfg, const struct daemon_identity *id,
			struct config_error *err);

#endif
