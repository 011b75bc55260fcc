/* netrc.c — ferry-ftp's .netrc: the login and password of the entry for a
 * host (machine, else default), as ftp(1) and curl read the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry_ftp.h"

/* The next whitespace-separated token (a "quoted token" may hold blanks);
 * NULL at the end. */
static const char *token(const char **p, char *out, size_t cap)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ',')
		s++;
	if (!*s)
		return NULL;
	size_t n = 0;
	bool quoted = *s == '"';
	s += quoted;
	while (*s && (quoted ? *s != '"' : !strchr(" \t\r\n,", *s))) {
		if (*s == '\\' && s[1])
			s++;
		if (n + 1 < cap)
			out[n++] = *s;
		s++;
	}
	if (quoted && *s == '"')
		s++;
	out[n] = '\0';
	*p = s;
	return out;
}

/* macdef NAME: the macro runs to the first empty line. */
static const char *skip_macdef(const char *p)
{
	const char *e = strstr(p, "\n\n");
	return e ? e + 2 : p + strlen(p);
}

bool ftpc_cli_netrc_find(const char *text, const char *host, const char *user,
			 struct ftpc_cli_netrc *out)
{
	char tok[256];
	const char *p = text;
	bool in = false;
	struct ftpc_cli_netrc cur = { 0 };
	while (token(&p, tok, sizeof(tok))) {
		bool machine = !strcmp(tok, "machine"), deflt = !strcmp(tok, "default");
		if (machine || deflt) {
			if (in && (!user || !strcmp(cur.login, user)) && (cur.login[0] || cur.password[0])) {
				*out = cur;
				return true;
			}
			in = deflt || (token(&p, tok, sizeof(tok)) && !strcasecmp(tok, host));
			cur = (struct ftpc_cli_netrc){ 0 };
		} else if (!strcmp(tok, "login") && token(&p, tok, sizeof(tok))) {
			if (in)
				snprintf(cur.login, sizeof(cur.login), "%s", tok);
		} else if (!strcmp(tok, "password") && token(&p, tok, sizeof(tok))) {
			if (in)
				snprintf(cur.password, sizeof(cur.password), "%s", tok);
		} else if (!strcmp(tok, "account")) {
			token(&p, tok, sizeof(tok));
		} else if (!strcmp(tok, "macdef")) {
			token(&p, tok, sizeof(tok));
			p = skip_macdef(p);
		}
	}
	if (in && (!user || !strcmp(cur.login, user)) && (cur.login[0] || cur.password[0])) {
		*out = cur;
		return true;
	}
	return false;
}

int ftpc_cli_netrc_load(const char *path, const char *host, const char *user,
			struct ftpc_cli_netrc *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : ftpc_cli_fail(-1, "%s: %s", path, strerror(errno));
	struct stat st;
	char *text = NULL;
	if (fstat(fd, &st) == 0 && st.st_size < (1 << 20) && (text = calloc(1, (size_t)st.st_size + 1))) {
		ssize_t n = read(fd, text, (size_t)st.st_size);
		if (n < 0)
			n = 0;
		text[n] = '\0';
	}
	close(fd);
	if (!text)
		return ftpc_cli_fail(-1, "%s: cannot read it", path);
	bool hit = ftpc_cli_netrc_find(text, host, user, out);
	free(text);
	if (!hit)
		return 0;
	/* As ftp(1): a password others can read is not used. */
	if (out->password[0] && (st.st_mode & 077))
		return ftpc_cli_fail(-1, "%s: holds a password but others may read it (chmod 600)",
				     path);
	return 1;
}
