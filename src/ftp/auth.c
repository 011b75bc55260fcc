/* auth.c — password checks with libcrypt (crypt_rn: yescrypt, sha512-crypt,
 * whatever the hash names); the lockout is in lockout.c. */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include "ftp_internal.h"

bool ftp_auth_password_ok(const char *hash, const char *password)
{
	if (!hash || hash[0] != '$')
		return false;   /* no DES or empty hashes */
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return false;
	/* crypt_rn is libxcrypt's crypt_r that returns NULL instead of a "*"
	 * string on failure; it also escapes the sanitizers' crypt_r interceptor,
	 * which would otherwise satisfy the link and leave libcrypt out. */
	const char *h = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	size_t n = strlen(hash);
	bool ok = h && h[0] != '*' && strlen(h) == n && fb_ct_equal(h, hash, n);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}
