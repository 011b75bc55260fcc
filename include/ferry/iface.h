/* iface.h — naming interfaces and hosts the way uftp's flags do (interface
 * name, host name or IP literal), and formatting addresses for logs. */
#ifndef FERRY_IFACE_H
#define FERRY_IFACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct fe_iface {
	char name[32];
	unsigned index;
	struct sockaddr_storage addr;   /* its first address of the family */
};

/* spec: "eth0", "host.example" or "198.18.0.1"; family AF_INET, AF_INET6 or
 * AF_UNSPEC (prefer IPv4). 0, or -ENOENT / -errno. */
int iface_resolve(const char *spec, int family, struct fe_iface *out);

/* Every up, multicast-capable, non-loopback interface with an address of
 * the family; returns how many were written (at most max). */
int iface_list_multicast(int family, struct fe_iface *out, int max);

/* uftp's default UID: the first multicast interface's IPv4 address, or the
 * last 4 bytes of its IPv6 address. 0 or -ENOENT. */
int iface_default_uid(uint32_t *uid);

/* host: IP literal or name (resolved once, at start-up). 0 or -errno. */
int addr_resolve(const char *host, uint16_t port, int family,
		 struct sockaddr_storage *out);
/* "[v6]:port" / "v4:port" (port left out when 0). */
const char *addr_format(const struct sockaddr *sa, char *buf, size_t len);
socklen_t addr_len(const struct sockaddr *sa);
/* Same family and IP address; ports are not compared. */
bool addr_same_ip(const struct sockaddr *a, const struct sockaddr *b);
uint16_t addr_port(const struct sockaddr *sa);
void addr_set_port(struct sockaddr_storage *ss, uint16_t port);

/* An address prefix: "ADDR/BITS" or a bare address (all bits). */
struct fb_prefix {
	int family;                     /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
};
int fb_prefix_parse(const char *text, struct fb_prefix *out); /* 0 / -EINVAL */
/* a within p; an IPv4-mapped IPv6 address matches IPv4 prefixes. */
bool fb_prefix_match(const struct fb_prefix *p, const struct sockaddr_storage *a);

#endif
