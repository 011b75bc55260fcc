/* passive.c — reading the port or the single-port credentials out of the
 * answers to PASV (RFC 959), EPSV (RFC 2428) and SPSV (both forms of
 * draft-rosenau-ftp-single-port), and recognising pure-ftpd's old,
 * incompatible SPSV. */
#include <string.h>

#include "ftpc.h"

static bool digit(char ch) { return ch >= '0' && ch <= '9'; }

/* A decimal number of at most 5 digits, not above max; advances *p. */
static bool take_uint(const char **p, unsigned max, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;
	int n = 0;
	while (digit(s[n]) && n < 5)
		v = v * 10 + (unsigned)(s[n++] - '0');
	if (!n || digit(s[n]) || v > max)
		return false;
	*p = s + n;
	*out = v;
	return true;
}

/* The text after the code and its separator ("227 text", "227-text"). */
static const char *text_of(const char *reply)
{
	size_t n = strlen(reply);
	return n > 4 ? reply + 4 : reply + n;
}

int ftpc_parse_pasv(const char *reply, unsigned *port)
{
	/* RFC 1123 4.1.2.6: the numbers may come without brackets; with
	 * them, digits in the text before do not count. */
	const char *p = strchr(text_of(reply), '(');
	p = p ? p + 1 : text_of(reply);
	while (*p && !digit(*p))
		p++;
	unsigned h[6];
	for (int i = 0; i < 6; i++) {
		if ((i && *p++ != ',') || !take_uint(&p, 255, &h[i]))
			return -1;
	}
	*port = h[4] << 8 | h[5];
	return *port ? 0 : -1;
}

int ftpc_parse_epsv(const char *reply, unsigned *port)
{
	/* (<d><d><d><port><d>) with any printable delimiter d, RFC 2428 3. */
	const char *p = strchr(text_of(reply), '(');
	if (!p || !p[1])
		return -1;
	char d = p[1];
	if (d < 33 || d > 126 || digit(d) || p[2] != d || p[3] != d)
		return -1;
	p += 4;
	unsigned v;
	if (!take_uint(&p, 65535, &v) || !v || p[0] != d || p[1] != ')')
		return -1;
	*port = v;
	return 0;
}

/* The draft allows 33-126 without brackets or colons, at most 32 long. */
static bool copy_token(const char *s, size_t n, char *out, size_t max)
{
	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 33 || ch > 126 || ch == '(' || ch == ')' || ch == ':')
			return false;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* Only a port number after "227 " (text around it allowed, no brackets):
 * what pure-ftpd 0.95-1.0.49 answered to its own SPSV, a port to connect
 * to, as PASV without the address. */
static bool old_pureftpd(const char *text)
{
	if (strchr(text, '('))
		return false;
	const char *p = text;
	while (*p && !digit(*p))
		p++;
	unsigned port;
	return *p && take_uint(&p, 65535, &port) && port && !strchr(p, ',');
}

enum ftpc_spsv_parse ftpc_parse_spsv(const char *reply, enum ftpc_spsv_form form,
				     struct ftpc_spsv *out)
{
	const char *last = strrchr(reply, '\n');
	const char *text = text_of(last ? last + 1 : reply);
	memset(out, 0, sizeof(*out));
	if (old_pureftpd(text))
		return FTPC_SPSV_OLD_PUREFTPD;
	const char *lp = strrchr(text, '('), *rp = lp ? strchr(lp, ')') : NULL;
	if (!rp)
		return FTPC_SPSV_BAD;
	const char *in = lp + 1;
	size_t n = (size_t)(rp - in);
	if (form == FTPC_SPSV_SPDT) {
		/* g3 sends whatever the brackets hold; it must still be one
		 * printable word to be a command argument. */
		if (!n || n > FTPC_IDENT_MAX)
			return FTPC_SPSV_BAD;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)in[i] < 33 || (unsigned char)in[i] > 126)
				return FTPC_SPSV_BAD;
		memcpy(out->ident, in, n);
		return FTPC_SPSV_OK;
	}
	const char *colon = memchr(in, ':', n);
	if (!colon ||
	    !copy_token(in, (size_t)(colon - in), out->user, FTPC_CRED_MAX) ||
	    !copy_token(colon + 1, (size_t)(rp - colon - 1), out->pass, FTPC_CRED_MAX))
		return FTPC_SPSV_BAD;
	return FTPC_SPSV_OK;
}
