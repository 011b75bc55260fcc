/* tls_cert.c — a self-signed RSA-1024 certificate and its key for the TLS
 * harnesses (small, so that signing and checking cost little: see
 * tls_groups.c), made by openssl(1) once per process in a private temporary
 * directory (memory when /dev/shm is there) and removed at exit: made at
 * run time, never committed. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"
#include "tls_cert.h"

static struct fuzz_cert made;
static char dir[128];

static void remove_cert(void)
{
	unlink(made.cert);
	unlink(made.key);
	rmdir(dir);
}

const struct fuzz_cert *fuzz_cert_make(void)
{
	if (dir[0])
		return &made;
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_cert.XXXXXX", tmp);
	FUZZ_CHECK(mkdtemp(dir));
	snprintf(made.cert, sizeof(made.cert), "%s/cert.pem", dir);
	snprintf(made.key, sizeof(made.key), "%s/key.pem", dir);
	atexit(remove_cert);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -nodes -newkey rsa:1024 "
		 "-keyout %s -out %s -days 30 "
		 "-subj /CN=fuzz.ferry.test >/dev/null 2>&1", made.key, made.cert);
	if (system(cmd) != 0) {
		fprintf(stderr, "tls_cert: openssl could not make a certificate\n");
		FUZZ_CHECK(!"a certificate for the TLS harnesses (is openssl installed?)");
	}
	return &made;
}
