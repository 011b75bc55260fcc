/* spdt.c — SPDT, the data login of the SPSV draft's version -00: a new
 * connection's first command "SPDT <identifier>" makes it the data
 * connection, as USER DATACONN + PASS <token> does in version -01. The
 * identifier is what the 227 reply's brackets hold ("DATACONN:<token>", as
 * bytedance's g3 sends it) or the bare token. */
#include <string.h>
#include <strings.h>

#include "ftp_internal.h"

void ftp_cmd_spdt(struct ftp_session *s, char *arg)
{
	if (s->state != ST_USER) {
		ftp_session_reply(s, 503, "SPDT must be the first command of a new connection.");
		return;
	}
	size_t ul = strlen(SPSV_USER);
	if (!strncasecmp(arg, SPSV_USER, ul) && arg[ul] == ':')
		arg += ul + 1;
	/* From here it is the -01 login's second step: the same token check,
	 * lockout, "200 DATA" and hand-off (login.c). */
	s->state = ST_DATAPASS;
	ftp_cmd_pass(s, arg);
}
