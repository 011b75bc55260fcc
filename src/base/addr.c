/* addr.c — the one set of address helpers: host:port specs, IP literals,
 * name resolution, formatting and comparison of socket addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"

int fb_port_parse(const char *s, bool zero_ok, uint16_t *out)
{
	unsigned long v = 0;
	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if ((v < 1 && !zero_ok) || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int split(const char *spec, char *host, size_t hostlen, uint16_t *port,
		 bool *has_port, bool zero_ok)
{
	const char *h = spec, *p = NULL;
	size_t hlen;
	if (!spec || !*spec)
		return -EINVAL;
	if (*spec == '[') {
		const char *close = strchr(spec, ']');
		if (!close)
			return -EINVAL;
		if (close[1] == ':')
			p = close + 2;
		else if (close[1])
			return -EINVAL;
		h = spec + 1;
		hlen = (size_t)(close - h);
	} else {
		const char *colon = strchr(spec, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;           /* a bare IPv6 literal */
		hlen = colon ? (size_t)(colon - spec) : strlen(spec);
		p = colon ? colon + 1 : NULL;
	}
	uint16_t v = 0;
	if (hlen == 0 || hlen >= hostlen || (p && fb_port_parse(p, zero_ok, &v) < 0))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (p)
		*port = v;
	if (has_port)
		*has_port = p != NULL;
	return 0;
}

int fb_hostport_split(const char *spec, char *host, size_t hostlen,
		      uint16_t *port, bool *has_port)
{
	return split(spec, host, hostlen, port, has_port, false);
}

int fb_hostport_split_listen(const char *spec, char *host, size_t hostlen,
			     uint16_t *port, bool *has_port)
{
	return split(spec, host, hostlen, port, has_port, true);
}

int fb_addr_parse(const char *ip, uint16_t port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1)
		a4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1)
		a6->sin6_family = AF_INET6;
	else
		return -EINVAL;
	fb_addr_set_port(out, port);
	return 0;
}

int fb_addr_resolve_all(const char *host, uint16_t port, int family,
			struct sockaddr_storage *out, size_t max)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0)
		return r == EAI_SYSTEM ? -errno : -ENOENT;
	size_t n = 0;
	for (const struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(*out) ||
		    (ai->ai_family != AF_INET && ai->ai_family != AF_INET6))
			continue;
		memset(&out[n], 0, sizeof(*out));
		memcpy(&out[n], ai->ai_addr, ai->ai_addrlen);
		fb_addr_set_port(&out[n], port);
		n++;
	}
	freeaddrinfo(res);
	return n ? (int)n : -ENOENT;
}

int fb_addr_resolve(const char *host, uint16_t port, int family,
		    struct sockaddr_storage *out)
{
	int r = fb_addr_resolve_all(host, port, family, out, 1);
	return r < 0 ? r : 0;
}

void fb_addr_v4_mapped(struct sockaddr_storage *ss)
{
	if (ss->ss_family != AF_INET)
		return;
	struct sockaddr_in v4 = *(const struct sockaddr_in *)ss;
	struct sockaddr_in6 *m = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	m->sin6_family = AF_INET6;
	m->sin6_port = v4.sin_port;
	m->sin6_addr.s6_addr[10] = m->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&m->sin6_addr.s6_addr[12], &v4.sin_addr, 4);
}

socklen_t fb_family_len(int family)
{
	return family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

socklen_t fb_addr_len(const struct sockaddr *sa)
{
	return fb_family_len(sa->sa_family);
}

uint16_t fb_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
}

void fb_addr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

const char *fb_addr_ip(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    !inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

const char *fb_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	fb_addr_ip(sa, ip, sizeof(ip));
	uint16_t port = fb_addr_port(sa);
	if (!port)
		snprintf(buf, len, "%s", ip);
	else if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
	return buf;
}

/* The address bytes, an IPv4-mapped IPv6 address as its IPv4 one. */
static bool host_bytes(const struct sockaddr *a, const uint8_t **p, size_t *n)
{
	if (a->sa_family == AF_INET) {
		*p = (const uint8_t *)&((const struct sockaddr_in *)(const void *)a)->sin_addr;
		*n = 4;
		return true;
	}
	if (a->sa_family != AF_INET6)
		return false;
	const struct in6_addr *v6 = &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr;
	*p = v6->s6_addr;
	*n = 16;
	if (IN6_IS_ADDR_V4MAPPED(v6)) {
		*p += 12;
		*n = 4;
	}
	return true;
}

bool fb_addr_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	const uint8_t *pa, *pb;
	size_t na, nb;
	return host_bytes(a, &pa, &na) && host_bytes(b, &pb, &nb) && na == nb &&
	       !memcmp(pa, pb, na);
}

bool fb_addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	return fb_addr_same_ip(a, b) && fb_addr_port(a) == fb_addr_port(b);
}

bool fb_addr_is_multicast(const struct sockaddr *a)
{
	if (a->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr) >> 28) == 14;
	return a->sa_family == AF_INET6 &&
	       ((const struct sockaddr_in6 *)(const void *)a)->sin6_addr.s6_addr[0] == 0xff;
}

void fb_addr_key(const struct sockaddr *a, uint8_t out[16])
{
	const uint8_t *p;
	size_t n;
	memset(out, 0, 16);
	if (!host_bytes(a, &p, &n))
		return;
	if (n == 4)
		out[10] = out[11] = 0xff;   /* as IPv4-mapped IPv6 */
	memcpy(out + 16 - n, p, n);
}

int fb_listen_parse(const char *spec, struct sockaddr_storage *out)
{
	char host[64];
	uint16_t port = 0;
	int err = fb_hostport_split(spec, host, sizeof(host), &port, NULL);
	return err ? err : fb_addr_parse(host, port, out);
}

bool fb_listen_same(const char *a, const char *b)
{
	struct sockaddr_storage sa, sb;
	return fb_listen_parse(a, &sa) == 0 && fb_listen_parse(b, &sb) == 0 &&
	       fb_addr_equal((const struct sockaddr *)&sa, (const struct sockaddr *)&sb);
}
