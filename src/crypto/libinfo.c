/* libinfo.c — says which wolfSSL this process runs with (version, file,
 * and whether AES-NI and the Intel assembly are built in), for the log. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/version.h>

#include "ferry/crypto.h"

#ifdef WOLFSSL_AESNI
#define AESNI_BUILT "yes"
#else
#define AESNI_BUILT "no"
#endif
#ifdef USE_INTEL_SPEEDUP
#define INTELASM_BUILT "yes"
#else
#define INTELASM_BUILT "no"
#endif

/* The shared object wolfSSL_Init was loaded from, or "?". */
static const char *lib_file(void)
{
	Dl_info info;
	if (dladdr((void *)(size_t)wolfSSL_Init, &info) && info.dli_fname)
		return info.dli_fname;
	return "?";
}

static const char *cpu_aes(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes") ? "yes" : "no";
#else
	return "n/a";
#endif
}

int crypto_lib_describe(char *out, size_t cap)
{
	/* The AES-NI and assembly flags come from the options.h compiled
	 * against; the version from the library loaded. A mismatch means
	 * the headers and the library are not the same build. */
	const char *runtime = wolfSSL_lib_version();
	int n = snprintf(out, cap, "wolfSSL %s (%s); AES-NI built in: %s, Intel "
			 "assembly (AVX): %s, CPU has AES-NI: %s%s", runtime, lib_file(),
			 AESNI_BUILT, INTELASM_BUILT, cpu_aes(),
			 strcmp(runtime, LIBWOLFSSL_VERSION_STRING) ?
			 "; WARNING: compiled against other headers" : "");
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}
