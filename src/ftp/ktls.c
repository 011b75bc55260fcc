/* ktls.c — PROT P downloads through the kernel's TLS (ftp.tls.ktls): the
 * start-up probe and what it found, and a binary RETR whose records the
 * kernel seals while the engine splices the file, ended by close_notify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/base.h"
#include "ftp_internal.h"

static const struct {
	unsigned bit;
	const char *name;
} combos[] = {
	{ FE_KTLS_TLS12_AES128, "TLS 1.2 AES-128-GCM" },
	{ FE_KTLS_TLS12_AES256, "TLS 1.2 AES-256-GCM" },
	{ FE_KTLS_TLS13_AES128, "TLS 1.3 AES-128-GCM" },
	{ FE_KTLS_TLS13_AES256, "TLS 1.3 AES-256-GCM" },
	{ FE_KTLS_TLS12_CHACHA, "TLS 1.2 ChaCha20-Poly1305" },
	{ FE_KTLS_TLS13_CHACHA, "TLS 1.3 ChaCha20-Poly1305" },
};

/* "TLS 1.2 AES-128-GCM, TLS 1.3 AES-128-GCM" for the bits of m. */
static const char *mask_text(unsigned m, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++)
		if (m & combos[i].bit)
			n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s",
					      n ? ", " : "", combos[i].name);
	return out;
}

/* The kernel's bit for what a connection negotiated. */
static unsigned combo_bit(const struct crypto_ktls *k)
{
	bool v13 = k->version == 13;
	switch (k->cipher) {
	case CRYPTO_KTLS_AES128_GCM: return v13 ? FE_KTLS_TLS13_AES128 : FE_KTLS_TLS12_AES128;
	case CRYPTO_KTLS_AES256_GCM: return v13 ? FE_KTLS_TLS13_AES256 : FE_KTLS_TLS12_AES256;
	case CRYPTO_KTLS_CHACHA20_POLY1305:
		return v13 ? FE_KTLS_TLS13_CHACHA : FE_KTLS_TLS12_CHACHA;
	}
	return 0;
}

/* Probes (unless "off") and says once what PROT P will use; *mask: what
 * the kernel seals, *rx: what it opens. 0, or FERRY_EXIT_PARAM when
 * "required" cannot be had. */
static int probe(const struct ftp_config *fc, unsigned *mask, unsigned *rx)
{
	*mask = *rx = 0;
	if (fc->tls_ktls == KTLS_OFF) {
		flog(LOG_LVL_INFO, "ftp: kTLS: off (ftp.tls.ktls); PROT P uses user-space TLS");
		return 0;
	}
	char why[128], list[192];
	*mask = fe_ktls_probe(why, sizeof(why), rx);
	/* Tests only: pretend the kernel takes these (FE_KTLS_* bits) both
	 * ways, so a kernel without kTLS runs the hand-overs up to their
	 * failing TLS_TX or TLS_RX and the fall-back to user space from there. */
	const char *fake = getenv("FERRY_TEST_KTLS_MASK");
	if (fake && *fake) {
		*mask = *rx = (unsigned)strtoul(fake, NULL, 0) & 63u;
		flog(LOG_LVL_WARN, "ftp: kTLS: FERRY_TEST_KTLS_MASK=%s: pretending the "
		     "kernel takes %s (tests only)", fake, mask_text(*mask, list, sizeof(list)));
	}
	if (*mask) {
		flog(LOG_LVL_INFO, "ftp: kTLS: available for %s; binary PROT P downloads "
		     "with those are sealed by the kernel and sent by splice",
		     mask_text(*mask, list, sizeof(list)));
		if (*rx)
			flog(LOG_LVL_INFO, "ftp: kTLS: receiving: %s; binary PROT P uploads with "
			     "those are opened by the kernel from the first record boundary after "
			     "the file is open, and spliced to it", mask_text(*rx, list, sizeof(list)));
		else
			flog(LOG_LVL_INFO, "ftp: kTLS: receiving: not available (TLS_RX refused); "
			     "PROT P uploads use user-space TLS");
		return 0;
	}
	if (fc->tls_ktls == KTLS_REQUIRED) {
		flog(LOG_LVL_ERR, "ftp: ftp.tls.ktls is \"required\" but kernel TLS is not "
		     "available: %s (load the tls module, or set \"auto\")", why);
		return FERRY_EXIT_PARAM;
	}
	flog(LOG_LVL_INFO, "ftp: kTLS: not available: %s; PROT P uses user-space TLS", why);
	return 0;
}

int ftp_ktls_setup(struct ftp_server *srv)
{
	return srv->tls_on ? probe(srv->fc, &srv->ktls, &srv->ktls_rx) : 0;
}

int ftp_ktls_check(const struct ftp_config *fc)
{
	unsigned mask, rx;
	bool tls = fc->tls_cert || fc->tls_cert_count;
	return tls ? probe(fc, &mask, &rx) : 0;
}

bool ftp_ktls_give(struct ftp_session *s, struct crypto_tls *t, bool rx)
{
	struct crypto_ktls k;
	char why[CRYPTO_ERR_LEN];
	unsigned long long id = (unsigned long long)s->id;
	const char *no = rx ? "kTLS upload not used" : "kTLS not used";
	int r = -1;
	if ((rx ? crypto_tls_ktls_rx(t, &k, why) : crypto_tls_ktls_tx(t, &k, why)) < 0)
		flog(LOG_LVL_DEBUG, "ftp: session %llu: %s: %s", id, no, why);
	else if (!((rx ? s->srv->ktls_rx : s->srv->ktls) & combo_bit(&k)))
		flog(LOG_LVL_DEBUG, "ftp: session %llu: %s: the kernel does not take this "
		     "version and cipher", id, no);
	else if ((r = rx ? fe_conn_ktls_rx(s->data.conn, k.info.bytes, k.len)
			 : fe_conn_ktls_tx(s->data.conn, k.info.bytes, k.len)) < 0)
		flog(LOG_LVL_WARN, "ftp: session %llu: kTLS: TLS_%s failed: %s; user-space TLS",
		     id, rx ? "RX" : "TX", strerror(-r));
	crypto_ktls_wipe(&k);
	return r == 0;
}

/* ---- one download -------------------------------------------------------- */

static void sent(struct fe_conn *c, int err, uint64_t bytes, void *arg)
{
	struct ftp_session *s = arg;
	(void)c;
	struct transfer *x = ftp_xfer_splice_ended(s, bytes);
	if (!x)
		return;
	if (err) {
		ftp_xfer_done(s, 426, "Connection closed; transfer aborted.", false);
		return;
	}
	x->eof = true;
	ftp_data_finish(s);     /* close_notify through the kernel; on_close: 226 */
}

/* Hands the sending side to the kernel and starts the splice: 0, 1 when
 * user space must do it (nothing changed), -1 when the transfer failed. */
static int hand_over(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	struct fe_conn *c = s->data.conn;
	struct crypto_tls *t = ftp_tlsdata_tls(s);
	if (!ftp_ktls_give(s, t, false))
		return 1;
	crypto_tls_kernel_tx(t);        /* from here on only the kernel seals */
	int err = 0;
	x->fx = fe_conn_sendfile(c, x->fd, x->offset, UINT64_MAX, sent, s, &err);
	if (!x->fx) {
		ftp_xfer_done(s, 425, "Can't start the transfer.", false);
		return -1;
	}
	s->fw->st.tls_data_sends[1]++;
	return 0;
}

/* Once our last handshake records left (fe_conn_ktls_tx wants nothing
 * queued), the kernel takes over, or user space goes on. */
static void try_now(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	struct fe_conn *c = s->data.conn;
	if (!ftp_tlsdata_flush(s) || fe_conn_queued(c))
		return;                         /* on_drained brings us back */
	x->ktls_wait = false;
	if (hand_over(s) != 1)
		return;
	fe_conn_resume(c);
	s->fw->st.tls_data_sends[0]++;
	ftp_transfer_on_drained(s);             /* the user-space path */
}

bool ftp_ktls_begin(struct ftp_session *s)
{
	struct transfer *x = s->xfer;
	if (!s->srv->ktls || x->ascii || x->kind != XK_RETR || !s->data.conn ||
	    !ftp_tlsdata_tls(s))
		return false;
	/* What the client sends meanwhile (its close_notify) waits in the
	 * kernel: the splice needs a connection that does not receive. */
	fe_conn_pause(s->data.conn);
	x->ktls_wait = true;
	try_now(s);
	return true;
}

bool ftp_ktls_drained(struct ftp_session *s)
{
	if (!s->xfer || !s->xfer->ktls_wait)
		return false;
	try_now(s);
	return true;
}
