/* test_ftpc.c — unit tests of the tools' FTP client library's pure parts:
 * reply boundaries, PASV/EPSV/SPSV answers in both draft forms and the old
 * pure-ftpd one, and the SPSV data connection's login dialogue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ftpc.h"

static void replies_single_and_multi(void **state)
{
	(void)state;
	struct ftpc_reply_reader r = { 0 };
	assert_int_equal(ftpc_reply_line(&r, "220 ready"), 220);
	assert_int_equal(ftpc_reply_line(&r, "200DATA"), 200);
	assert_int_equal(ftpc_reply_line(&r, "230"), 230);
	assert_int_equal(ftpc_reply_line(&r, "211-Features:"), 0);
	assert_int_equal(ftpc_reply_line(&r, " SIZE"), 0);
	assert_int_equal(ftpc_reply_line(&r, "211-still inside"), 0);
	assert_int_equal(ftpc_reply_line(&r, "212 other code inside"), 0);
	assert_int_equal(ftpc_reply_line(&r, "211 End"), 211);
	assert_int_equal(r.multi, 0);
	assert_int_equal(ftpc_reply_line(&r, "hello"), -1);
	assert_int_equal(ftpc_reply_line(&r, "600 no"), -1);
	assert_int_equal(ftpc_reply_line(&r, "2a0 no"), -1);
	assert_int_equal(ftpc_reply_line(&r, ""), -1);
	assert_int_equal(ftpc_reply_line(&r, "12"), -1);
}

static void pasv_answers(void **state)
{
	(void)state;
	unsigned port = 0;
	assert_int_equal(ftpc_parse_pasv("227 Entering Passive Mode (127,0,0,1,4,1)", &port), 0);
	assert_int_equal(port, 1025);
	assert_int_equal(ftpc_parse_pasv("227 =10,1,2,3,200,7", &port), 0);   /* no brackets */
	assert_int_equal(port, 200 * 256 + 7);
	assert_int_equal(ftpc_parse_pasv("227 Mode 2 (10,0,0,1,0,21)", &port), 0);
	assert_int_equal(port, 21);
	assert_int_equal(ftpc_parse_pasv("227 (127,0,0,1,256,1)", &port), -1);
	assert_int_equal(ftpc_parse_pasv("227 (127,0,0,1,4)", &port), -1);
	assert_int_equal(ftpc_parse_pasv("227 (127,0,0,1,0,0)", &port), -1);
	assert_int_equal(ftpc_parse_pasv("227 (1,2,3,4,5,-6)", &port), -1);
	assert_int_equal(ftpc_parse_pasv("227 nothing", &port), -1);
	assert_int_equal(ftpc_parse_pasv("227", &port), -1);
}

static void epsv_answers(void **state)
{
	(void)state;
	unsigned port = 0;
	assert_int_equal(ftpc_parse_epsv("229 Entering Extended Passive Mode (|||6446|)", &port), 0);
	assert_int_equal(port, 6446);
	assert_int_equal(ftpc_parse_epsv("229 ok (!!!65535!)", &port), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(ftpc_parse_epsv("229 (|||65536|)", &port), -1);
	assert_int_equal(ftpc_parse_epsv("229 (|||0|)", &port), -1);
	assert_int_equal(ftpc_parse_epsv("229 (||6446|)", &port), -1);
	assert_int_equal(ftpc_parse_epsv("229 (|||6446)", &port), -1);
	assert_int_equal(ftpc_parse_epsv("229 (|||6446|", &port), -1);
	assert_int_equal(ftpc_parse_epsv("229 (", &port), -1);
}

static void spsv_dataconn_form(void **state)
{
	(void)state;
	struct ftpc_spsv s;
	assert_int_equal(ftpc_parse_spsv("227 Entering single-port mode (DATACONN:007aB)",
					 FTPC_SPSV_DATACONN, &s), FTPC_SPSV_OK);
	assert_string_equal(s.user, "DATACONN");
	assert_string_equal(s.pass, "007aB");
	/* the last bracket counts: informational text may hold others */
	assert_int_equal(ftpc_parse_spsv("227 mode (x) (U:P)", FTPC_SPSV_DATACONN, &s),
			 FTPC_SPSV_OK);
	assert_string_equal(s.user, "U");
	assert_int_equal(ftpc_parse_spsv("227 (DATACONN:)", FTPC_SPSV_DATACONN, &s), FTPC_SPSV_BAD);
	assert_int_equal(ftpc_parse_spsv("227 (:pw)", FTPC_SPSV_DATACONN, &s), FTPC_SPSV_BAD);
	assert_int_equal(ftpc_parse_spsv("227 (id-without-colon)", FTPC_SPSV_DATACONN, &s),
			 FTPC_SPSV_BAD);
	assert_int_equal(ftpc_parse_spsv("227 (U:P W)", FTPC_SPSV_DATACONN, &s), FTPC_SPSV_BAD);
	assert_int_equal(ftpc_parse_spsv("227 (U:P", FTPC_SPSV_DATACONN, &s), FTPC_SPSV_BAD);
	assert_int_equal(ftpc_parse_spsv(
		"227 (U:123456789012345678901234567890123)", FTPC_SPSV_DATACONN, &s), FTPC_SPSV_BAD);
	assert_int_equal(ftpc_parse_spsv("227 no brackets at all", FTPC_SPSV_DATACONN, &s),
			 FTPC_SPSV_BAD);
}

static void spsv_spdt_form(void **state)
{
	(void)state;
	struct ftpc_spsv s;
	assert_int_equal(ftpc_parse_spsv("227 Entering single-port mode (a1B2c3)",
					 FTPC_SPSV_SPDT, &s), FTPC_SPSV_OK);
	assert_string_equal(s.ident, "a1B2c3");
	/* g3 takes the whole bracket, a -01 answer included */
	assert_int_equal(ftpc_parse_spsv("227 (DATACONN:x)", FTPC_SPSV_SPDT, &s), FTPC_SPSV_OK);
	assert_string_equal(s.ident, "DATACONN:x");
	assert_int_equal(ftpc_parse_spsv("227 ()", FTPC_SPSV_SPDT, &s), FTPC_SPSV_BAD);
	assert_int_equal(ftpc_parse_spsv("227 (a b)", FTPC_SPSV_SPDT, &s), FTPC_SPSV_BAD);
}

static void spsv_old_pureftpd(void **state)
{
	(void)state;
	struct ftpc_spsv s;
	for (int f = FTPC_SPSV_DATACONN; f <= FTPC_SPSV_SPDT; f++) {
		assert_int_equal(ftpc_parse_spsv("227 41234", f, &s), FTPC_SPSV_OLD_PUREFTPD);
		assert_int_equal(ftpc_parse_spsv("227 Port 41234", f, &s),
				 FTPC_SPSV_OLD_PUREFTPD);
		/* a PASV-looking answer is not that form, just wrong */
		assert_int_equal(ftpc_parse_spsv("227 127,0,0,1,4,1", f, &s), FTPC_SPSV_BAD);
	}
}

static int step(struct ftpc_dlogin *d, int code, char *out)
{
	return ftpc_dlogin_step(d, code, "", out, 64);
}

static void data_login_dataconn(void **state)
{
	(void)state;
	struct ftpc_spsv cred = { .user = "DATACONN", .pass = "tok" };
	struct ftpc_dlogin d;
	char out[64];
	ftpc_dlogin_start(&d, FTPC_SPSV_DATACONN, &cred);
	assert_int_equal(step(&d, 120, out), 0);
	assert_int_equal(step(&d, 220, out), (int)strlen("USER DATACONN\r\n"));
	assert_memory_equal(out, "USER DATACONN\r\n", 15);
	assert_int_equal(step(&d, 331, out), (int)strlen("PASS tok\r\n"));
	assert_memory_equal(out, "PASS tok\r\n", 10);
	assert_int_equal(step(&d, 200, out), 0);
	assert_int_equal(d.st, FTPC_DL_OPEN);
	assert_int_equal(step(&d, 226, out), -1);     /* nothing after OPEN */

	ftpc_dlogin_start(&d, FTPC_SPSV_DATACONN, &cred);
	step(&d, 220, out);
	step(&d, 331, out);
	assert_int_equal(step(&d, 230, out), -1);     /* a normal login is not data */
	assert_int_equal(d.st, FTPC_DL_FAILED);
	ftpc_dlogin_start(&d, FTPC_SPSV_DATACONN, &cred);
	assert_int_equal(step(&d, 421, out), -1);
}

static void data_login_spdt(void **state)
{
	(void)state;
	struct ftpc_spsv cred = { .ident = "abc" };
	struct ftpc_dlogin d;
	char out[64];
	ftpc_dlogin_start(&d, FTPC_SPSV_SPDT, &cred);
	assert_int_equal(step(&d, 220, out), (int)strlen("SPDT abc\r\n"));
	assert_memory_equal(out, "SPDT abc\r\n", 10);
	assert_int_equal(step(&d, 200, out), 0);
	assert_int_equal(d.st, FTPC_DL_OPEN);
	ftpc_dlogin_start(&d, FTPC_SPSV_SPDT, &cred);
	step(&d, 220, out);
	assert_int_equal(step(&d, 500, out), -1);     /* a -01-only server */
	/* an out buffer too small is a failure, not a cut command */
	ftpc_dlogin_start(&d, FTPC_SPSV_SPDT, &cred);
	assert_int_equal(ftpc_dlogin_step(&d, 220, "", out, 8), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replies_single_and_multi),
		cmocka_unit_test(pasv_answers),
		cmocka_unit_test(epsv_answers),
		cmocka_unit_test(spsv_dataconn_form),
		cmocka_unit_test(spsv_spdt_form),
		cmocka_unit_test(spsv_old_pureftpd),
		cmocka_unit_test(data_login_dataconn),
		cmocka_unit_test(data_login_spdt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
