/* fuzz_ftp_session.c — whole FTP sessions (src/ftp: login, every verb, data
 * connections by PASV/EPSV/PORT/EPRT/SPSV, uploads, listings, the PROXY
 * header of a balancer; FTPS as fuzz_ftps) run without a ring: the FTP
 * objects are linked with fake_engine.c and fake_tcp.c, test doubles of the
 * fe_* calls, the helper pool and file operations run at once, and the
 * files live in a temporary tree, made again whenever an input may have
 * changed it (fs_guard.c).
 *
 * Input: one byte of set-up (bit 0: two workers; bit 1: anonymous may
 * write; bit 2: anonymous is an upload-only drop box; bit 3: atomic
 * uploads; bit 4: PORT/EPRT connects are refused; bit 5: stop the workers
 * with sessions still open, else the client closes everything and the
 * clock runs out first), then records of an op byte and its operands.
 * Op bits 0-2 say what, bits 3-6 (a) how, bit 7: no loop turn after:
 *   0 SEND a-th connection: 2 bytes length (big-endian), the bytes; a byte
 *     0x01 in them stands for the last SPSV DATACONN password replied;
 *   1 CONNECT a control connection: a bits 0-1 the client address
 *     (127.0.0.1, 127.0.0.2 a PROXY-protocol balancer, ::1, 127.0.0.3),
 *     a bit 2 the worker;
 *   2 DATA: connect to the passive listener opened last, from address a;
 *   3 PAYLOAD for the a&7-th connection: 2 bytes length, the bytes; a bit 3:
 *     then close its sending side (an upload's end);
 *   4 CLOCK: on by a*a*a*20 ms (up to 67.5 s), timers firing;
 *   5 CLOSE the a-th connection (the client's side);
 *   6 READ: the a&7-th connection's client reads replies (a bit 3) or not;
 *   7 a bit 0: the helper pool turns slow (its jobs' done() waits) or
 *     fast again (and what waited runs); a bit 1: SIGTERM (the service
 *     says 421 to every session and closes its listeners); a bit 3: the
 *     next TLS object (server's or client's) cannot be made; else nothing.
 * Connections are numbered in order of opening (connection 0 is opened
 * first, before the records).
 *
 * Built as fuzz_ftps (-DFUZZ_FTPS) the server has FTPS: a certificate
 * (tls_cert.c), implicit FTPS listeners beside the plain ones, and TLS
 * required for logins when set-up bit 6 is set. Then CONNECT with a bit 3
 * goes to the implicit listener (its client's bytes are raw TLS records),
 * and op 7 with a bit 2 makes the newest connection's client a real TLS
 * client (fake_tcp_tls_client: wolfSSL's, its bytes encrypted, the replies
 * decrypted and checked). Without one, what the fuzzer sends after 234 or
 * to the implicit listener arrives where the ClientHello belongs.
 *
 * Invariants: every reply is "ddd text" CR LF or RFC 959's multi-line form,
 * in order, ending on a complete reply (fake_tcp.c); no send queue passes
 * its limit; the loop settles (no livelock); at the end every session,
 * data link, listener, connection, timer, SPSV token, hash job and slot is
 * gone and every descriptor closed; and nothing outside the FTP root
 * changed: the tree has symlinks that lead out of it, which
 * openat2(RESOLVE_BENEATH) must refuse. */
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_engine.h"
#include "fake_tcp.h"
#include "fs_guard.h"
#include "tls_cert.h"
#include "ferry/base.h"
#include "ferry/daemon.h"
#include "ferry/ftp.h"
#include "ftp_internal.h"
#include "fuzz.h"
#include "script.h"

/* Built a second time as fuzz_ftps, with FTPS configured (-DFUZZ_FTPS). */
#ifdef FUZZ_FTPS
enum { FTPS = 1 };
#else
enum { FTPS = 0 };
#endif

enum { VARIANTS = 16, SECRET_LEN = 17 };
static const char secret[SECRET_LEN + 1] = "not for FTP users";

static char base_dir[256], root_dir[512], xferlog_path[512];

/* ---- the file tree ---------------------------------------------------------- */

static void put_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	chmod(p, mode);
}

static void remove_tree(int dirfd)
{
	DIR *d = fdopendir(dirfd);
	FUZZ_CHECK(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd, e->d_name, 0) == 0)
			continue;
		int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {        /* a directory without search permission */
			fchmodat(dirfd, e->d_name, 0700, 0);
			sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		FUZZ_CHECK(sub >= 0);
		remove_tree(sub);
		FUZZ_CHECK(unlinkat(dirfd, e->d_name, AT_REMOVEDIR) == 0);
		rewinddir(d);
	}
	closedir(d);
}

/* root/: files, a directory tree, an anonymous area, symlinks out of it;
 * outside/secret beside it must never change. */
static void make_tree(void)
{
	int fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	remove_tree(fd);
	FUZZ_CHECK(chmod(root_dir, 0755) == 0);
	put_file(root_dir, "hello.txt", "hello\nworld\n", 0644);
	put_file(root_dir, "crlf.txt", "a\r\nb\rc\n\xff\n", 0644);
	put_file(root_dir, "secret0.txt", "mode 000", 0);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/dir", root_dir);
	FUZZ_CHECK(mkdir(p, 0755) == 0);
	put_file(p, "a b.txt", "spaces", 0644);
	snprintf(p, sizeof(p), "%s/dir/sub", root_dir);
	FUZZ_CHECK(mkdir(p, 0755) == 0);
	put_file(p, "deep.bin", "\x00\x01\x02\xff", 0644);
	snprintf(p, sizeof(p), "%s/pub", root_dir);
	FUZZ_CHECK(mkdir(p, 0755) == 0);
	put_file(p, "readme", "anonymous area\n", 0644);
	snprintf(p, sizeof(p), "%s/pub/escape", root_dir);
	FUZZ_CHECK(symlink("../../outside", p) == 0);
	snprintf(p, sizeof(p), "%s/escape", root_dir);
	FUZZ_CHECK(symlink("../outside", p) == 0);
	char to[PATH_MAX];
	snprintf(to, sizeof(to), "%s/outside/secret", base_dir);
	snprintf(p, sizeof(p), "%s/abs", root_dir);
	FUZZ_CHECK(symlink(to, p) == 0);
}

/* What make_tree made, for the spot check below. */
static const char *const tree_paths[] = {
	".", "hello.txt", "crlf.txt", "secret0.txt", "dir", "dir/a b.txt", "dir/sub",
	"dir/sub/deep.bin", "pub", "pub/readme", "pub/escape", "escape", "abs",
};
enum { TREE_PATHS = sizeof(tree_paths) / sizeof(tree_paths[0]), SPOT_EVERY = 16 };

static struct {
	bool built;
	unsigned long changes;    /* fuzz_fs_changes() once it was built */
	unsigned kept;            /* inputs since, that left it as it was */
	struct timespec ctime[TREE_PATHS];
} tree;

static void tree_times(struct timespec *out)
{
	for (unsigned i = 0; i < TREE_PATHS; i++) {
		char p[PATH_MAX];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", root_dir, tree_paths[i]);
		FUZZ_CHECK(lstat(p, &st) == 0);
		out[i] = st.st_ctim;
	}
}

/* The tree as make_tree leaves it, rebuilt only when the last input may
 * have changed it: fs_guard.c counts every call src/ftp makes that can
 * (an upload, a rename, SITE CHMOD, ...). Now and then a tree that was
 * kept is checked against the change times it had once built: a change
 * not counted means a call fs_guard.c does not wrap yet (a finding, as
 * inputs would no longer replay alike). */
static void fresh_tree(void)
{
	if (tree.built && fuzz_fs_changes() == tree.changes) {
		if (++tree.kept % SPOT_EVERY == 0) {
			struct timespec now[TREE_PATHS];
			tree_times(now);
			for (unsigned i = 0; i < TREE_PATHS; i++)
				FUZZ_CHECK(now[i].tv_sec == tree.ctime[i].tv_sec &&
					   now[i].tv_nsec == tree.ctime[i].tv_nsec);
		}
		return;
	}
	make_tree();
	tree_times(tree.ctime);
	tree.built = true;
	tree.kept = 0;
	tree.changes = fuzz_fs_changes();
}

/* Nothing outside root/ changed: base holds root, outside and the transfer
 * log; outside holds the secret, unchanged. */
static void check_outside(void)
{
	DIR *d = opendir(base_dir);
	FUZZ_CHECK(d);
	struct dirent *e;
	while ((e = readdir(d)))
		FUZZ_CHECK(!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
			   !strcmp(e->d_name, "root") || !strcmp(e->d_name, "outside") ||
			   !strcmp(e->d_name, "xferlog"));
	closedir(d);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/outside", base_dir);
	d = opendir(p);
	FUZZ_CHECK(d);
	while ((e = readdir(d)))
		FUZZ_CHECK(!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
			   !strcmp(e->d_name, "secret"));
	closedir(d);
	struct stat st;
	snprintf(p, sizeof(p), "%s/outside/secret", base_dir);
	FUZZ_CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == SECRET_LEN &&
		   (st.st_mode & 07777) == 0644 && st.st_mtime == 1000000000);
	char buf[64] = "";
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	FUZZ_CHECK(fd >= 0 && read(fd, buf, sizeof(buf)) == SECRET_LEN);
	close(fd);
	FUZZ_CHECK(!memcmp(buf, secret, SECRET_LEN));
	snprintf(p, sizeof(p), "%s/outside", base_dir);
	FUZZ_CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0755);
}

static void make_base(void)
{
	/* $TMPDIR, else memory when there is some: rebuilding the tree after
	 * an upload then costs no disk journal */
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(base_dir, sizeof(base_dir), "%s/fuzz_ftp.XXXXXX", tmp);
	FUZZ_CHECK(mkdtemp(base_dir));
	FUZZ_CHECK(chmod(base_dir, 0755) == 0);
	snprintf(root_dir, sizeof(root_dir), "%s/root", base_dir);
	FUZZ_CHECK(mkdir(root_dir, 0755) == 0);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/outside", base_dir);
	FUZZ_CHECK(mkdir(p, 0755) == 0);
	put_file(p, "secret", secret, 0644);
	snprintf(p, sizeof(p), "%s/outside/secret", base_dir);
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	FUZZ_CHECK(utimensat(AT_FDCWD, p, ts, 0) == 0);
	put_file(base_dir, "xferlog", "", 0640);
	snprintf(xferlog_path, sizeof(xferlog_path), "%s/xferlog", base_dir);
}

static void remove_base(void)
{
	int fd = open(base_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		remove_tree(fd);
		rmdir(base_dir);
	}
}

/* ---- configurations ---------------------------------------------------------- */

static const struct ferry_config *variant_config(unsigned v)
{
	static struct ferry_config cfg[VARIANTS];
	static bool ready[VARIANTS];
	if (ready[v])
		return &cfg[v];
	/* md5-crypt: a real crypt(3) check, cheap enough for a fuzzer */
	struct crypt_data cd = { 0 };
	const char *hash = crypt_r("secret", "$1$fuzzsalt$", &cd);
	FUZZ_CHECK(hash && hash[0] == '$');
	/* fuzz_ftps: FTPS, explicit (AUTH TLS) and implicit, required for
	 * logins when v bit 3 is set */
	char tls[1024] = "";
	if (FTPS)
		snprintf(tls, sizeof(tls), "\"tls\": { \"cert\": \"%s\", \"key\": \"%s\", "
			 "\"required\": %s, \"implicit_listen\": [\"127.0.0.1:990\", "
			 "\"[::1]:990\"] },\n", fuzz_cert_make()->cert, fuzz_cert_make()->key,
			 v & 8 ? "true" : "false");
	char json[4096];
	snprintf(json, sizeof(json),
		 "{ \"ftp\": { \"listen\": [\"127.0.0.1:2121\", \"[::1]:2121\"],\n"
		 "  \"users\": [ { \"name\": \"alice\", \"password\": \"%s\", \"root\": \"%s\","
		 " \"write\": true, \"umask\": \"027\" },\n"
		 "   { \"name\": \"reader\", \"password\": \"%s\", \"root\": \"%s\" } ],\n"
		 "  \"anonymous\": { \"root\": \"%s/pub\", \"write\": %s, \"upload_only\": %s,"
		 " \"umask\": \"077\" },\n"
		 "  \"max_sessions\": 4, \"max_per_address\": 3, \"login_delay_ms\": 200,\n"
		 "  \"max_login_failures\": 3, \"lockout_seconds\": 60, \"idle_timeout\": 120,\n"
		 "  \"data_timeout\": 30, \"spsv_timeout\": 20, \"login_timeout\": 60,\n"
		 "  \"max_hash_jobs\": 2, \"atomic_uploads\": %s, \"xferlog\": \"%s/xferlog\",\n"
		 "  %s\"proxy_protocol\": [\"127.0.0.2\"] } }\n",
		 hash, root_dir, hash, root_dir, root_dir, v & 1 ? "true" : "false",
		 v & 2 ? "true" : "false", v & 4 ? "true" : "false", base_dir, tls);
	fuzz_config(json, &cfg[v]);
	ready[v] = true;
	return &cfg[v];
}

/* FUZZ_FTP_LOG=5 shows what the sessions did; quiet otherwise (fast). */
static void setup_once(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	const char *lvl = getenv("FUZZ_FTP_LOG");
	fb_log_open(NULL, lvl ? atoi(lvl) : -1, 0, 0);
	make_base();
	atexit(remove_base);
}

/* ---- the session script ----------------------------------------------------- */

static const char *const client_addrs[4] = { "127.0.0.1", "127.0.0.2", "::1", "127.0.0.3" };

static bool pool_slow;

static void step(const uint8_t *data, size_t size, size_t *off, unsigned nworkers,
		 struct ftp_server *srv)
{
	uint8_t op = data[(*off)++];
	unsigned a = (op >> 3) & 15;
	const uint8_t *bytes = NULL;
	size_t len;
	struct fake_peer *p;
	switch (op & 7) {
	case 0:
		len = fuzz_operand(data, size, off, &bytes);
		if ((p = fuzz_nth_peer(a)))
			(void)fuzz_send_text(p, bytes, len);
		break;
	case 1:
		if (FTPS && a & 8)   /* to the implicit FTPS listener */
			(void)fake_tcp_connect_nth((a >> 2 & 1) % nworkers, client_addrs[a & 3], 1,
						   true);
		else
			(void)fake_tcp_connect_ctl((a >> 2) % nworkers, client_addrs[a & 3]);
		break;
	case 2:
		(void)fake_tcp_connect_data(client_addrs[a & 3]);
		break;
	case 3:
		len = fuzz_operand(data, size, off, &bytes);
		if ((p = fuzz_nth_peer(a & 7))) {
			if (len)
				fake_tcp_write(p, bytes, len);
			if (a & 8)
				p->shut = true;
		}
		break;
	case 4:
	case 5:
	case 6:
		(void)fuzz_common_op(op & 7, a);
		break;
	default:
		if (a & 1)
			fake_pool_hold(pool_slow = !pool_slow);
		if (a & 2)
			ftp_server_shutdown(srv);
		if (a & 8)
			fuzz_tls_fail_next(true);
		if (FTPS && a & 4 && (p = fuzz_nth_peer(fake_tcp_npeers() - 1)))
			(void)fake_tcp_tls_client(p);   /* the newest connection's */
		break;
	}
	if (!(op & 0x80))
		fake_tcp_run();
}

/* ---- bounds while it runs ------------------------------------------------------ */

enum {
	REPLIES_MAX = 192 * 1024,   /* reply_high (64 KiB) and what one command adds */
	STASH_BOUND = 80 * 1024,    /* session.c's STASH_MAX and one engine receive */
};

/* What a session holds for a client stays bounded however it behaves:
 * replies queued to a client that does not read, input before a login. */
static void check_bounds(struct ftp_worker *const *fw, unsigned nworkers)
{
	for (unsigned i = 0; i < nworkers; i++)
		for (const struct ftp_session *s = fw[i]->sessions; s; s = s->next) {
			FUZZ_CHECK(s->inlen <= CTL_INBUF);
			FUZZ_CHECK(s->state == ST_READY ||
				   s->stashlen - s->stashoff <= STASH_BOUND);
			if (!s->closing)
				FUZZ_CHECK(fe_conn_queued(s->ctl) <= REPLIES_MAX);
		}
}

/* ---- the end ------------------------------------------------------------------ */

static void check_worker_empty(const struct ftp_worker *fw)
{
	FUZZ_CHECK(fw->sessions == NULL);   /* every session ended */
	FUZZ_CHECK(fw->links == NULL);      /* every data connection's link */
}

static void check_server_empty(struct ftp_server *srv)
{
	FUZZ_CHECK(srv->sessions == 0 && srv->connections == 0 && srv->naddrs == 0);
	FUZZ_CHECK(ftp_spsv_count(srv->spsv) == 0);
	FUZZ_CHECK(__atomic_load_n(&srv->hash_jobs, __ATOMIC_RELAXED) == 0);
}

/* Timers pending besides each worker's watch on the stop flag (which
 * re-arms itself five times a second for as long as the worker runs). */
static unsigned other_timers(struct ftp_worker *const *fw, unsigned nworkers)
{
	unsigned n = fake_stats()->pending_timers;
	for (unsigned i = 0; i < nworkers; i++)
		n -= fw[i]->watch != NULL;
	return n;
}

/* The client reads everything, closes every connection, and the clock runs
 * past every timeout: on until no timer but the watches is left (advancing
 * further would only fire those), at most 20 times 30 s. */
static void wind_down(struct ftp_worker *const *fw, unsigned nworkers)
{
	fake_pool_hold(pool_slow = false);
	fuzz_tls_fail_next(false);
	fuzz_close_all();
	for (int i = 0; i < 20 && other_timers(fw, nworkers); i++) {
		fake_advance(30 * 1000);
		fake_tcp_run();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup_once();
	fresh_tree();
	fuzz_tls_fail_next(false);
	unsigned fds = fuzz_open_fds();
	FUZZ_CHECK(truncate(xferlog_path, 0) == 0);   /* bounded: it grows */
	unsigned nworkers = data[0] & 1 ? 2 : 1;
	struct ftp_server *srv = NULL;
	unsigned variant = (data[0] >> 1) & 7;
	if (FTPS && data[0] & 64)
		variant |= 8;
	FUZZ_CHECK(ftp_server_create(variant_config(variant), &srv) == 0);
	fake_begin(nworkers, 1000000);
	fake_tcp_begin(data[0] & 16);
	struct ftp_worker *fw[FAKE_MAX_WORKERS] = { 0 };
	for (unsigned i = 0; i < nworkers; i++)
		FUZZ_CHECK(ftp_worker_init(fake_worker(i), srv, &fw[i]) == 0);
	(void)fake_tcp_connect_ctl(0, client_addrs[0]);
	fake_tcp_run();
	size_t off = 1;
	while (off < size) {
		step(data, size, &off, nworkers, srv);
		check_bounds(fw, nworkers);
	}
	bool abrupt = data[0] & 32;
	if (!abrupt) {
		wind_down(fw, nworkers);
		for (unsigned i = 0; i < nworkers; i++)
			check_worker_empty(fw[i]);
		check_server_empty(srv);
		FUZZ_CHECK(fake_tcp_conns() == 0);
	}
	fake_tcp_run();
	fake_pool_drain();   /* the engine runs every done() before worker_fini */
	fake_pool_hold(pool_slow = false);
	for (unsigned i = 0; i < nworkers; i++)
		ftp_worker_fini(fw[i]);
	if (abrupt)
		fake_tcp_drop_conns();   /* the engine frees them, no callbacks */
	fake_end();
	fake_tcp_end();
	check_server_empty(srv);
	ftp_server_destroy(srv);
	check_outside();
	FUZZ_CHECK(fuzz_open_fds() == fds);   /* no descriptor left open */
	return 0;
}
