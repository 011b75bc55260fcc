/* ktlsrx.c — PROT P uploads opened by the kernel's TLS (ftp.tls.ktls): which
 * uploads try, the hand-over of the receiving side at a record boundary,
 * and the end of the spliced upload, told by the record that is not data.
 *
 * Where the stream changes hands: the kernel must get the socket at the
 * first byte of a record, with nothing of the stream left in user space
 * (bytes read past a boundary cannot be pushed back). So while the kernel
 * could take a data connection, every receive asks only for the rest of
 * the record being read (tlsdata.c, fe_conn_recv_max): a header, then its
 * body. Once the upload's file is open, the first receive that ends a
 * record also stops the connection (paused, nothing in flight); user space
 * opens and writes every record it holds, and only then, with nothing left
 * in the layer, are the peer's keys and next sequence number handed to the
 * kernel (TLS_RX) and the rest of the upload spliced into the file. An
 * upload whose close_notify came before that point, an ASCII upload, or a
 * cipher the kernel lacks stays in user space; so does one whose TLS_RX
 * fails (a kernel without the tls ULP): nothing changed, receiving goes on. */
#include <errno.h>
#include <string.h>

#include "ferry/base.h"
#include "ftp_internal.h"

bool ftp_ktlsrx_wanted(const struct ftp_session *s)
{
	const struct transfer *x = s->xfer;
	return s->srv->ktls_rx && x && !x->ascii && ftp_xk_incoming(x->kind);
}

/* The client's record that ended the splice (-EINVAL or -EIO: not data):
 * 1 close_notify, 0 anything else (logged), -1 none: the error was the
 * file's (its last bytes are not on disk; the record waiting may well be
 * close_notify, and must not count). */
static int last_record(struct ftp_session *s, int err)
{
	uint8_t type = 0, body[64];
	long n = fe_conn_ktls_record(s->data.conn, &type, body, sizeof(body));
	if (n == -ENOMSG)
		return -1;
	if (n == 2 && type == FE_TLS_REC_ALERT && body[1] == 0)
		return 1;
	char host[64];
	const char *peer = fb_addr_text(&s->peer, host, sizeof(host));
	unsigned long long id = (unsigned long long)s->id;
	if (n < 0)
		flog(LOG_LVL_WARN, "ftp: session %llu from %s: kTLS upload: the splice ended (%s) "
		     "and no record can be read: %s", id, peer, strerror(-err), strerror((int)-n));
	else if (type == FE_TLS_REC_HANDSHAKE)
		flog(LOG_LVL_WARN, "ftp: session %llu from %s: kTLS upload: the client sent a "
		     "handshake message (a TLS 1.3 KeyUpdate?) that the kernel's TLS cannot "
		     "follow: upload aborted", id, peer);
	else if (type == FE_TLS_REC_ALERT && n == 2)
		flog(LOG_LVL_WARN, "ftp: session %llu from %s: kTLS upload: the client sent "
		     "alert %u (level %u)", id, peer, body[1], body[0]);
	else
		flog(LOG_LVL_WARN, "ftp: session %llu from %s: kTLS upload: unexpected record "
		     "(type %u, %ld bytes)", id, peer, type, n);
	return 0;
}

/* The splice into the file ended (err: fe_xfer_cb's): what that means. */
static void rx_ended(struct ftp_session *s, struct transfer *x, int err)
{
	if (!err) {                  /* the end of the stream, no close_notify */
		ftp_tlsdata_truncated(s);
		return;
	}
	bool not_data = err == -EINVAL || err == -EIO;    /* a record the kernel won't splice */
	int rec = not_data ? last_record(s, err) : 0;
	if (rec == 1) {
		x->peer_done = true;
		s->fw->st.tls_data_recvs[1]++;
		ftp_tlsdata_notified(s);    /* our close_notify answers it */
		ftp_upload_finish(s);
		return;
	}
	if (rec < 0 || err == -ENOSPC || err == -EDQUOT || err == -EFBIG) {
		ftp_xfer_write_failed(s, err);
		return;
	}
	if (!not_data) {
		char host[64];
		flog(LOG_LVL_WARN, "ftp: session %llu from %s: kTLS upload: %s",
		     (unsigned long long)s->id, fb_addr_text(&s->peer, host, sizeof(host)),
		     strerror(-err));
	}
	ftp_xfer_done(s, 426, "TLS error on the data connection; transfer aborted.", false);
}

static void spliced(struct fe_conn *c, int err, uint64_t bytes, void *arg)
{
	struct ftp_session *s = arg;
	struct transfer *x = ftp_xfer_splice_ended(s, bytes);
	(void)c;
	if (x)
		rx_ended(s, x, err);
}

bool ftp_ktlsrx_take(struct ftp_session *s, struct crypto_tls *t)
{
	struct transfer *x = s->xfer;
	if (!ftp_ktls_give(s, t, true))
		return false;
	crypto_tls_kernel_rx(t);        /* from here on only the kernel opens */
	x->ktls_rx = true;
	int err = 0;
	x->fx = fe_conn_recvfile(s->data.conn, x->fd, x->offset, spliced, s, &err);
	if (!x->fx)
		ftp_xfer_done(s, 425, "Can't start the transfer.", false);
	return true;
}
