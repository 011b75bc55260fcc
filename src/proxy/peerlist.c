/* peerlist.c — reads the -C and -S files (UID|IP|FINGERPRINT per line) into
 * arrays, rejecting a malformed line with its file and line number. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peerlist.h"

int proxy_fingerprint_parse(const char *text, uint8_t fp[PEER_FP_LEN])
{
	for (int i = 0; i < PEER_FP_LEN; i++) {
		const char *p = text + i * 3;
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
			return -1;
		if (p[2] != (i == PEER_FP_LEN - 1 ? '\0' : ':'))
			return -1;
		char hex[3] = { p[0], p[1], 0 };
		fp[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return 0;
}

static int parse_uid(const char *s, uint32_t *uid)
{
	char *end;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!isxdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long v = strtoul(s, &end, 16);
	if (*end || errno || v == 0 || v > 0xFFFFFFFFul || end - s > 8)
		return -1;
	*uid = (uint32_t)v;
	return 0;
}

static int parse_ip(const char *s, struct sockaddr_storage *ss)
{
	return fb_addr_parse(s, 0, ss) == 0 ? 0 : -1;
}

/* Splits at '|' in place; returns the field count (at most max). */
static int split(char *s, char **f, int max)
{
	int n = 0;
	while (n < max) {
		f[n++] = s;
		char *bar = strchr(s, '|');
		if (!bar)
			return n;
		*bar = '\0';
		s = bar + 1;
	}
	return n + 1;   /* more fields than allowed */
}

int proxy_peerlist_parse_line(const char *line, bool with_addr, struct peer *out,
			const char **why)
{
	char buf[512], *f[4];
	if (strlen(line) >= sizeof(buf)) {
		*why = "line too long";
		return -1;
	}
	strcpy(buf, line);
	int max = with_addr ? 3 : 2, n = split(buf, f, max);
	memset(out, 0, sizeof(*out));
	if (n > max) {
		*why = with_addr ? "expected UID|IP[|FINGERPRINT]" : "expected UID[|FINGERPRINT]";
		return -1;
	}
	if (parse_uid(f[0], &out->uid) < 0) {
		*why = "bad UID (expected 0xnnnnnnnn, not 0)";
		return -1;
	}
	int k = 1;
	if (with_addr) {
		if (n < 2 || parse_ip(f[1], &out->addr) < 0) {
			*why = "bad or missing IP address";
			return -1;
		}
		out->has_addr = true;
		k = 2;
	}
	if (n > k) {
		if (proxy_fingerprint_parse(f[k], out->fp) < 0) {
			*why = "bad fingerprint (expected 20 hex pairs separated by ':')";
			return -1;
		}
		out->has_fp = true;
	}
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int proxy_peerlist_load(const char *path, bool with_addr, struct peerlist *out,
		  char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	memset(out, 0, sizeof(*out));
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[1024];
	size_t cap = 0;
	int lineno = 0, r = 0;
	while (r == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		struct peer p;
		const char *why = NULL;
		if (proxy_peerlist_parse_line(s, with_addr, &p, &why) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			r = -1;
		} else if (out->n == cap) {
			cap = cap ? cap * 2 : 16;
			struct peer *v = realloc(out->v, cap * sizeof(*v));
			if (!v) {
				snprintf(err, errlen, "%s: out of memory", path);
				r = -1;
			} else {
				out->v = v;
			}
		}
		if (r == 0)
			out->v[out->n++] = p;
	}
	fclose(f);
	if (r)
		proxy_peerlist_free(out);
	return r;
}

void proxy_peerlist_free(struct peerlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

const struct peer *proxy_peerlist_find(const struct peerlist *l, uint32_t uid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].uid == uid)
			return &l->v[i];
	return NULL;
}
