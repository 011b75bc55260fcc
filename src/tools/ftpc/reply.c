/* reply.c — telling where an FTP reply ends, line by line (RFC 959 4.2),
 * for every client of the library whatever drives its sockets. */
#include "ftpc.h"

static bool digit(char ch) { return ch >= '0' && ch <= '9'; }

/* "xyz" with x in 1-5: the code, else -1. */
static int code_of(const char *line)
{
	if (line[0] < '1' || line[0] > '5' || !digit(line[1]) || !digit(line[2]))
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

int ftpc_reply_line(struct ftpc_reply_reader *r, const char *line)
{
	int code = code_of(line);
	if (r->multi) {
		/* Lines inside may be anything, even "123-..." again; only
		 * "xyz " (or a bare "xyz") with the opening code ends it. */
		if (code != r->multi || (line[3] != ' ' && line[3] != '\0'))
			return 0;
		r->multi = 0;
		return code;
	}
	if (code < 0)
		return -1;
	if (line[3] == '-') {
		r->multi = code;
		return 0;
	}
	return code;
}
