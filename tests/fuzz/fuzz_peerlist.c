/* fuzz_peerlist.c — one line of a -C client list or -S server list
 * (UID[|IP][|FINGERPRINT]) through proxy_peerlist_parse_line, both kinds chosen
 * by the first byte, and the fingerprint parser on the rest. */
#include <stdlib.h>
#include <string.h>

#include "peerlist.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	char *line = malloc(size);
	if (!line)
		return 0;
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';
	struct peer p;
	const char *why = NULL;
	if (proxy_peerlist_parse_line(line, data[0] & 1, &p, &why) == 0) {
		FUZZ_CHECK(!(data[0] & 1) || p.has_addr);
	} else {
		FUZZ_CHECK(why != NULL);
	}
	uint8_t fp[PEER_FP_LEN];
	(void)proxy_fingerprint_parse(line, fp);
	free(line);
	return 0;
}
