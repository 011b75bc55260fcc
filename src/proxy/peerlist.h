/* peerlist.h — the -C client list and -S server list files: one peer per
 * line as UID[|IP][|FINGERPRINT], checked once at start-up. */
#ifndef FERRY_PROXY_PEERLIST_H
#define FERRY_PROXY_PEERLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ferry/base.h"

#define PEER_FP_LEN 20   /* SHA-1 of the public key blob, as uftp prints it */

struct peer {
	uint32_t uid;
	bool has_addr;
	struct sockaddr_storage addr;
	bool has_fp;
	uint8_t fp[PEER_FP_LEN];
};

struct peerlist {
	struct peer *v;
	size_t n;
};

/* with_addr: server lists carry UID|IP[|FP]; client lists UID[|FP].
 * Returns 0, or -1 with "file:line: what" in err. */
int proxy_peerlist_load(const char *path, bool with_addr, struct peerlist *out,
		  char *err, size_t errlen);
int proxy_peerlist_parse_line(const char *line, bool with_addr, struct peer *out,
			const char **why);
void proxy_peerlist_free(struct peerlist *l);
const struct peer *proxy_peerlist_find(const struct peerlist *l, uint32_t uid);
/* Parses "66:1E:...:BC" (20 hex pairs) into fp. 0 or -1. */
int proxy_fingerprint_parse(const char *text, uint8_t fp[PEER_FP_LEN]);

#endif
