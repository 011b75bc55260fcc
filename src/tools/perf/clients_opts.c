/* clients_opts.c — the options of ferry-perf clients: usage, parsing and
 * checking, and their part of the JSON report. */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "clients.h"
#include "ferry/base.h"
#include "ferry/crypto.h"

void perf_cl_usage(FILE *f)
{
	fprintf(f,
"usage: ferry-perf clients --proxy ADDR[:PORT] [options]\n"
"  Simulates a UFTP server and N clients around a response or client proxy;\n"
"  checks every client's REGISTER, FILEINFO_ACK and COMPLETE reaches the\n"
"  server exactly once and the STATUS NAKs arrive OR-ed; times aggregation.\n\n"
"  -p, --proxy ADDR[:PORT]     proxy under test (port 1044)\n"
"  -m, --mode response|client  response proxy (default) or client proxy\n"
"  -n, --clients N             simulated clients, 1-1000000 (1000)\n"
"      --ports N               client source ports (min(N, 1000))\n"
"      --client-addrs LIST     source addresses: A, A-B, A,B,... (IPv4)\n"
"      --server-bind ADDR[:PORT]  the simulated server's socket (0.0.0.0:0)\n"
"  -r, --rate R                client answers per second, or 'unlimited'\n"
"      --delay SEC             clients wait this long before answering (0.002)\n"
"      --grtt SEC              GRTT the server advertises (0.05)\n"
"      --robust N              ROBUST in the ANNOUNCE (20)\n"
"      --blocksize N           block size: UID lists hold N/4 (1300)\n"
"      --blocks N              blocks in the file's one section (1024)\n"
"      --nak-fraction F        clients with NAKs, 0-1 (0.1)\n"
"      --nak-blocks K          blocks each of them NAKs (4)\n"
"      --closed                closed group: the ANNOUNCE lists the UIDs\n"
"      --uid-base HEX          first client UID (C1000001)\n"
"      --server-uid HEX        the server's UID (5E000001)\n"
"      --group-id HEX          (random)\n"
"      --pub-mcast ADDR        public multicast address (230.4.4.1)\n"
"      --priv-mcast ADDR       private multicast address (239.255.70.1)\n"
"      --dest-port PORT        client mode: port the proxy sends to (1044)\n"
"      --mcast-if ADDR         client mode: interface address to join on\n"
"      --settle SEC            wait after a phase for duplicates (4 GRTT)\n"
"      --timeout SEC           per phase, plus 1.5 x answers / rate (10)\n"
"  -i, --interval SEC          seconds between reports, 0: none (1)\n"
"  -J, --json                  one JSON document at the end\n"
"  -A, --cpu N                 pin to CPU N\n"
"      --seed N                NAK choice (1)\n"
"Encrypted clients (response proxy; the registration alone is run):\n"
"      --keyex ecdh-ecdsa|ecdh-rsa|rsa  key exchange (none: a plain session)\n"
"      --cipher NAME           aes128-cbc, aes256-cbc, aes128-gcm, aes256-gcm,\n"
"                              aes128-ccm, aes256-ccm (aes256-gcm)\n"
"      --hash NAME             sha1, sha256, sha384, sha512 (sha256)\n"
"      --curve NAME            ECDH curve, and ECDSA keys' (prime256v1)\n"
"      --server-key SPEC       rsa:BITS or ec:CURVE (ec:CURVE, rsa:2048)\n"
"      --client-auth           the server asks for CLIENT_KEY\n"
"      --key-pool N            share N client keys round robin (0: one each)\n"
"      --resend SEC            REGISTER again after SEC without KEYINFO (1)\n"
"Forwarding probe (a plain session; replaces the file phases):\n"
"      --probe-rate R          CC_ACKs per second after the registration\n"
"      --probe-secs SEC        for this long (5)\n"
"Exit: 0 every UID once in every phase and the NAK union exact; 3 not;\n"
"1 usage; 2 system error.\n");
}

enum {
	O_PORTS = 256, O_ADDRS, O_BIND, O_DELAY, O_GRTT, O_ROBUST, O_BLOCKSIZE,
	O_BLOCKS, O_NAKF, O_NAKB, O_CLOSED, O_UIDBASE, O_SERVERUID, O_GROUP,
	O_PUB, O_PRIV, O_DPORT, O_MIF, O_SETTLE, O_TIMEOUT, O_SEED,
	O_RESEND, O_KEYEX, O_CIPHER, O_HASH, O_CURVE, O_SKEY, O_CAUTH, O_POOL, O_PRATE, O_PSECS,
};

static const struct option long_opts[] = {
	{ "proxy", required_argument, NULL, 'p' },
	{ "mode", required_argument, NULL, 'm' },
	{ "clients", required_argument, NULL, 'n' },
	{ "ports", required_argument, NULL, O_PORTS },
	{ "client-addrs", required_argument, NULL, O_ADDRS },
	{ "server-bind", required_argument, NULL, O_BIND },
	{ "rate", required_argument, NULL, 'r' },
	{ "delay", required_argument, NULL, O_DELAY },
	{ "grtt", required_argument, NULL, O_GRTT },
	{ "robust", required_argument, NULL, O_ROBUST },
	{ "blocksize", required_argument, NULL, O_BLOCKSIZE },
	{ "blocks", required_argument, NULL, O_BLOCKS },
	{ "nak-fraction", required_argument, NULL, O_NAKF },
	{ "nak-blocks", required_argument, NULL, O_NAKB },
	{ "closed", no_argument, NULL, O_CLOSED },
	{ "uid-base", required_argument, NULL, O_UIDBASE },
	{ "server-uid", required_argument, NULL, O_SERVERUID },
	{ "group-id", required_argument, NULL, O_GROUP },
	{ "pub-mcast", required_argument, NULL, O_PUB },
	{ "priv-mcast", required_argument, NULL, O_PRIV },
	{ "dest-port", required_argument, NULL, O_DPORT },
	{ "mcast-if", required_argument, NULL, O_MIF },
	{ "settle", required_argument, NULL, O_SETTLE },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "interval", required_argument, NULL, 'i' },
	{ "json", no_argument, NULL, 'J' },
	{ "cpu", required_argument, NULL, 'A' },
	{ "seed", required_argument, NULL, O_SEED },
	{ "keyex", required_argument, NULL, O_KEYEX },
	{ "resend", required_argument, NULL, O_RESEND },
	{ "cipher", required_argument, NULL, O_CIPHER },
	{ "hash", required_argument, NULL, O_HASH },
	{ "curve", required_argument, NULL, O_CURVE },
	{ "server-key", required_argument, NULL, O_SKEY },
	{ "client-auth", no_argument, NULL, O_CAUTH },
	{ "key-pool", required_argument, NULL, O_POOL },
	{ "probe-rate", required_argument, NULL, O_PRATE },
	{ "probe-secs", required_argument, NULL, O_PSECS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static bool parse_hex32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 16);
	if (errno || end == s || *end || v == 0 || v > 0xFFFFFFFEul)
		return false;
	*out = (uint32_t)v;
	return true;
}

struct named {
	const char *name;
	int value;
};

static const struct named keyexes[] = {
	{ "ecdh-ecdsa", UFTP_KEYEX_ECDH_ECDSA }, { "ecdh-rsa", UFTP_KEYEX_ECDH_RSA },
	{ "rsa", UFTP_KEYEX_RSA }, { NULL, 0 },
};
static const struct named ciphers[] = {
	{ "aes128-cbc", UFTP_KEY_AES128_CBC }, { "aes256-cbc", UFTP_KEY_AES256_CBC },
	{ "aes128-gcm", UFTP_KEY_AES128_GCM }, { "aes256-gcm", UFTP_KEY_AES256_GCM },
	{ "aes128-ccm", UFTP_KEY_AES128_CCM }, { "aes256-ccm", UFTP_KEY_AES256_CCM },
	{ NULL, 0 },
};
static const struct named hashes[] = {
	{ "sha1", UFTP_HASH_SHA1 }, { "sha256", UFTP_HASH_SHA256 },
	{ "sha384", UFTP_HASH_SHA384 }, { "sha512", UFTP_HASH_SHA512 }, { NULL, 0 },
};

static bool lookup(const struct named *t, const char *s, int *out)
{
	for (; t->name; t++)
		if (!strcmp(t->name, s)) {
			*out = t->value;
			return true;
		}
	return false;
}

/* An IPv4 literal, read by the one address parser (base addr.c). */
static bool parse_ip4(const char *s, struct in_addr *out)
{
	struct sockaddr_storage ss;
	if (fb_addr_parse(s, 0, &ss) < 0 || ss.ss_family != AF_INET)
		return false;
	*out = ((const struct sockaddr_in *)&ss)->sin_addr;
	return true;
}

/* "A", "A-B" (inclusive), or comma-separated of either. */
static bool parse_addrs(const char *arg, struct opts *o)
{
	char *copy = strdup(arg), *save = NULL;
	if (!copy)
		return false;
	bool ok = true;
	for (char *tok = strtok_r(copy, ",", &save); tok && ok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		struct in_addr a, b;
		if (dash)
			*dash = 0;
		if (!parse_ip4(tok, &a) || (dash && !parse_ip4(dash + 1, &b))) {
			ok = false;
			break;
		}
		uint32_t lo = ntohl(a.s_addr), hi = dash ? ntohl(b.s_addr) : lo;
		if (hi < lo || hi - lo >= 65536) {
			ok = false;
			break;
		}
		struct in_addr *v = realloc(o->addrs, (o->naddrs + (hi - lo + 1)) * sizeof(*v));
		if (!v) {
			ok = false;
			break;
		}
		o->addrs = v;
		for (uint64_t x = lo; x <= hi; x++)
			o->addrs[o->naddrs++].s_addr = htonl((uint32_t)x);
	}
	free(copy);
	return ok && o->naddrs > 0;
}

static void opts_default(struct opts *o)
{
	*o = (struct opts){ .clients = 1000, .grtt = 0.05, .delay = 0.002,
			    .settle = -1, .timeout = 10, .interval = 1, .cpu = -1,
			    .robust = 20, .blocksize = 1300, .blocks = 1024,
			    .nak_blocks = 4, .nak_fraction = 0.1,
			    .uid_base = 0xC1000001u, .server_uid = 0x5E000001u,
			    .dest_port = 1044, .seed = 1,
			    .keytype = UFTP_KEY_AES256_GCM, .hashtype = UFTP_HASH_SHA256,
			    .curve = "prime256v1", .key_pool = 0, .probe_secs = 5,
			    .resend = 1 };
	parse_ip4("230.4.4.1", &o->pub);
	parse_ip4("239.255.70.1", &o->priv);
	o->mcast_if.s_addr = htonl(INADDR_ANY);
	struct sockaddr_in any = { .sin_family = AF_INET };
	memcpy(&o->server_bind, &any, sizeof(any));
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "ferry-perf clients: bad %s '%s' (--help)\n", what, arg);
	return -1;
}

static int parse_one(struct opts *o, int ch, const char *arg, bool *have_proxy)
{
	double v;
	switch (ch) {
	case 'p':
		*have_proxy = true;
		return perf_parse_addr(arg, 1044, &o->proxy, "proxy");
	case 'm':
		if (strcmp(arg, "response") && strcmp(arg, "client"))
			return bad("mode", arg);
		o->client_mode = !strcmp(arg, "client");
		return 0;
	case 'n':
		if (!perf_parse_num(arg, 1, 1000000, &v) || v != (size_t)v)
			return bad("client count", arg);
		o->clients = (size_t)v;
		return 0;
	case O_PORTS:
		if (!perf_parse_num(arg, 1, 60000, &v))
			return bad("port count", arg);
		o->ports = (size_t)v;
		return 0;
	case O_ADDRS:
		return parse_addrs(arg, o) ? 0 : bad("client addresses", arg);
	case O_BIND:
		return perf_parse_addr(arg, 0, &o->server_bind, "server bind");
	case 'r':
		if (!strcmp(arg, "unlimited") || !strcmp(arg, "0")) {
			o->rate = 0;
			return 0;
		}
		if ((v = perf_parse_si(arg)) <= 0)
			return bad("rate", arg);
		o->rate = v;
		return 0;
	case O_DELAY: return perf_parse_num(arg, 0, 60, &o->delay) ? 0 : bad("delay", arg);
	case O_GRTT: return perf_parse_num(arg, 0.001, 100, &o->grtt) ? 0 : bad("GRTT", arg);
	case O_SETTLE: return perf_parse_num(arg, 0, 600, &o->settle) ? 0 : bad("settle", arg);
	case O_TIMEOUT: return perf_parse_num(arg, 0.1, 3600, &o->timeout) ? 0 : bad("timeout", arg);
	case 'i': return perf_parse_num(arg, 0, 3600, &o->interval) ? 0 : bad("interval", arg);
	case O_NAKF:
		return perf_parse_num(arg, 0, 1, &o->nak_fraction) ? 0 : bad("NAK fraction", arg);
	case O_ROBUST:
		if (!perf_parse_num(arg, 1, 255, &v))
			return bad("robust", arg);
		o->robust = (unsigned)v;
		return 0;
	case O_BLOCKSIZE:
		if (!perf_parse_num(arg, 64, 8800, &v))
			return bad("block size", arg);
		o->blocksize = (unsigned)v;
		return 0;
	case O_BLOCKS:
		if (!perf_parse_num(arg, 1, 8192, &v))
			return bad("block count", arg);
		o->blocks = (unsigned)v;
		return 0;
	case O_NAKB:
		if (!perf_parse_num(arg, 1, 1000, &v))
			return bad("NAK block count", arg);
		o->nak_blocks = (unsigned)v;
		return 0;
	case O_CLOSED: o->closed = true; return 0;
	case O_UIDBASE: return parse_hex32(arg, &o->uid_base) ? 0 : bad("UID", arg);
	case O_SERVERUID: return parse_hex32(arg, &o->server_uid) ? 0 : bad("UID", arg);
	case O_GROUP: return parse_hex32(arg, &o->group_id) ? 0 : bad("group ID", arg);
	case O_PUB: return parse_ip4(arg, &o->pub) ? 0 : bad("address", arg);
	case O_PRIV: return parse_ip4(arg, &o->priv) ? 0 : bad("address", arg);
	case O_MIF: return parse_ip4(arg, &o->mcast_if) ? 0 : bad("address", arg);
	case O_DPORT:
		if (!perf_parse_num(arg, 1, 65535, &v))
			return bad("port", arg);
		o->dest_port = (uint16_t)v;
		return 0;
	case 'J': o->json = true; return 0;
	case 'A':
		if (!perf_parse_num(arg, 0, 4095, &v))
			return bad("CPU", arg);
		o->cpu = (int)v;
		return 0;
	case O_KEYEX: return lookup(keyexes, arg, &o->keyex) ? 0 : bad("key exchange", arg);
	case O_CIPHER: return lookup(ciphers, arg, &o->keytype) ? 0 : bad("cipher", arg);
	case O_HASH: return lookup(hashes, arg, &o->hashtype) ? 0 : bad("hash", arg);
	case O_CURVE:
		if (!crypto_curve_supported(crypto_curve_by_name(arg)))
			return bad("curve", arg);
		o->curve = arg;
		return 0;
	case O_SKEY: o->server_key = arg; return 0;
	case O_RESEND: return perf_parse_num(arg, 0.01, 600, &o->resend) ? 0 : bad("resend time", arg);
	case O_CAUTH: o->client_auth = true; return 0;
	case O_POOL:
		if (!perf_parse_num(arg, 0, 1e6, &v))
			return bad("key pool size", arg);
		o->key_pool = (size_t)v;
		return 0;
	case O_PRATE:
		if ((v = perf_parse_si(arg)) <= 0 || v > 1e6)
			return bad("probe rate", arg);
		o->probe_rate = v;
		return 0;
	case O_PSECS: return perf_parse_num(arg, 0.1, 3600, &o->probe_secs) ? 0 : bad("probe time", arg);
	case O_SEED:
		if (!perf_parse_num(arg, 0, 1e18, &v))
			return bad("seed", arg);
		o->seed = (uint64_t)v;
		return 0;
	default:
		return -1;
	}
}

/* 0 to run, 1 for --help, -1 on a usage error. */
int perf_cl_parse_opts(int argc, char **argv, struct opts *o)
{
	bool have_proxy = false;
	int ch;
	opts_default(o);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "p:m:n:r:i:JA:h", long_opts, NULL)) != -1) {
		if (ch == 'h')
			return 1;
		if (ch == '?' || parse_one(o, ch, optarg, &have_proxy) < 0)
			return -1;
	}
	if (optind < argc)
		return bad("argument", argv[optind]);
	if (!have_proxy) {
		fprintf(stderr, "ferry-perf clients: --proxy is required\n");
		return -1;
	}
	if (o->proxy.ss_family != AF_INET || o->server_bind.ss_family != AF_INET) {
		fprintf(stderr, "ferry-perf clients: IPv4 only\n");
		return -1;
	}
	if (o->uid_base + (uint64_t)o->clients > 0xFFFFFFFFu ||
	    (o->server_uid >= o->uid_base && o->server_uid - o->uid_base < o->clients)) {
		fprintf(stderr, "ferry-perf clients: client UIDs overflow or hold the server's\n");
		return -1;
	}
	if (o->keyex && (o->client_mode || o->probe_rate > 0)) {
		fprintf(stderr, "ferry-perf clients: --keyex is for a response proxy, "
			"without --probe-rate\n");
		return -1;
	}
	o->sigtype = crypto_cipher_aead(o->keytype) ? UFTP_SIG_AUTHENC : UFTP_SIG_HMAC;
	if (o->blocks > o->blocksize * 8u) {
		fprintf(stderr, "ferry-perf clients: --blocks above blocksize * 8\n");
		return -1;
	}
	if (!o->naddrs) {
		o->addrs = malloc(sizeof(*o->addrs));
		if (!o->addrs)
			return -1;
		o->addrs[0] = ((const struct sockaddr_in *)&o->server_bind)->sin_addr;
		o->naddrs = 1;
	}
	if (!o->ports)
		o->ports = o->clients < 1000 ? o->clients : 1000;
	if (o->ports > o->clients)
		o->ports = o->clients;
	if (o->settle < 0)
		o->settle = 4 * o->grtt < 0.05 ? 0.05 : 4 * o->grtt;
	if (!o->group_id) {
		uint64_t r = splitmix(perf_now_ns() ^ (uint64_t)getpid() << 32);
		o->group_id = (uint32_t)r ? (uint32_t)r : 1;
	}
	return 0;
}

json_t *perf_cl_start_json(const struct opts *o)
{
	char proxy[64];
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:f, s:I, s:f, s:I, s:b}",
		"mode", o->client_mode ? "client" : "response",
		"proxy", perf_addr_str(&o->proxy, proxy, sizeof(proxy)),
		"clients", (json_int_t)o->clients, "ports", (json_int_t)o->ports,
		"addresses", (json_int_t)o->naddrs, "rate", o->rate, "grtt", o->grtt,
		"blocksize", (json_int_t)o->blocksize, "nak_fraction", o->nak_fraction,
		"group_id", (json_int_t)o->group_id, "closed", o->closed);
}
