/* curve.c — the EC curves uftp numbers (protocol.txt 5.3.12), their names
 * as uftp spells them, and which of them wolfCrypt here can use. */
#include <string.h>

#include "internal.h"

static const struct {
	const char *name;
	int wc;                  /* ECC_CURVE_INVALID: wolfCrypt lacks it */
} curves[] = {
	[1]  = { "sect163k1",  ECC_CURVE_INVALID },
	[2]  = { "sect163r1",  ECC_CURVE_INVALID },
	[3]  = { "sect163r2",  ECC_CURVE_INVALID },
	[4]  = { "sect193r1",  ECC_CURVE_INVALID },
	[5]  = { "sect193r2",  ECC_CURVE_INVALID },
	[6]  = { "sect233k1",  ECC_CURVE_INVALID },
	[7]  = { "sect233r1",  ECC_CURVE_INVALID },
	[8]  = { "sect239k1",  ECC_CURVE_INVALID },
	[9]  = { "sect283k1",  ECC_CURVE_INVALID },
	[10] = { "sect283r1",  ECC_CURVE_INVALID },
	[11] = { "sect409k1",  ECC_CURVE_INVALID },
	[12] = { "sect409r1",  ECC_CURVE_INVALID },
	[13] = { "sect571k1",  ECC_CURVE_INVALID },
	[14] = { "sect571r1",  ECC_CURVE_INVALID },
	[15] = { "secp160k1",  ECC_SECP160K1 },
	[16] = { "secp160r1",  ECC_SECP160R1 },
	[17] = { "secp160r2",  ECC_SECP160R2 },
	[18] = { "secp192k1",  ECC_SECP192K1 },
	[19] = { "prime192v1", ECC_SECP192R1 },
	[20] = { "secp224k1",  ECC_SECP224K1 },
	[21] = { "secp224r1",  ECC_SECP224R1 },
	[22] = { "secp256k1",  ECC_SECP256K1 },
	[23] = { "prime256v1", ECC_SECP256R1 },
	[24] = { "secp384r1",  ECC_SECP384R1 },
	[25] = { "secp521r1",  ECC_SECP521R1 },
};
#define NCURVES ((int)(sizeof(curves) / sizeof(*curves)))

/* OpenSSL's other names for two of them, which uftp accepts too. */
static const struct { const char *alias; int curve; } aliases[] = {
	{ "secp192r1", 19 }, { "secp256r1", 23 },
};

int crypto_curve_by_name(const char *name)
{
	for (int i = 1; name && i < NCURVES; i++)
		if (!strcmp(name, curves[i].name))
			return i;
	for (size_t i = 0; name && i < sizeof(aliases) / sizeof(*aliases); i++)
		if (!strcmp(name, aliases[i].alias))
			return aliases[i].curve;
	return 0;
}

const char *crypto_curve_name(int curve)
{
	return curve > 0 && curve < NCURVES ? curves[curve].name : "UNKNOWN";
}

int crypto_wc_curve(int curve)
{
	return curve > 0 && curve < NCURVES ? curves[curve].wc : ECC_CURVE_INVALID;
}

int crypto_curve_from_wc(int id)
{
	for (int i = 1; id != ECC_CURVE_INVALID && i < NCURVES; i++)
		if (curves[i].wc == id)
			return i;
	return 0;
}

/* wolfCrypt names every curve but builds only some (here from 224 bits);
 * a curve is usable when wolfCrypt knows its size. */
bool crypto_curve_supported(int curve)
{
	int id = crypto_wc_curve(curve);
	return id != ECC_CURVE_INVALID && wc_ecc_get_curve_size_from_id(id) > 0;
}
