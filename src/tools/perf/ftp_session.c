/* ftp_session.c — a ferry-perf ftp client's FTP dialogue: the login, one
 * transfer after another or an idle session, reply by reply. */
#include <string.h>

#include "ftp_client.h"

static void op_done(struct ftp_client *c, double ms)
{
	struct ftp_thread *t = c->t;
	c->ticketed = false;
	add(&t->ops, 1);
	samples_add(&t->latency_ms, ms);
	t->last_op_ns = perf_now_ns();
}

static double since_ms(uint64_t ns) { return (double)(perf_now_ns() - ns) / 1e6; }

static void logged_in(struct ftp_client *c)
{
	switch (opts(c)->mode) {
	case MODE_LOGIN:
		perf_ftp_wait_reply(c, C_QUIT);
		perf_ftp_say(c, "QUIT");
		break;
	case MODE_IDLE:
		samples_add(&c->t->latency_ms, since_ms(c->op_ns));
		add(&c->t->up, 1);
		perf_ftp_client_settled(c);
		c->st = C_IDLE;
		perf_ftp_set_deadline(c, opts(c)->noop > 0 ? (uint64_t)(opts(c)->noop * 1000) : UINT64_MAX);
		break;
	case MODE_RETR:
	case MODE_STOR:
		perf_ftp_wait_reply(c, C_TYPE);
		perf_ftp_say(c, "TYPE I");
		break;
	}
}

static void end_session(struct ftp_client *c)
{
	c->ending = true;
	perf_ftp_wait_reply(c, C_QUIT);
	perf_ftp_say(c, "QUIT");
}

static void next_transfer(struct ftp_client *c)
{
	if (stopping(c->t->run) || !ftp_take_ticket(c->t->run)) {
		end_session(c);
		return;
	}
	c->ticketed = opts(c)->count != 0;
	c->op_ns = perf_now_ns();
	c->moved = 0;
	c->got_150 = c->final = c->data_done = false;
	static const char *const verbs[] = { "PASV", "EPSV", "SPSV" };
	perf_ftp_wait_reply(c, C_DSETUP);
	perf_ftp_say(c, "%s", verbs[opts(c)->data]);
}

void perf_ftp_send_transfer_cmd(struct ftp_client *c)
{
	const struct ftp_opts *o = opts(c);
	const char *file = o->file ? o->file : "ferry-perf.dat";
	perf_ftp_wait_reply(c, C_XSTART);
	if (o->mode == MODE_RETR)
		perf_ftp_say(c, "RETR %s", file);
	else if (o->concurrency > 1)
		perf_ftp_say(c, "STOR %s.%u", file, c->id);
	else
		perf_ftp_say(c, "STOR %s", file);
}

void perf_ftp_transfer_check(struct ftp_client *c)
{
	if (!c->final || !c->data_done)
		return;
	struct ftp_thread *t = c->t;
	const struct ftp_opts *o = opts(c);
	perf_ftp_close_fd(c, true);
	c->dst = D_NONE;
	if (o->mode == MODE_RETR && o->size_given && c->moved != o->size) {
		perf_ftp_fail(c, ERR_SIZE, "RETR received %llu bytes, expected %llu",
		     (unsigned long long)c->moved, (unsigned long long)o->size);
		return;
	}
	double ms = since_ms(c->op_ns);
	op_done(c, ms);
	if (ms > 0)
		samples_add(&t->rate_mbps, (double)c->moved * 8 / 1e3 / ms);
	next_transfer(c);
}

/* The data connection's port (PASV, EPSV) or credentials (SPSV); false
 * with the reason said. */
static bool parse_answer(struct ftp_client *c, const char *line, unsigned *port)
{
	switch (opts(c)->data) {
	case DATA_PASV:
		return ftpc_parse_pasv(line, port) == 0;
	case DATA_EPSV:
		return ftpc_parse_epsv(line, port) == 0;
	case DATA_SPSV:
		break;
	}
	switch (ftpc_parse_spsv(line, opts(c)->spsv_form, &c->cred)) {
	case FTPC_SPSV_OK:
		*port = 0;
		return true;
	case FTPC_SPSV_OLD_PUREFTPD:
		perf_ftp_fail(c, ERR_PROTO, "'%s' is pure-ftpd's old SPSV, not the single-port draft's",
		     line);
		return false;
	case FTPC_SPSV_BAD:
		break;
	}
	return false;
}

static void data_open(struct ftp_client *c, const char *line)
{
	unsigned port = 0;
	bool spsv = opts(c)->data == DATA_SPSV;
	unsigned gen = c->gen;
	if (!parse_answer(c, line, &port)) {
		if (c->gen == gen)
			perf_ftp_fail(c, ERR_PROTO, "cannot parse '%s'", line);
		return;
	}
	int r = perf_ftp_dial(c, port, &c->dat);
	if (r < 0) {
		perf_ftp_fail(c, ERR_DATA, "data connect: %s", strerror(-r));
		return;
	}
	c->dst = D_CONNECTING;
	if ((r = perf_ftp_watch(c, true)) < 0) {
		perf_ftp_fail(c, ERR_DATA, "epoll: %s", strerror(-r));
		return;
	}
	if (spsv)
		c->st = C_DWAIT;          /* the deadline still runs */
	else
		perf_ftp_send_transfer_cmd(c);
}

/* A whole reply (its last line) on the control connection. */
void perf_ftp_on_reply(struct ftp_client *c, int code, const char *line)
{
	bool stor = opts(c)->mode == MODE_STOR;
	switch (c->st) {
	case C_GREETING:
		if (code == 120)
			return;           /* "ready in nnn minutes": wait for the 220 */
		if (code != 220)
			break;
		perf_ftp_wait_reply(c, C_USER);
		perf_ftp_say(c, "USER %s", opts(c)->user);
		return;
	case C_USER:
		if (code == 230) {
			logged_in(c);
			return;
		}
		if (code != 331)
			break;
		perf_ftp_wait_reply(c, C_PASS);
		perf_ftp_say(c, "PASS %s", opts(c)->pass);
		return;
	case C_PASS:
		if (code != 230 && code != 202)
			break;
		logged_in(c);
		return;
	case C_TYPE:
		if (code != 200)
			break;
		next_transfer(c);
		return;
	case C_DSETUP:
		if (code != (opts(c)->data == DATA_EPSV ? 229 : 227))
			break;
		data_open(c, line);
		return;
	case C_XSTART:
		if (code == 150 || code == 125) {
			c->got_150 = true;
			c->st = C_XFER;
			if (stor && c->dst == D_OPEN)
				perf_ftp_stor_output(c);
			return;
		}
		break;
	case C_XFER:
		if (code != 226 && code != 250)
			break;
		c->final = true;
		perf_ftp_transfer_check(c);
		return;
	case C_QUIT:
		if (code != 221)
			break;
		if (!c->ending && opts(c)->mode == MODE_LOGIN)
			op_done(c, since_ms(c->op_ns));
		c->st = C_CLOSING;
		perf_ftp_set_deadline(c, CLOSE_GRACE_MS);
		return;
	case C_NOOP:
		if (code != 200)
			break;
		c->st = C_IDLE;
		perf_ftp_set_deadline(c, (uint64_t)(opts(c)->noop * 1000));
		return;
	default:
		break;
	}
	perf_ftp_fail(c, ERR_REPLY, "'%s'", line);
}

