/* cert_fixture.h — what the TLS cmocka tests share: a temporary directory
 * for the group (certs_setup makes it with a first certificate, cert and
 * key; certs_teardown removes it) and self-signed P-256 certificates made
 * in it by openssl at run time. Include after <cmocka.h>. */
#ifndef FERRY_TEST_CRYPTO_CERT_FIXTURE_H
#define FERRY_TEST_CRYPTO_CERT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

static char certs_dir[] = "/tmp/ferry-tlstest-XXXXXX";
static char cert[64], key[64];

/* certs_dir/name into path (cap bytes). */
static void certs_path(char *path, size_t cap, const char *name)
{
	snprintf(path, cap, "%s/%s", certs_dir, name);
}

/* A self-signed certificate crt and its key k, subject CN=cn, with the
 * subjectAltName san unless NULL; 0 when openssl made them. */
static int certs_make(const char *crt, const char *k, const char *cn, const char *san)
{
	char cmd[640];
	snprintf(cmd, sizeof(cmd), "openssl req -x509 -nodes -newkey ec -pkeyopt "
		 "ec_paramgen_curve:prime256v1 -keyout %s -out %s -days 1 -subj /CN=%s%s%s "
		 ">/dev/null 2>&1", k, crt, cn, san ? " -addext subjectAltName=" : "", san ? san : "");
	return system(cmd);
}

/* The group's directory and in it cert and key (CN=cn, subjectAltName san
 * unless NULL); 0 when both are there. */
static int certs_setup(const char *cn, const char *san)
{
	if (!mkdtemp(certs_dir))
		return -1;
	certs_path(cert, sizeof(cert), "c.pem");
	certs_path(key, sizeof(key), "k.pem");
	return certs_make(cert, key, cn, san) ? -1 : 0;
}

static int certs_teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", certs_dir);
	return system(cmd) ? -1 : 0;
}

#endif
