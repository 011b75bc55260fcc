/* tls_cert.h — a server certificate and key for the TLS harnesses
 * (fuzz_crypto_tls, fuzz_ftps), made once per process (tls_cert.c). */
#ifndef FERRY_FUZZ_TLS_CERT_H
#define FERRY_FUZZ_TLS_CERT_H

#include <stdbool.h>

struct fuzz_cert {
	char cert[256], key[256];   /* PEM file paths */
};

/* Made on the first call (a failure is a finding: openssl missing). */
const struct fuzz_cert *fuzz_cert_make(void);

/* tls_groups.c: the next wolfSSL_new returns NULL (true), or not. */
void fuzz_tls_fail_next(bool fail);

#endif
