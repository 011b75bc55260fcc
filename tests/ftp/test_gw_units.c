/* test_gw_units.c — the gateway's pure parts: verbs behind Telnet commands,
 * 229/227 ports, data login tokens, reply lines, and the token table's
 * one-time, expiring, address-bound grants. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "gw_internal.h"

static void commands(void **state)
{
	(void)state;
	char verb[16];
	const char *arg;
	size_t alen;
	assert_true(gw_parse_command("spsv\r\n", 6, verb, sizeof(verb), &arg, &alen));
	assert_string_equal(verb, "SPSV");
	assert_int_equal(alen, 0);
	const char abor[] = "\xff\xf4\xff\xf2" "ABOR\r\n";
	assert_true(gw_parse_command(abor, sizeof(abor) - 1, verb, sizeof(verb), &arg, &alen));
	assert_string_equal(verb, "ABOR");
	assert_true(gw_parse_command("SPDT DATACONN:abc\r\n", 19, verb, sizeof(verb), &arg, &alen));
	assert_string_equal(verb, "SPDT");
	assert_int_equal(alen, 12);
	assert_memory_equal(arg, "DATACONN:abc", 12);
	assert_false(gw_parse_command("1\r\n", 3, verb, sizeof(verb), &arg, &alen));
	assert_false(gw_parse_command("\r\n", 2, verb, sizeof(verb), &arg, &alen));
	assert_false(gw_parse_command("ABCDEFGHIJKLMNOPQRS\r\n", 21, verb, sizeof(verb), &arg, &alen));
}

static void passive_replies(void **state)
{
	(void)state;
	const char *e = "229 Entering Extended Passive Mode (|||30003|)\r\n";
	assert_int_equal(gw_parse_epsv(e, strlen(e)), 30003);
	e = "229 Extended Passive mode OK (!!!31006!)";
	assert_int_equal(gw_parse_epsv(e, strlen(e)), 31006);
	e = "229 (|||99999|)";
	assert_int_equal(gw_parse_epsv(e, strlen(e)), 0);
	e = "229 (||1|2|)";
	assert_int_equal(gw_parse_epsv(e, strlen(e)), 0);
	const char *p = "227 Entering Passive Mode (127,0,0,1,117,51).\r\n";
	assert_int_equal(gw_parse_pasv(p, strlen(p)), 117 * 256 + 51);
	p = "227 =10,0,0,1,4,1";
	assert_int_equal(gw_parse_pasv(p, strlen(p)), 1025);
	p = "227 (127,0,0,1,256,1)";
	assert_int_equal(gw_parse_pasv(p, strlen(p)), 0);
	p = "227 12345";          /* pure-ftpd 0.95-1.0.49's old SPSV answer */
	assert_int_equal(gw_parse_pasv(p, strlen(p)), 0);
}

static void tokens_of(void **state)
{
	(void)state;
	char out[64];
	assert_string_equal(gw_token_of("DATACONN:Ab1", 12, out, sizeof(out)), "Ab1");
	assert_string_equal(gw_token_of("dataconn:Ab1", 12, out, sizeof(out)), "Ab1");
	assert_string_equal(gw_token_of("Ab1", 3, out, sizeof(out)), "Ab1");
	assert_null(gw_token_of("../x", 4, out, sizeof(out)));
	assert_null(gw_token_of("DATACONN:", 9, out, sizeof(out)));
	assert_null(gw_token_of("", 0, out, sizeof(out)));
}

static void reply_lines(void **state)
{
	(void)state;
	bool last;
	assert_int_equal(gw_reply_code("220-Welcome\r\n", 13, &last), 220);
	assert_false(last);
	assert_int_equal(gw_reply_code("220 ready\r\n", 11, &last), 220);
	assert_true(last);
	assert_int_equal(gw_reply_code("200\r\n", 5, &last), 200);
	assert_true(last);
	assert_int_equal(gw_reply_code(" SPSV\r\n", 7, &last), -1);
	assert_int_equal(gw_reply_code("2200 x\r\n", 8, &last), -1);
	assert_int_equal(gw_reply_code("600 x\r\n", 7, &last), -1);
}

static void feat_tls(void **state)
{
	(void)state;
	assert_true(gw_parse_feat_tls(" AUTH TLS\r\n", 11));
	assert_true(gw_parse_feat_tls(" AUTH SSL;TLS\r\n", 15));     /* ProFTPD's form */
	assert_true(gw_parse_feat_tls(" auth tls-c\r\n", 13));
	assert_false(gw_parse_feat_tls(" AUTH SSL\r\n", 11));
	assert_false(gw_parse_feat_tls(" AUTHTLS\r\n", 10));
	assert_false(gw_parse_feat_tls(" PBSZ\r\n", 7));
	assert_false(gw_parse_feat_tls(" AUTH", 5));
	assert_false(gw_parse_feat_tls("", 0));
}

static struct sockaddr_storage v4(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	inet_pton(AF_INET, ip, &a->sin_addr);
	return ss;
}

static void token_table(void **state)
{
	(void)state;
	struct gw_tokens *t = gw_tokens_create();
	struct gw_grant g = { .session = 7, .owner = v4("198.18.0.2", 4000),
			      .target = v4("127.0.0.1", 30001) }, got;
	char tok[GW_TOKEN_LEN + 1], tok2[GW_TOKEN_LEN + 1];
	assert_int_equal(gw_tokens_issue(t, &g, 1000, 5000, tok), 0);
	assert_int_equal(strlen(tok), GW_TOKEN_LEN);
	struct sockaddr_storage other = v4("198.18.0.3", 1), owner = v4("198.18.0.2", 5555);
	assert_int_equal(gw_tokens_take(t, tok, &other, 1001, &got), -EPERM);
	assert_int_equal(gw_tokens_take(t, tok, &owner, 1002, &got), 0);
	assert_int_equal(((struct sockaddr_in *)&got.target)->sin_port, htons(30001));
	assert_int_equal(got.session, 7);
	assert_int_equal(gw_tokens_take(t, tok, &owner, 1003, &got), -ENOENT);   /* used */
	assert_int_equal(gw_tokens_issue(t, &g, 1000, 5000, tok), 0);
	assert_int_equal(gw_tokens_issue(t, &g, 1000, 5000, tok2), 0);          /* replaces */
	assert_int_equal(gw_tokens_take(t, tok, &owner, 1003, &got), -ENOENT);
	assert_int_equal(gw_tokens_take(t, tok2, &owner, 6001, &got), -ETIMEDOUT);
	assert_int_equal(gw_tokens_issue(t, &g, 1000, 5000, tok), 0);
	gw_tokens_revoke(t, 7);
	assert_int_equal(gw_tokens_take(t, tok, &owner, 1003, &got), -ENOENT);
	assert_int_equal(gw_tokens_take(t, "30001", &owner, 1003, &got), -ENOENT);
	gw_tokens_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(commands),
		cmocka_unit_test(passive_replies),
		cmocka_unit_test(tokens_of),
		cmocka_unit_test(reply_lines),
		cmocka_unit_test(feat_tls),
		cmocka_unit_test(token_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
