/* sandbox.c — confines the running daemon: Landlock limits its file access to
 * the paths it serves and writes, and one seccomp table lists its syscalls. */
#include "ferry/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ferry/base.h"

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452     /* Linux 6.6; glibc 2.36 does not name it */
#endif

/* ======================= Landlock: the file system ======================= */

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif

/* Ruleset attribute as of ABI 6; older kernels get a shorter size. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_WRITE (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | \
		  LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR | \
		  LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_REFER | \
		  LANDLOCK_ACCESS_FS_TRUNCATE)
/* Rights a rule on a file (not a directory) may carry. */
#define FS_FILE_RIGHTS (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | \
			LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE | \
			LANDLOCK_ACCESS_FS_IOCTL_DEV)

/* Every file right each ABI knows: all are handled, so all are denied
 * unless a rule below grants them. */
static uint64_t fs_rights_for_abi(int abi)
{
	uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;   /* ABI 1 */
	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

struct ll {
	int fd;          /* the ruleset */
	uint64_t handled;
};

/* Grants access beneath path (a directory) or to path (a file); what
 * names it in errors ("the pidfile's directory"). */
static int ll_allow(struct ll *ll, const char *what, const char *path, uint64_t access)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		flog(LOG_LVL_ERR, "sandbox: Landlock rule for %s %s: %s", what, path,
		     strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= FS_FILE_RIGHTS;
	struct landlock_path_beneath_attr pb = { .allowed_access = access & ll->handled,
						 .parent_fd = fd };
	int r = pb.allowed_access ? (int)syscall(SYS_landlock_add_rule, ll->fd,
						 LANDLOCK_RULE_PATH_BENEATH, &pb, 0) : 0;
	int e = errno;
	close(fd);
	if (r < 0)
		flog(LOG_LVL_ERR, "sandbox: Landlock rule for %s %s: %s", what, path,
		     strerror(e));
	return r < 0 ? -1 : 0;
}

/* The directory a file is in; rights on it let the file be created anew
 * (SIGHUP reopen after logrotate) or rolled (rename, unlink). */
static int ll_allow_dir_of(struct ll *ll, const char *what, const char *file,
			   uint64_t access)
{
	char copy[PATH_MAX];
	snprintf(copy, sizeof(copy), "%s", file);
	return ll_allow(ll, what, dirname(copy), access);
}

/* The table of what the daemon may touch once it runs. */
static int ll_rules(struct ll *ll, const struct ferry_config *cfg)
{
	const struct ftp_config *f = &cfg->ftp;
	int r = 0;
	for (size_t i = 0; f->enabled && i < f->user_count; i++)
		r |= ll_allow(ll, "the FTP root", f->users[i].root, FS_READ | (f->users[i].write ? FS_WRITE : 0));
	if (f->enabled && f->anonymous_root)
		r |= ll_allow(ll, "the anonymous FTP root", f->anonymous_root, FS_READ | (f->anonymous_write ? FS_WRITE : 0));
	if (!cfg->foreground && cfg->log_file)
		r |= ll_allow_dir_of(ll, "the log file's directory", cfg->log_file, LANDLOCK_ACCESS_FS_WRITE_FILE |
				     LANDLOCK_ACCESS_FS_MAKE_REG |
				     (cfg->max_log_size ? LANDLOCK_ACCESS_FS_REMOVE_FILE : 0));
	if (f->enabled && f->xferlog)
		r |= ll_allow_dir_of(ll, "the transfer log's directory", f->xferlog, LANDLOCK_ACCESS_FS_WRITE_FILE |
				     LANDLOCK_ACCESS_FS_MAKE_REG);
	/* Written once the workers run (after this), read and unlinked at the
	 * stop by daemon_pidfile_remove. */
	if (cfg->pidfile)
		r |= ll_allow_dir_of(ll, "the pidfile's directory", cfg->pidfile, LANDLOCK_ACCESS_FS_READ_FILE |
				     LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_MAKE_REG |
				     LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_REMOVE_FILE);
	/* SIGHUP reads the file again, and the proxies' -C/-S lists: their
	 * directories, since editors replace a file by renaming a new one. */
	if (cfg->from_file && cfg->source)
		r |= ll_allow_dir_of(ll, "the configuration file's directory", cfg->source,
				     LANDLOCK_ACCESS_FS_READ_FILE);
	/* A reload reads the FTPS certificates and keys again (renamed into
	 * place by certbot and the like): their directories. */
	if (f->enabled && f->tls_cert)
		r |= ll_allow_dir_of(ll, "the TLS certificate's directory", f->tls_cert,
				     LANDLOCK_ACCESS_FS_READ_FILE) |
		     ll_allow_dir_of(ll, "the TLS key's directory", f->tls_key,
				     LANDLOCK_ACCESS_FS_READ_FILE);
	const struct gateway_config *g = &cfg->gateway;
	if (g->enabled && g->tls_cert)
		r |= ll_allow_dir_of(ll, "the gateway certificate's directory", g->tls_cert,
				     LANDLOCK_ACCESS_FS_READ_FILE) |
		     ll_allow_dir_of(ll, "the gateway key's directory", g->tls_key,
				     LANDLOCK_ACCESS_FS_READ_FILE);
	for (size_t i = 0; f->enabled && i < f->tls_cert_count; i++)
		r |= ll_allow_dir_of(ll, "the TLS certificate's directory", f->tls_certs[i].cert,
				     LANDLOCK_ACCESS_FS_READ_FILE) |
		     ll_allow_dir_of(ll, "the TLS key's directory", f->tls_certs[i].key,
				     LANDLOCK_ACCESS_FS_READ_FILE);
	for (size_t i = 0; i < cfg->proxy_count; i++) {
		const struct proxy_config *pc = &cfg->proxies[i];
		if (pc->client_list)
			r |= ll_allow_dir_of(ll, "the client list's directory", pc->client_list,
					     LANDLOCK_ACCESS_FS_READ_FILE);
		if (pc->server_list)
			r |= ll_allow_dir_of(ll, "the server list's directory", pc->server_list,
					     LANDLOCK_ACCESS_FS_READ_FILE);
	}
	r |= ll_allow(ll, "the device", "/dev/null", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE);
	r |= ll_allow(ll, "the device", "/dev/urandom", LANDLOCK_ACCESS_FS_READ_FILE);
#if defined(__SANITIZE_ADDRESS__)
	/* Test builds: the sanitizers read /proc/self/maps and list
	 * /proc/self/task to report errors and leaks. */
	char self[64];
	snprintf(self, sizeof(self), "/proc/%ld", (long)getpid());
	r |= ll_allow(ll, "the process directory", self, FS_READ);
#endif
	return r ? -1 : 0;
}

int daemon_sandbox_files(const struct ferry_config *cfg)
{
	/* The log's local time needs /etc/localtime, read once and kept. */
	tzset();
	/* Landlock needs it without CAP_SYS_ADMIN; every thread started after
	 * this inherits it. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		flog(LOG_LVL_ERR, "sandbox: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
			       LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		flog(LOG_LVL_WARN, "sandbox: WARNING: this kernel has no Landlock (%s); file "
		     "access is confined only by the service user's permissions and "
		     "openat2(RESOLVE_BENEATH)", strerror(errno));
		return 0;
	}
	struct ll_ruleset_attr attr = { .handled_access_fs = fs_rights_for_abi(abi) };
	size_t size = offsetof(struct ll_ruleset_attr, handled_access_net);
	if (abi >= 6) {
		/* No signals to, and no abstract sockets of, processes outside. */
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	struct ll ll = { .handled = attr.handled_access_fs };
	ll.fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (ll.fd < 0) {
		flog(LOG_LVL_ERR, "sandbox: landlock_create_ruleset: %s", strerror(errno));
		return -1;
	}
	int r = ll_rules(&ll, cfg);
	if (r == 0 && syscall(SYS_landlock_restrict_self, ll.fd, 0) < 0) {
		flog(LOG_LVL_ERR, "sandbox: landlock_restrict_self: %s", strerror(errno));
		r = -1;
	}
	close(ll.fd);
	if (r == 0)
		flog(LOG_LVL_INFO, "sandbox: Landlock ABI %d: files confined to the FTP "
		     "roots, log, transfer log and pidfile", abi);
	return r;
}

/* ======================= seccomp: the system calls ======================= */

enum sc_action {
	SC_ALLOW,
	SC_KILL,        /* never legitimate after start-up: end the process */
	SC_ENOSYS,      /* glibc falls back to an older call we can inspect */
	SC_THREADS,     /* clone: only new threads, never a new process */
};

struct sc_rule {
	int nr;
	enum sc_action action;
};

#define ALLOW(name) { SYS_##name, SC_ALLOW }
#define KILL(name) { SYS_##name, SC_KILL }

/*
 * THE allow-list. Built from `strace -f` of the test suites (proxy, FTP,
 * daemon) plus what the helper pool and io_uring file operations need.
 * Anything not listed fails with EPERM; the KILL entries end the process,
 * since only an attacker would call them. io_uring's own operations
 * (IORING_OP_OPENAT, _SOCKET, ...) are not seen by seccomp: Landlock and
 * the service user's credentials confine those.
 */
static const struct sc_rule sc_rules[] = {
	/* first, the calls a busy worker makes most (the filter compares in
	 * table order): the ring, zero-copy file transfers, socket state */
	ALLOW(io_uring_enter), ALLOW(splice), ALLOW(getsockopt), ALLOW(write),
	ALLOW(futex), ALLOW(close),
	/* the engine: io_uring and its buffers */
	ALLOW(io_uring_setup), ALLOW(io_uring_register),
	ALLOW(mmap), ALLOW(munmap), ALLOW(mremap), ALLOW(mprotect), ALLOW(madvise),
	ALLOW(brk),
	/* threads: workers, helper pool, their wake-ups */
	{ SYS_clone, SC_THREADS }, { SYS_clone3, SC_ENOSYS },
	ALLOW(set_robust_list), ALLOW(rseq), ALLOW(set_tid_address),
	ALLOW(eventfd2), ALLOW(epoll_create1), ALLOW(epoll_ctl), ALLOW(epoll_pwait),
	ALLOW(ppoll), ALLOW(sched_yield),
	ALLOW(sched_getaffinity), ALLOW(sched_setaffinity), ALLOW(gettid),
	ALLOW(getpid), ALLOW(tgkill), ALLOW(exit), ALLOW(exit_group),
	ALLOW(nanosleep), ALLOW(clock_nanosleep), ALLOW(clock_gettime),
	ALLOW(gettimeofday), ALLOW(clock_getres), ALLOW(getrandom), ALLOW(membarrier),
	ALLOW(getcpu), ALLOW(sysinfo),   /* glibc: sched_getcpu, qsort's memory size */
	ALLOW(timerfd_create), ALLOW(timerfd_settime), ALLOW(timerfd_gettime),
	ALLOW(socketpair),
	/* signals: sigwaitinfo in main, glibc's own */
	ALLOW(rt_sigaction), ALLOW(rt_sigprocmask), ALLOW(rt_sigreturn),
	ALLOW(rt_sigtimedwait), ALLOW(sigaltstack),
	/* descriptors */
	ALLOW(read), ALLOW(readv), ALLOW(writev), ALLOW(pread64),
	ALLOW(pwrite64), ALLOW(fcntl), ALLOW(dup), ALLOW(dup3),
	ALLOW(pipe2), ALLOW(tee), ALLOW(sendfile), ALLOW(lseek),
	/* files beneath the FTP roots (Landlock decides where) */
	ALLOW(openat), ALLOW(openat2), ALLOW(newfstatat), ALLOW(fstat), ALLOW(statx),
	ALLOW(getdents64), ALLOW(mkdirat), ALLOW(unlinkat), ALLOW(renameat),
	ALLOW(renameat2), ALLOW(ftruncate), ALLOW(fallocate), ALLOW(fsync),
	ALLOW(fdatasync), ALLOW(utimensat), ALLOW(fchmod), ALLOW(fchmodat2), ALLOW(umask),
	ALLOW(fstatfs), ALLOW(statfs), ALLOW(fadvise64), ALLOW(copy_file_range),
	ALLOW(sync_file_range),
	ALLOW(readlinkat), ALLOW(faccessat), ALLOW(faccessat2),
	/* sockets: PASV listeners, PORT connections, the proxies' UDP */
	ALLOW(socket), ALLOW(bind), ALLOW(listen), ALLOW(connect), ALLOW(accept4),
	ALLOW(setsockopt), ALLOW(getsockname), ALLOW(getpeername),
	ALLOW(sendmsg), ALLOW(recvmsg), ALLOW(sendto), ALLOW(recvfrom),
	ALLOW(sendmmsg), ALLOW(recvmmsg), ALLOW(shutdown),
	/* limits and identity (reading only) */
	ALLOW(prlimit64), ALLOW(getrlimit), ALLOW(getuid), ALLOW(geteuid),
	ALLOW(getgid), ALLOW(getegid), ALLOW(uname),
#ifdef __x86_64__
	ALLOW(open), ALLOW(stat), ALLOW(lstat), ALLOW(access), ALLOW(readlink),
	ALLOW(dup2), ALLOW(pipe), ALLOW(unlink), ALLOW(rename), ALLOW(mkdir),
	ALLOW(arch_prctl), ALLOW(epoll_wait), ALLOW(poll), ALLOW(getdents),
	KILL(iopl), KILL(ioperm),
#endif
#if defined(__SANITIZE_ADDRESS__)
	/* Test builds: LeakSanitizer stops the threads with ptrace from a
	 * child it clones, and waits for it. */
	ALLOW(ptrace), ALLOW(wait4), ALLOW(prctl), ALLOW(getppid), ALLOW(kill),
#ifdef __x86_64__
	ALLOW(fork),      /* the symbolizer's child, whose execve is then killed */
#endif
#else
	KILL(ptrace),
#ifdef __x86_64__
	KILL(fork), KILL(vfork),
#endif
#endif
	/* the way out of the sandbox, or into the kernel's soft spots */
	KILL(execve), KILL(execveat), KILL(process_vm_readv), KILL(process_vm_writev),
	KILL(setuid), KILL(setgid), KILL(setreuid), KILL(setregid), KILL(setresuid),
	KILL(setresgid), KILL(setgroups), KILL(setfsuid), KILL(setfsgid),
	KILL(capset), KILL(unshare), KILL(setns), KILL(mount), KILL(umount2),
	KILL(pivot_root), KILL(chroot), KILL(bpf), KILL(perf_event_open),
	KILL(userfaultfd), KILL(keyctl), KILL(add_key), KILL(request_key),
	KILL(init_module), KILL(finit_module), KILL(delete_module), KILL(kexec_load),
	KILL(open_by_handle_at), KILL(name_to_handle_at), KILL(personality),
	KILL(mknodat),
};

#if defined(__x86_64__)
#define SC_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SC_ARCH AUDIT_ARCH_AARCH64
#endif

#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))

static uint32_t sc_ret(enum sc_action a)
{
	switch (a) {
	case SC_ALLOW:
		return SECCOMP_RET_ALLOW;
	case SC_ENOSYS:
		return SECCOMP_RET_ERRNO | ENOSYS;
	case SC_KILL:
	case SC_THREADS:
		break;
	}
	return SECCOMP_RET_KILL_PROCESS;
}

/* One rule: compare the number, act. clone looks at its flags: a thread
 * (CLONE_THREAD) is fine, a new process is not — except for the sanitizers'
 * helper in test builds. */
static size_t sc_emit_rule(struct sock_filter *p, const struct sc_rule *r)
{
	size_t n = 0;
#if !defined(__SANITIZE_ADDRESS__)
	if (r->action == SC_THREADS) {
		p[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)r->nr, 0, 4);
		p[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						      offsetof(struct seccomp_data, args[0]));
		p[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
		p[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
		p[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
		return n;
	}
#endif
	enum sc_action a = r->action == SC_THREADS ? SC_ALLOW : r->action;
	p[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)r->nr, 0, 1);
	p[n++] = (struct sock_filter)RET(sc_ret(a));
	return n;
}

/* The filter: wrong architecture (or x32) is killed; each rule in table
 * order; whatever is left gets EPERM, so a rare path we missed fails like
 * a denied permission instead of taking the service down. */
static size_t sc_build(struct sock_filter *p)
{
	size_t n = 0;
	p[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	p[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SC_ARCH, 1, 0);
	p[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
	p[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
	p[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
	p[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
#endif
	for (size_t i = 0; i < sizeof(sc_rules) / sizeof(*sc_rules); i++)
		n += sc_emit_rule(p + n, &sc_rules[i]);
	p[n++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | EPERM);
	return n;
}

int daemon_sandbox_syscalls(const struct ferry_config *cfg)
{
#ifdef SC_ARCH
	struct sock_filter prog[8 + 5 * sizeof(sc_rules) / sizeof(*sc_rules)];
	struct sock_fprog fp = { .len = (unsigned short)sc_build(prog), .filter = prog };
	/* TSYNC: the workers and helper threads already run; all get it. */
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fp);
	if (r == 0) {
		flog(LOG_LVL_INFO, "sandbox: seccomp filter on every thread: %zu syscalls "
		     "listed, others fail with EPERM", sizeof(sc_rules) / sizeof(*sc_rules));
		return 0;
	}
	int e = r > 0 ? ESRCH : errno;   /* > 0: a thread could not be synced */
	if (e != EINVAL && e != ENOSYS) {
		flog(LOG_LVL_ERR, "sandbox: seccomp: %s", strerror(e));
		return -1;
	}
#endif
	if (cfg->allow_no_seccomp) {
		flog(LOG_LVL_WARN, "sandbox: WARNING: no seccomp filter on this kernel or "
		     "architecture; running unfiltered (--allow-no-seccomp)");
		return 0;
	}
	flog(LOG_LVL_ERR, "sandbox: this kernel or architecture has no seccomp filter "
	     "mode; refusing to run unfiltered (pass --allow-no-seccomp to run anyway)");
	return -1;
}
