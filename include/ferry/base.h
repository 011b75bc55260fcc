/* base.h — the leaf module every other one uses: exit codes, the log,
 * address helpers, the growable buffer and the checked cursors. */
#ifndef FERRY_BASE_H
#define FERRY_BASE_H

#if defined(FERRY_MODULE) && !defined(FERRY_USES_BASE)
#error "ferry/base.h: this module may not use base (module graph: meson.build)"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- exit codes ------------------------------------------------------ */

/* Exit codes, as uftpproxyd(1) EXIT STATUS defines them. */
enum ferry_exit {
	FERRY_EXIT_OK = 0,
	FERRY_EXIT_PARAM = 1,  /* invalid command line or configuration */
	FERRY_EXIT_NET = 2,    /* network initialisation failed */
	FERRY_EXIT_CRYPTO = 3, /* key data could not be read or generated */
	FERRY_EXIT_LOG = 4,    /* log file could not be opened or rolled */
	FERRY_EXIT_ALLOC = 5,  /* memory allocation failed */
	FERRY_EXIT_INTR = 6,   /* interrupted by the user */
};

/* ---- the log (log.c) ------------------------------------------------- */

/* Levels 0 (least) to 5 (most verbose), as uftp's -x. */
enum { LOG_LVL_ERR = 0, LOG_LVL_WARN = 1, LOG_LVL_INFO = 2,
       LOG_LVL_VERB = 3, LOG_LVL_DEBUG = 4, LOG_LVL_TRACE = 5 };

/* path NULL: stderr. max_size_mb 0: no rolling. Returns 0 or
 * FERRY_EXIT_LOG with a message on stderr. */
int fb_log_open(const char *path, int level, int max_size_mb, int max_count);
int fb_log_reopen(void);            /* SIGHUP: the same path, and every fb_logfile */
void fb_log_close(void);            /* writes what is pending, then closes */
/* Returns once every line logged before the call is written (the lines go
 * to a log thread; tests and shutdown use this). Not from a worker. */
void fb_log_flush(void);
/* The calling thread (a worker) must never wait for the log: when its
 * buffer is full, lines are dropped and counted. Other threads wait. */
void fb_log_never_wait(void);
int fb_log_get_level(void);
void fb_log_set_level(int level);   /* SIGHUP with a new log_level */

/* One line: "YYYY/MM/DD HH:MM:SS.uuuuuu: [GROUP/INST:FILE]: message".
 * group 0 leaves out the bracketed part, as uftp does. */
void fb_log_line(int level, uint32_t group, uint8_t inst, uint16_t file,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Append-only files (transfer log, audit) written by the same log thread:
 * fb_logfile_write copies the line and never blocks (a full buffer drops
 * it, counted). Open, reopen and close from a control thread (main, start
 * and shutdown), not from a worker; write nothing to a file being closed.
 * fb_log_reopen (SIGHUP) reopens every open fb_logfile as well. */
struct fb_logfile;
/* O_NOFOLLOW | O_CLOEXEC | O_APPEND | O_CREAT; NULL and *err = -errno. */
struct fb_logfile *fb_logfile_open(const char *path, int *err);
void fb_logfile_write(struct fb_logfile *f, const char *line, size_t len);
int fb_logfile_reopen(struct fb_logfile *f);   /* 0 or -errno */
void fb_logfile_close(struct fb_logfile *f);   /* after writing what is queued */

#define flog(level, ...) fb_log_line((level), 0, 0, 0, __VA_ARGS__)
#define glog(level, grp, inst, file, ...) \
	fb_log_line((level), (grp), (inst), (file), __VA_ARGS__)

/* ---- addresses (addr.c): the one set of address helpers -------------- */

/* Splits "addr", "host:port", "[v6]" or "[v6]:port" into host (brackets
 * removed; hostlen bytes of room) and port. A bare IPv6 literal (two or
 * more colons) has no port. Without a port *port is left as it was;
 * *has_port (may be NULL) says which. Ports are 1-65535. 0 or -EINVAL. */
int fb_hostport_split(const char *spec, char *host, size_t hostlen,
		      uint16_t *port, bool *has_port);
/* "ADDR:PORT" (IP literals) parsed into out: 0 or -EINVAL. */
int fb_listen_parse(const char *spec, struct sockaddr_storage *out);
/* Two "ADDR:PORT" that name the same address and port (both parsed). */
bool fb_listen_same(const char *a, const char *b);
/* The same where port 0 means "any free port" (a listening socket). */
int fb_hostport_split_listen(const char *spec, char *host, size_t hostlen,
			     uint16_t *port, bool *has_port);
/* A port number 1-65535 (0-65535 with zero_ok) in decimal digits only.
 * 0 or -EINVAL. */
int fb_port_parse(const char *s, bool zero_ok, uint16_t *out);
/* An IPv4 or IPv6 literal (no name lookup) and a port. 0 or -EINVAL. */
int fb_addr_parse(const char *ip, uint16_t port, struct sockaddr_storage *out);
/* host: IP literal or name. getaddrinfo may block: call it at start-up or
 * on a helper thread, never on a worker. 0 or -errno. */
int fb_addr_resolve(const char *host, uint16_t port, int family,
		    struct sockaddr_storage *out);
/* Every IPv4/IPv6 address of host (at most max, in getaddrinfo's order),
 * each with port: how many (>= 1) or -errno. May block, as above. */
int fb_addr_resolve_all(const char *host, uint16_t port, int family,
			struct sockaddr_storage *out, size_t max);
/* An IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d), port kept, for an
 * AF_INET6 socket; any other family is left as it is. */
void fb_addr_v4_mapped(struct sockaddr_storage *ss);
/* "[v6]:port" / "v4:port" (port left out when 0). */
const char *fb_addr_format(const struct sockaddr *sa, char *buf, size_t len);
/* The IP address alone ("?" for another family). */
const char *fb_addr_ip(const struct sockaddr *sa, char *buf, size_t len);
socklen_t fb_addr_len(const struct sockaddr *sa);
socklen_t fb_family_len(int family);   /* the same, from the family alone */
uint16_t fb_addr_port(const struct sockaddr *sa);
void fb_addr_set_port(struct sockaddr_storage *ss, uint16_t port);
/* The same host: equal IP addresses, an IPv4-mapped IPv6 address being
 * its IPv4 one; ports are not compared. */
bool fb_addr_same_ip(const struct sockaddr *a, const struct sockaddr *b);
/* The same host and the same port. */
bool fb_addr_equal(const struct sockaddr *a, const struct sockaddr *b);
/* A multicast group address (224.0.0.0/4, ff00::/8). */
bool fb_addr_is_multicast(const struct sockaddr *a);
/* 16 bytes naming the host (IPv4 as IPv4-mapped IPv6), as a table key. */
void fb_addr_key(const struct sockaddr *a, uint8_t out[16]);

/* The same two for callers holding a sockaddr_storage. */
static inline bool fb_addr_same_host(const struct sockaddr_storage *a,
				     const struct sockaddr_storage *b)
{
	return fb_addr_same_ip((const struct sockaddr *)a, (const struct sockaddr *)b);
}

static inline const char *fb_addr_text(const struct sockaddr_storage *a,
				       char *out, size_t cap)
{
	return fb_addr_ip((const struct sockaddr *)a, out, cap);
}

/* ---- interfaces (iface.c) -------------------------------------------- */

struct fb_iface {
	char name[32];
	unsigned index;
	struct sockaddr_storage addr;   /* its first address of the family */
};

/* spec: "eth0", "host.example" or "198.18.0.1"; family AF_INET, AF_INET6 or
 * AF_UNSPEC (prefer IPv4). 0, or -ENOENT / -errno. */
int fb_iface_resolve(const char *spec, int family, struct fb_iface *out);

/* Every up, multicast-capable, non-loopback interface with an address of
 * the family; returns how many were written (at most max). */
int fb_iface_list_multicast(int family, struct fb_iface *out, int max);

/* uftp's default UID: the first multicast interface's IPv4 address, or the
 * last 4 bytes of its IPv6 address. 0 or -ENOENT. */
int fb_iface_default_uid(uint32_t *uid);

/* An address prefix: "ADDR/BITS" or a bare address (all bits). */
struct fb_prefix {
	int family;                     /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
};
int fb_prefix_parse(const char *text, struct fb_prefix *out); /* 0 / -EINVAL */
/* a within p; an IPv4-mapped IPv6 address matches IPv4 prefixes. */
bool fb_prefix_match(const struct fb_prefix *p, const struct sockaddr_storage *a);

/* ---- growable buffer (buf.c) ----------------------------------------- */

/* A growable byte buffer; the only place that does its math. */
struct fb_buf {
	char *p;
	size_t len, cap;
	bool failed;               /* an allocation failed: contents incomplete */
};
void fb_buf_append(struct fb_buf *b, const void *data, size_t len);
void fb_buf_printf(struct fb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fb_buf_consume(struct fb_buf *b, size_t len);
/* Room for len more bytes (NULL on failure); fb_buf_commit then adds them. */
char *fb_buf_space(struct fb_buf *b, size_t len);
void fb_buf_commit(struct fb_buf *b, size_t len);   /* drop len bytes at the front */
void fb_buf_free(struct fb_buf *b);

/* ---- checked cursors (cursor.c) -------------------------------------- */

/* A view: bytes owned by someone else (usually a received datagram). */
struct fb_bview {
	const uint8_t *p;
	size_t len;
};

/* The part of v before its first NUL byte (all of v if there is none):
 * for names sent NUL-padded to a fixed or word-rounded size. */
struct fb_bview fb_bview_until_nul(struct fb_bview v);

/* ---- reading ---------------------------------------------------------
 * Every read that would pass the end reads nothing, returns zero (or an
 * empty view) and sets the sticky error flag; later reads keep failing.
 * So a decoder may read a whole fixed header and test fb_rcur_ok() once.
 * The fields are private to cursor.c. */
struct fb_rcur {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool err;
};

void fb_rcur_init(struct fb_rcur *c, const void *p, size_t len);
uint8_t fb_rcur_u8(struct fb_rcur *c);
uint16_t fb_rcur_u16(struct fb_rcur *c);
uint32_t fb_rcur_u32(struct fb_rcur *c);
uint64_t fb_rcur_u64(struct fb_rcur *c);
struct fb_bview fb_rcur_bytes(struct fb_rcur *c, size_t n);  /* view, no copy */
void fb_rcur_skip(struct fb_rcur *c, size_t n);
/* Moves the next n bytes into a cursor of their own (the parent skips
 * them); on short input both cursors are in error. */
struct fb_rcur fb_rcur_sub(struct fb_rcur *c, size_t n);
/* Byte at offset at from the current position, without consuming it;
 * 0 and no error flag when absent (use fb_rcur_remaining to tell). */
uint8_t fb_rcur_peek(const struct fb_rcur *c, size_t at);
size_t fb_rcur_remaining(const struct fb_rcur *c);
size_t fb_rcur_offset(const struct fb_rcur *c);  /* bytes consumed so far */
bool fb_rcur_ok(const struct fb_rcur *c);

/* ---- writing ---------------------------------------------------------
 * Writes that do not fit write nothing and set the sticky overflow flag. */
struct fb_wcur {
	uint8_t *p;
	size_t cap;
	size_t off;
	bool err;
};

void fb_wcur_init(struct fb_wcur *c, void *buf, size_t cap);
/* A cursor over len bytes already written, to patch them in place. */
void fb_wcur_over(struct fb_wcur *c, void *buf, size_t len);
void fb_wcur_u8(struct fb_wcur *c, uint8_t v);
void fb_wcur_u16(struct fb_wcur *c, uint16_t v);
void fb_wcur_u32(struct fb_wcur *c, uint32_t v);
void fb_wcur_u64(struct fb_wcur *c, uint64_t v);
void fb_wcur_bytes(struct fb_wcur *c, const void *src, size_t n);
void fb_wcur_zeros(struct fb_wcur *c, size_t n);
/* Zero bytes until offset - from is a multiple of 4. */
void fb_wcur_pad4(struct fb_wcur *c, size_t from);
/* Overwrite bytes already written (at + size <= offset), e.g. a length
 * known only at the end; out of range sets the overflow flag. */
void fb_wcur_patch_u8(struct fb_wcur *c, size_t at, uint8_t v);
void fb_wcur_patch_u16(struct fb_wcur *c, size_t at, uint16_t v);
void fb_wcur_patch_u32(struct fb_wcur *c, size_t at, uint32_t v);
size_t fb_wcur_offset(const struct fb_wcur *c);
bool fb_wcur_ok(const struct fb_wcur *c);

/* ---- token.c: one-time credentials --------------------------------------- */
/* len random characters of [A-Za-z0-9] and a NUL into out. 0 or -EIO. */
int fb_token_random(char *out, size_t len);
/* Equal bytes, in time independent of where they differ. */
bool fb_ct_equal(const void *a, const void *b, size_t n);
/* A token table's bucket for random text (its first characters). */
unsigned fb_token_bucket(const char *text, unsigned buckets);

#endif
