/* mirror.c — ferry-ftp mirror: a directory tree copied down (MLSD, RETR) or
 * up (MKD, STOR), going on past the entries it cannot copy. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ferry_ftp.h"

static void join(char *out, size_t cap, const char *a, const char *b)
{
	size_t n = strlen(a);
	snprintf(out, cap, "%s%s%s", a, n && a[n - 1] == '/' ? "" : "/", b);
}

/* A mirror goes on past an entry it cannot copy (reported on stderr, as
 * lftp and wget do) and ends with EX_PARTIAL; only a lost control
 * connection stops it. */
struct mirror {
	struct client *c;
	unsigned copied, skipped;
	struct ftpc_cli_jobs *q;     /* -P: files are queued, not copied, by the walk */
};

static bool fatal(int code)
{
	return code == EX_PROTO || code == EX_CONNECT;
}

/* The outcome of one entry: EX_OK, or the fatal code that ends the run. */
static int settle(struct mirror *m, int code, const char *what)
{
	if (code == EX_OK) {
		m->copied++;
		return EX_OK;
	}
	if (fatal(code))
		return code;
	m->skipped++;
	fprintf(stderr, "%s: mirror: skipped %s\n", FERRY_FTP_PROG, what);
	return EX_OK;
}

/* What mirror does with an MLSD entry (RFC 3659 7.5.1: facts are
 * case-insensitive; "OS.unix=slink" and other OS types may be symbolic
 * links a server follows, so they are fetched like files). */
enum entry_kind { ENTRY_SKIP, ENTRY_FILE, ENTRY_DIR };

static enum entry_kind mlsd_kind(const char *facts)
{
	for (const char *f = facts; *f;) {
		const char *end = strchr(f, ';');
		size_t n = end ? (size_t)(end - f) : strlen(f);
		if (n > 5 && !strncasecmp(f, "type=", 5)) {
			const char *v = f + 5;
			size_t vn = n - 5;
			if (vn == 3 && !strncasecmp(v, "dir", 3))
				return ENTRY_DIR;
			if ((vn == 4 && (!strncasecmp(v, "cdir", 4) || !strncasecmp(v, "pdir", 4))))
				return ENTRY_SKIP;
			return ENTRY_FILE;
		}
		f += n + (end ? 1 : 0);
	}
	return ENTRY_SKIP;
}

/* The listing is parsed into entries before recursing (the next MLSD
 * reuses nothing of it). Names with '/' and "." or ".." are left out. */
struct entry {
	char *name;
	bool dir;
};

static size_t parse_mlsd(char *list, struct entry **out)
{
	size_t n = 0, cap = 0;
	struct entry *v = NULL;
	for (char *save, *line = strtok_r(list, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *name = strchr(line, ' ');
		if (!name || !name[1] || strchr(name + 1, '/') || !strcmp(name + 1, ".") ||
		    !strcmp(name + 1, ".."))
			continue;
		*name++ = '\0';
		enum entry_kind k = mlsd_kind(line);
		if (k == ENTRY_SKIP)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			struct entry *t = realloc(v, cap * sizeof(*v));
			if (!t)
				break;
			v = t;
		}
		v[n++] = (struct entry){ .name = name, .dir = k == ENTRY_DIR };
	}
	*out = v;
	return n;
}

/* mirror REMOTE LOCAL: MLSD each directory, recurse into directories. */
static int mirror_down(struct mirror *m, const char *remote, const char *local)
{
	if (mkdir(local, 0755) < 0 && errno != EEXIST)
		return ftpc_cli_fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	char *list;
	int r = ftpc_cli_listing(m->c, "MLSD", remote, &list);
	if (r)
		return r;
	struct entry *v = NULL;
	size_t n = parse_mlsd(list, &v);
	for (size_t i = 0; i < n && !r; i++) {
		char rp[4096], lp[4096];
		join(rp, sizeof(rp), remote, v[i].name);
		join(lp, sizeof(lp), local, v[i].name);
		if (v[i].dir)
			r = settle(m, mirror_down(m, rp, lp), rp);
		else if (m->q)
			r = ftpc_cli_job_add(m->q, rp, lp) ? EX_OK : EX_LOCAL;
		else
			r = settle(m, ftpc_cli_get(m->c, rp, lp), rp);
	}
	free(v);
	free(list);
	return r;
}

/* mirror -R LOCAL REMOTE: MKD (an existing directory is fine), STOR files. */
static int mirror_up(struct mirror *m, const char *local, const char *remote)
{
	int r = cmd(m->c, "MKD %s", remote);
	if (r < 0)
		return ftpc_cli_fail(EX_PROTO, "connection lost");
	DIR *d = opendir(local);
	if (!d)
		return ftpc_cli_fail(EX_LOCAL, "%s: %s", local, strerror(errno));
	struct dirent *e;
	r = 0;
	while (!r && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char lp[4096], rp[4096];
		struct stat st;
		join(lp, sizeof(lp), local, e->d_name);
		join(rp, sizeof(rp), remote, e->d_name);
		if (stat(lp, &st) < 0)
			r = settle(m, ftpc_cli_fail(EX_LOCAL, "%s: %s", lp, strerror(errno)), lp);
		else if (S_ISDIR(st.st_mode))
			r = settle(m, mirror_up(m, lp, rp), lp);
		else if (S_ISREG(st.st_mode) && m->q)
			r = ftpc_cli_job_add(m->q, lp, rp) ? EX_OK : EX_LOCAL;
		else if (S_ISREG(st.st_mode))
			r = settle(m, ftpc_cli_put(m->c, lp, rp), lp);
		else
			r = settle(m, ftpc_cli_fail(EX_LOCAL, "%s: not a regular file", lp), lp);
	}
	closedir(d);
	return r;
}

/* The whole run: the top directory's own failure is the run's. With -P
 * the walk only queues the files, and c->parallel sessions copy them. */
int ftpc_cli_mirror(struct client *c, bool up, const char *from, const char *to)
{
	struct ftpc_cli_jobs q = { 0 };
	struct mirror m = { .c = c, .q = c->parallel > 1 ? &q : NULL };
	unsigned files = c->files, skipped = c->skipped;
	int r = up ? mirror_up(&m, from, to) : mirror_down(&m, from, to);
	if (m.q) {
		if (r != EX_OK)
			ftpc_cli_jobs_free(&q);   /* the walk failed: copy nothing */
		else
			r = ftpc_cli_jobs_run(c, up, &q);
		m.copied += c->files - files;
		m.skipped += c->skipped - skipped;
	}
	c->skipped = skipped + m.skipped;
	if (r == EX_OK && m.skipped) {
		fprintf(stderr, "%s: mirror: %u of %u entries skipped\n", FERRY_FTP_PROG, m.skipped,
			m.skipped + m.copied);
		return EX_PARTIAL;
	}
	return r;
}
