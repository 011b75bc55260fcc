/* privdrop.c — the one place where ferryd stops being root: it decides at
 * start-up which account to become, and later becomes it for good. */
#include "ferry/daemon.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ferry/base.h"

/* The account a packaged ferryd runs as (contrib/sysusers.d/ferry.conf). */
#define DEFAULT_SERVICE_USER "ferry"

__attribute__((format(printf, 3, 4)))
static int refuse(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* Looks the group up by name, or by number when it is all digits. */
static int find_group(const char *name, gid_t *gid)
{
	char buf[4096];
	struct group gr, *res = NULL;
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
		*gid = res->gr_gid;
		return 0;
	}
	char *end;
	errno = 0;
	unsigned long v = strtoul(name, &end, 10);
	if (!*name || *end || errno || v == (unsigned long)(gid_t)-1)
		return -1;
	*gid = (gid_t)v;
	return 0;
}

static int find_user(const char *name, struct daemon_identity *id)
{
	char buf[4096];
	struct passwd pw, *res = NULL;
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return -1;
	id->uid = res->pw_uid;
	id->gid = res->pw_gid;
	snprintf(id->name, sizeof(id->name), "%s", res->pw_name);
	return 0;
}

/* Which account to become, decided before anything is opened so that
 * --check-config and a failed start say the same thing. */
int daemon_privdrop_plan(const struct ferry_config *cfg, uid_t euid,
			 struct daemon_identity *id, char *why, size_t cap)
{
	memset(id, 0, sizeof(*id));
	why[0] = '\0';
	if (euid != 0) {
		/* Rootless (a container, a user's shell): nothing to give up. */
		id->mode = PRIV_UNPRIVILEGED;
		id->uid = euid;
		id->gid = getegid();
		return 0;
	}
	const char *user = cfg->user ? cfg->user : DEFAULT_SERVICE_USER;
	if (find_user(user, id) < 0) {
		if (!cfg->user && cfg->allow_root) {
			id->mode = PRIV_STAY_ROOT;
			return 0;
		}
		if (cfg->user)
			return refuse(why, cap, "user '%s' does not exist", user);
		return refuse(why, cap,
			      "started as root, but the service user '%s' does not "
			      "exist: create it (systemd-sysusers with contrib/sysusers.d/"
			      "ferry.conf, or useradd --system --no-create-home --shell "
			      "/usr/sbin/nologin ferry), or name another with --user "
			      "NAME[:GROUP] (\"user\" in the JSON file)", user);
	}
	if (cfg->group && find_group(cfg->group, &id->gid) < 0)
		return refuse(why, cap, "group '%s' does not exist", cfg->group);
	if (id->uid == 0 || id->gid == 0) {
		if (!cfg->allow_root)
			return refuse(why, cap, "user '%s' has uid or gid 0: that is root; "
				      "give an unprivileged user, or --allow-root", user);
		id->mode = PRIV_STAY_ROOT;
		return 0;
	}
	id->mode = PRIV_DROP;
	return 0;
}

/* Effective and permitted capabilities are gone once every uid is non-zero
 * (no SECBIT_KEEP_CAPS is set); check rather than trust it. */
static bool caps_empty(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return !d[0].effective && !d[1].effective && !d[0].permitted &&
	       !d[1].permitted;
}

/* The checks vsftpd leaves implicit: every id is the target, and the way
 * back is closed. */
static int verify_dropped(const struct daemon_identity *id)
{
	uid_t r, e, s;
	gid_t rg, eg, sg, groups[2];
	if (getresuid(&r, &e, &s) < 0 || r != id->uid || e != id->uid || s != id->uid)
		return -1;
	if (getresgid(&rg, &eg, &sg) < 0 || rg != id->gid || eg != id->gid || sg != id->gid)
		return -1;
	if (getgroups(2, groups) != 1 || groups[0] != id->gid)
		return -1;
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return -1;
	return caps_empty() ? 0 : -1;
}

/*
 * Becomes id for good. Call it once every privileged thing is done (sockets
 * bound by the workers, logs, pidfile and keys open): glibc's set*id apply
 * to every thread of the process, so the running workers change too.
 * Supplementary groups are cut to the one group. Returns 0 or -1 with a
 * message logged; the caller must then stop.
 */
int daemon_privdrop(const struct daemon_identity *id)
{
	switch (id->mode) {
	case PRIV_UNPRIVILEGED:
		flog(LOG_LVL_INFO, "privdrop: not started as root; running as uid %u gid %u",
		     (unsigned)id->uid, (unsigned)id->gid);
		break;
	case PRIV_STAY_ROOT:
		flog(LOG_LVL_WARN, "privdrop: WARNING: --allow-root: ferryd keeps running "
		     "AS ROOT; every FTP session and datagram is handled with full "
		     "privileges. Create the 'ferry' user or pass --user.");
		break;
	case PRIV_DROP:
		if (setgroups(1, &id->gid) < 0 ||
		    setresgid(id->gid, id->gid, id->gid) < 0 ||
		    setresuid(id->uid, id->uid, id->uid) < 0) {
			flog(LOG_LVL_ERR, "privdrop: cannot become %s (uid %u gid %u): %s",
			     id->name, (unsigned)id->uid, (unsigned)id->gid, strerror(errno));
			return -1;
		}
		if (verify_dropped(id) < 0) {
			flog(LOG_LVL_ERR, "privdrop: %s: root could be regained, stopping",
			     id->name);
			return -1;
		}
		flog(LOG_LVL_INFO, "privdrop: now running as %s (uid %u gid %u)", id->name,
		     (unsigned)id->uid, (unsigned)id->gid);
		break;
	}
	/* Nothing ferryd runs may gain privileges again (set-id binaries,
	 * file capabilities); seccomp also requires it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		flog(LOG_LVL_ERR, "privdrop: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer attaches to the process with ptrace at exit; changing
	 * uid made it non-dumpable. Test builds only. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	return 0;
}
