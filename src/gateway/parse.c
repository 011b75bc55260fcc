/* parse.c — the little FTP the gateway reads: a command's verb, passive
 * replies (229 and 227) for their port, a data login's token, reply lines
 * for their code and whether they end a reply, and FEAT's AUTH TLS line. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "gw_internal.h"

enum { IAC = 255, WILL = 251, DONT = 254 };

/* Telnet commands before the verb (IAC IP IAC DM ABOR): two bytes, three
 * for option negotiation. */
static size_t skip_telnet(const unsigned char *p, size_t len, size_t i)
{
	while (i < len && (p[i] == IAC || p[i] == ' ')) {
		if (p[i] == ' ') {
			i++;
			continue;
		}
		if (i + 1 < len && p[i + 1] >= WILL && p[i + 1] <= DONT)
			i += 3;
		else
			i += 2;
	}
	return i;
}

bool gw_parse_command(const char *line, size_t len, char *verb, size_t cap,
		      const char **arg, size_t *arg_len)
{
	const unsigned char *p = (const unsigned char *)line;
	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	size_t i = skip_telnet(p, len, 0), n = 0;
	while (i < len && isalpha(p[i])) {
		if (n + 1 >= cap)
			return false;
		verb[n++] = (char)toupper(p[i++]);
	}
	verb[n] = '\0';
	if (!n || (i < len && p[i] != ' '))
		return false;
	if (i < len)
		i++;
	*arg = line + i;
	*arg_len = len - i;
	return true;
}

static bool digits(const char **p, const char *end, unsigned max, unsigned *out)
{
	unsigned v = 0;
	const char *s = *p;
	while (*p < end && isdigit((unsigned char)**p) && *p - s < 6)
		v = v * 10 + (unsigned)(*(*p)++ - '0');
	if (*p == s || v > max)
		return false;
	*out = v;
	return true;
}

uint16_t gw_parse_epsv(const char *line, size_t len)
{
	const char *end = line + len;
	const char *p = memchr(line, '(', len);
	unsigned port;
	if (!p || end - p < 6)
		return 0;
	char d = p[1];
	if (d < 33 || d > 126 || isdigit((unsigned char)d) || p[2] != d || p[3] != d)
		return 0;
	p += 4;
	if (!digits(&p, end, 65535, &port) || p + 1 >= end || p[0] != d || p[1] != ')')
		return 0;
	return (uint16_t)port;
}

uint16_t gw_parse_pasv(const char *line, size_t len)
{
	const char *end = line + len;
	const char *p = line + (len > 4 ? 4 : len);
	unsigned v[6];
	while (p < end && !isdigit((unsigned char)*p))
		p++;
	for (int i = 0; i < 6; i++) {
		if (!digits(&p, end, 255, &v[i]))
			return 0;
		if (i < 5 && (p >= end || *p++ != ','))
			return 0;
	}
	return (uint16_t)(v[4] * 256 + v[5]);
}

const char *gw_token_of(const char *arg, size_t len, char *out, size_t cap)
{
	size_t ul = sizeof(GW_DATA_USER) - 1;
	if (len > ul && !strncasecmp(arg, GW_DATA_USER ":", ul + 1)) {
		arg += ul + 1;
		len -= ul + 1;
	}
	if (!len || len >= cap)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)arg[i]))
			return NULL;
	memcpy(out, arg, len);
	out[len] = '\0';
	return out;
}

int gw_reply_code(const char *line, size_t len, bool *last)
{
	if (len < 3 || !isdigit((unsigned char)line[0]) || line[0] < '1' || line[0] > '5' ||
	    !isdigit((unsigned char)line[1]) || !isdigit((unsigned char)line[2]))
		return -1;
	char sep = len > 3 ? line[3] : '\n';
	if (sep != ' ' && sep != '-' && sep != '\r' && sep != '\n')
		return -1;
	*last = sep != '-';
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

bool gw_parse_feat_tls(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && line[i] == ' ')
		i++;
	if (len - i < 5 || strncasecmp(line + i, "AUTH", 4) || line[i + 4] != ' ')
		return false;
	for (size_t k = i + 5; k + 3 <= len; k++)
		if (!strncasecmp(line + k, "TLS", 3))
			return true;
	return false;
}
