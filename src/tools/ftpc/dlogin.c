/* dlogin.c — the short dialogue that turns a new connection to the control
 * port into an SPSV data connection, as a state machine over whole replies
 * so that blocking and event-driven clients share it. */
#include <stdio.h>

#include "ftpc.h"

void ftpc_dlogin_start(struct ftpc_dlogin *d, enum ftpc_spsv_form form,
		       const struct ftpc_spsv *cred)
{
	*d = (struct ftpc_dlogin){ .form = form, .st = FTPC_DL_GREETING, .cred = cred };
}

static int say(char *out, size_t cap, const char *verb, const char *arg)
{
	int n = snprintf(out, cap, "%s %s\r\n", verb, arg);
	return n > 0 && (size_t)n < cap ? n : -1;
}

static int fail(struct ftpc_dlogin *d)
{
	d->st = FTPC_DL_FAILED;
	return -1;
}

int ftpc_dlogin_step(struct ftpc_dlogin *d, int code, const char *line, char *out,
		     size_t cap)
{
	(void)line;   /* "200 DATA" and "200DATA" alike: the code decides */
	int n;
	switch (d->st) {
	case FTPC_DL_GREETING:
		if (code == 120)
			return 0;          /* "ready in nnn minutes": keep waiting */
		if (code != 220)
			return fail(d);
		if (d->form == FTPC_SPSV_SPDT) {
			d->st = FTPC_DL_SPDT;
			n = say(out, cap, "SPDT", d->cred->ident);
		} else {
			d->st = FTPC_DL_USER;
			n = say(out, cap, "USER", d->cred->user);
		}
		return n < 0 ? fail(d) : n;
	case FTPC_DL_USER:
		if (code != 331)
			return fail(d);
		d->st = FTPC_DL_PASS;
		n = say(out, cap, "PASS", d->cred->pass);
		return n < 0 ? fail(d) : n;
	case FTPC_DL_PASS:
	case FTPC_DL_SPDT:
		if (code != 200)
			return fail(d);
		d->st = FTPC_DL_OPEN;
		return 0;
	case FTPC_DL_OPEN:
	case FTPC_DL_FAILED:
		break;
	}
	return fail(d);    /* a reply after the end: the data is not data */
}
