/*
 * The emulated cmd.exe (sc_cmd.h).  A line goes through the phases of
 * cmd.exe's own parser, simplified: split at & && | || outside quotes
 * (^ escapes a character), then each command's redirections (> >> <,
 * a handle digit, 2>&1) taken out, then the command word looked up:
 * internal commands, then files of the session, then the programs of
 * system32 that matter here (cmd, ftp, tftp), else cmd.exe's "is not
 * recognized".  Nothing here runs, connects or touches a file.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "host.h"
#include "log.h"
#include "sc.h"
#include "sc_cmd.h"

#include "sc_cmd_int.h"

static void	sc_cmd_line(struct sc_cmd *, const char *, int);
static void	sc_cmd_segment_run(struct sc_cmd *, struct sc_cmd_frame *,
		    const char *, int, int);

/* --- small helpers ------------------------------------------------ */

void
sc_cmd_copy(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
sc_cmd_set(char *dst, size_t size, const char *src)
{
	sc_cmd_copy(dst, size, src, strlen(src));
}

int
sc_cmd_blank(int c)
{
	return c == ' ' || c == '\t';
}

const char *
sc_cmd_skip_blanks(const char *s)
{
	while (sc_cmd_blank(*s))
		s++;
	return s;
}

/* Copies s without blanks at either end. */
static void
sc_cmd_trim_blanks(char *dst, size_t size, const char *s)
{
	size_t	n;

	s = sc_cmd_skip_blanks(s);
	n = strlen(s);
	while (n > 0 && sc_cmd_blank(s[n - 1]))
		n--;
	sc_cmd_copy(dst, size, s, n);
}

/* Copies s without blanks at either end and without enclosing quotes. */
void
sc_cmd_trim(char *dst, size_t size, const char *s)
{
	size_t	n;

	s = sc_cmd_skip_blanks(s);
	n = strlen(s);
	while (n > 0 && sc_cmd_blank(s[n - 1]))
		n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	sc_cmd_copy(dst, size, s, n);
}

/*
 * Splits s into words as a program's C runtime would: blanks separate,
 * quotes group and are removed.  Returns the number of words (at most
 * SC_CMD_ARGS; each cut at SC_CMD_ARG - 1 bytes).
 */
int
sc_cmd_argv(const char *s, char argv[][SC_CMD_ARG])
{
	int	argc = 0, inq;
	size_t	n;

	for (;;) {
		s = sc_cmd_skip_blanks(s);
		if (*s == '\0' || argc == SC_CMD_ARGS)
			return argc;
		for (n = 0, inq = 0; *s != '\0' && (inq || !sc_cmd_blank(*s));
		    s++) {
			if (*s == '"')
				inq = !inq;
			else if (n < SC_CMD_ARG - 1)
				argv[argc][n++] = *s;
		}
		argv[argc++][n] = '\0';
	}
}

/* Whether s ends with the extension ext (".exe"), in any case. */
static int
sc_cmd_has_ext(const char *s, const char *ext)
{
	size_t	n = strlen(s), e = strlen(ext);

	return n > e && strcasecmp(s + n - e, ext) == 0;
}

/* The host a command's address stands for (sc_cmd.h), in buf. */
static const char *
sc_cmd_host(const struct sc_cmd *st, const char *h, uint16_t port, char *buf,
    size_t size)
{
	if (st->ops.host != NULL) {
		st->ops.host(st->ops.arg, h, port, buf, size);
		return buf;
	}
	if (st->attacker[0] != '\0' && addr_is_private(h))
		return st->attacker;
	return h;
}

/* A host name or address as a URL may carry it: no other characters. */
static int
sc_cmd_host_ok(const char *h)
{
	if (*h == '\0' || strlen(h) >= SC_CMD_HOST)
		return 0;
	for (; *h != '\0'; h++)
		if (!isalnum((unsigned char)*h) && *h != '.' && *h != '-' &&
		    *h != '_')
			return 0;
	return 1;
}

/* A port as written: 1 to 65535, digits only; 0 if not. */
static unsigned int
sc_cmd_port(const char *s)
{
	unsigned long	v;
	char		*end;

	if (!isdigit((unsigned char)*s))
		return 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return 0;
	return (unsigned int)v;
}

/*
 * Appends s to the URL being built at *n, percent-encoding what is not
 * printable ASCII, '%', and the characters in reserved.  -1 if it does
 * not fit: a URL cut short is another file.
 */
static int
sc_cmd_url_add(char *url, size_t size, size_t *n, const char *s,
    const char *reserved)
{
	static const char	hex[] = "0123456789ABCDEF";
	unsigned char		c;
	int			enc;

	if (*n >= size)
		return -1;
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		enc = c <= 0x20 || c >= 0x7f || c == '%' ||
		    strchr(reserved, c) != NULL;
		if (*n + (enc ? 3 : 1) >= size)
			break;
		if (enc) {
			url[(*n)++] = '%';
			url[(*n)++] = hex[c >> 4];
			url[(*n)++] = hex[c & 15];
		} else
			url[(*n)++] = (char)c;
	}
	url[*n] = '\0';
	return *s == '\0' ? 0 : -1;
}

/* Offers url, built whole (ok 0), or says why not. */
static void
sc_cmd_fetch_url(struct sc_cmd *st, const char *url, int ok)
{
	if (ok != 0) {
		log_info("cmd: a URL longer than %d bytes not fetched: %.64s...",
		    SC_CMD_URL - 1, url);
		return;
	}
	if (st->ops.fetch != NULL)
		st->ops.fetch(st->ops.arg, url);
}

/* --- output ------------------------------------------------------- */

/* Appends to a redirection's file buffer, within the session's cap. */
static void
sc_cmd_redir_add(struct sc_cmd *st, struct sc_cmd_redir *r, const char *text,
    size_t len)
{
	char	*nb;

	if (r->len + len > SC_CMD_FS_MAX)
		len = SC_CMD_FS_MAX - r->len;
	if (len == 0)
		return;
	if ((nb = realloc(r->buf, r->len + len)) == NULL)
		return;
	memcpy(nb + r->len, text, len);
	r->buf = nb;
	r->len += len;
}

/* Writes text to fd 1 (stdout) or 2 (stderr) through the redirections. */
void
sc_cmd_out(struct sc_cmd *st, int fd, const char *text, size_t len)
{
	struct sc_cmd_frame	*f;
	struct sc_cmd_redir	*r;
	int			 i = fd - 1;

	for (f = st->top; f != NULL; f = f->up) {
		r = &f->fd[i];
		if (r->to == SC_TO_DUP && i == 1) {
			i = 0;
			r = &f->fd[0];
		}
		if (r->to == SC_TO_NUL || r->to == SC_TO_DUP)
			return;
		if (r->to == SC_TO_FILE) {
			sc_cmd_redir_add(st, r, text, len);
			return;
		}
	}
	/* One line's output is capped: "type f&type f&..." is not. */
	if (st->runout + len > SC_CMD_OUT_MAX)
		len = SC_CMD_OUT_MAX - st->runout;
	if (st->ops.output != NULL && len > 0) {
		st->ops.output(st->ops.arg, text, len);
		st->outlen += len;
		st->runout += len;
	}
}

void
sc_cmd_puts(struct sc_cmd *st, int fd, const char *s)
{
	sc_cmd_out(st, fd, s, strlen(s));
}

void
sc_cmd_printf(struct sc_cmd *st, int fd, const char *fmt, ...)
{
	char	buf[SC_CMD_PATH + 256];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		sc_cmd_out(st, fd, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1);
}

/*
 * Counts a command (or a line of an ftp script) against the line's
 * budget: -1, and the line cut, past SC_CMD_STEPS.  A batch file that
 * runs itself fans out; an ftp script may be 32 KiB of lines.
 */
static int
sc_cmd_step(struct sc_cmd *st)
{
	if (st->steps == SC_CMD_STEPS) {
		st->cut = 1;
		return -1;
	}
	st->steps++;
	return 0;
}

/* --- the internal commands ---------------------------------------- */

/* echo TEXT, echo. (an empty line), echo alone, echo on|off. */
static int
sc_cmd_echo(struct sc_cmd *st, const char *text, int dot)
{
	char	w[8];

	if (!dot) {
		sc_cmd_trim(w, sizeof(w), text);
		if (w[0] == '\0' && strlen(text) == strspn(text, " \t")) {
			sc_cmd_puts(st, 1, "ECHO is on.\r\n");
			return 0;
		}
		if (strcasecmp(w, "on") == 0 || strcasecmp(w, "off") == 0)
			return 0;
	}
	sc_cmd_out(st, 1, text, strlen(text));
	sc_cmd_puts(st, 1, "\r\n");
	return 0;
}

/*
 * Runs line in a process of its own (cmd /c, start), one level deeper:
 * no batch file runs there yet.  Returns 1 if an exit ended it.
 */
static int
sc_cmd_process(struct sc_cmd *st, const char *line, int level)
{
	int	batch = st->batch, ended;

	st->batch = 0;
	st->procs++;
	sc_cmd_line(st, line, level + 1);
	st->procs--;
	st->batch = batch;
	ended = st->stop;
	st->stop = 0;
	return ended;
}

/*
 * start ["TITLE"] [/B /MIN /WAIT ...] [COMMAND]: the command runs in a
 * window of its own, so none of its output comes back.
 */
static int
sc_cmd_start(struct sc_cmd *st, const char *args, int level)
{
	struct sc_cmd_frame	 fr;
	const char		*p = sc_cmd_skip_blanks(args), *q;

	if (*p == '"' && (q = strchr(p + 1, '"')) != NULL)
		p = sc_cmd_skip_blanks(q + 1);
	while (*p == '/') {
		q = p;
		while (*p != '\0' && !sc_cmd_blank(*p))
			p++;
		/* /D takes a directory, /AFFINITY a mask. */
		if ((p - q == 2 && strncasecmp(q, "/d", 2) == 0) ||
		    (p - q == 9 && strncasecmp(q, "/affinity", 9) == 0)) {
			p = sc_cmd_skip_blanks(p);
			while (*p != '\0' && !sc_cmd_blank(*p))
				p++;
		}
		p = sc_cmd_skip_blanks(p);
	}
	if (*p == '\0')
		return 0;
	memset(&fr, 0, sizeof(fr));
	fr.up = st->top;
	fr.fd[0].to = fr.fd[1].to = SC_TO_NUL;
	st->top = &fr;
	sc_cmd_process(st, p, level);
	st->top = fr.up;
	return 0;
}

/*
 * cmd [/Q /D /A /U /E:ON /V:ON ...] [/C | /K] COMMAND: /C runs it, /K
 * runs it and stays, alone it starts an interactive level with its
 * banner.  A command in quotes loses the outer pair.
 */
static int
sc_cmd_cmd(struct sc_cmd *st, const char *args, int level)
{
	char		 inner[SC_CMD_LINE + 1], banner[SC_CMD_BANNER];
	const char	*p = sc_cmd_skip_blanks(args);
	size_t		 n;
	int		 stay = 1, cmd = 0, ended = 0;

	while (*p == '/' || *p == '-') {
		if (toupper((unsigned char)p[1]) == 'C' ||
		    toupper((unsigned char)p[1]) == 'K') {
			stay = toupper((unsigned char)p[1]) == 'K';
			cmd = 1;
			p += 2;
			break;
		}
		while (*p != '\0' && !sc_cmd_blank(*p))
			p++;
		p = sc_cmd_skip_blanks(p);
	}
	if (cmd) {
		p = sc_cmd_skip_blanks(p);
		n = strlen(p);
		while (n > 0 && sc_cmd_blank(p[n - 1]))
			n--;
		if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
			p++;
			n -= 2;
		}
		sc_cmd_copy(inner, sizeof(inner), p, n);
		ended = sc_cmd_process(st, inner, level);
	} else if ((n = sc_cmd_banner(st->version, banner,
	    sizeof(banner))) > 2)
		sc_cmd_out(st, 1, banner, n - 2);	/* the prompt's \r\n */
	if (stay && !ended && st->nest < SC_CMD_NEST)
		st->nest++;
	return st->err;
}

/* exit [/B] [CODE]: leaves the innermost interactive level. */
static int
sc_cmd_exit(struct sc_cmd *st, const char *args, int level)
{
	st->stop = 1;
	if (st->procs > 0)
		return 0;	/* ends the cmd /c or start it runs in */
	if (st->nest > 0)
		st->nest--;
	else
		st->exited = 1;
	return 0;
}

/* --- ftp and tftp ------------------------------------------------- */

/* The state of an ftp -s: script as ftp.exe would have it. */
struct sc_cmd_ftp {
	char	host[SC_CMD_HOST];
	char	user[SC_CMD_WORD];
	char	pass[SC_CMD_WORD];
	char	rdir[SC_CMD_PATH];	/* remote directory, after cd */
	unsigned int port;
	int	need;			/* 1: a user name, 2: a password */
	int	autologin;		/* without -n */
};

/* Offers remote file name of the connection ftp as a URL. */
static void
sc_cmd_ftp_get(struct sc_cmd *st, struct sc_cmd_ftp *ftp, const char *name,
    const char *local)
{
	char	url[SC_CMD_URL], path[2 * SC_CMD_PATH], host[SC_CMD_HOST];
	size_t	n = 0;
	int	ok = 0;

	if (ftp->host[0] == '\0' || name[0] == '\0')
		return;
	n = (size_t)snprintf(url, sizeof(url), "ftp://");
	if (ftp->user[0] != '\0') {
		ok |= sc_cmd_url_add(url, sizeof(url), &n, ftp->user, ":@/?#");
		ok |= sc_cmd_url_add(url, sizeof(url), &n, ":", "");
		ok |= sc_cmd_url_add(url, sizeof(url), &n, ftp->pass, ":@/?#");
		ok |= sc_cmd_url_add(url, sizeof(url), &n, "@", "");
	}
	if (ok == 0)
		n += (size_t)snprintf(url + n, sizeof(url) - n, "%s:%u/",
		    sc_cmd_host(st, ftp->host, ftp->port, host, sizeof(host)),
		    ftp->port);
	if (name[0] == '/' || ftp->rdir[0] == '\0')
		sc_cmd_set(path, sizeof(path), name + (name[0] == '/'));
	else
		snprintf(path, sizeof(path), "%s/%s", ftp->rdir, name);
	ok |= sc_cmd_url_add(url, sizeof(url), &n, path, "?#");
	sc_cmd_fetch_url(st, url, ok);
	(void)sc_cmd_file_put(st, local != NULL ? local : sc_cmd_base(name),
	    "", 0);
}

/* ftp's cd: a remote directory, relative or from the root. */
static void
sc_cmd_ftp_cd(struct sc_cmd_ftp *ftp, const char *dir)
{
	size_t	n;

	if (dir[0] == '/')
		sc_cmd_set(ftp->rdir, sizeof(ftp->rdir), dir + 1);
	else if (ftp->rdir[0] == '\0')
		sc_cmd_set(ftp->rdir, sizeof(ftp->rdir), dir);
	else if ((n = strlen(ftp->rdir)) + 1 < sizeof(ftp->rdir)) {
		ftp->rdir[n++] = '/';
		sc_cmd_set(ftp->rdir + n, sizeof(ftp->rdir) - n, dir);
	}
}

/* One line of an ftp script. Returns 1 at bye or quit. */
static int
sc_cmd_ftp_line(struct sc_cmd *st, struct sc_cmd_ftp *ftp, const char *line)
{
	char	argv[SC_CMD_ARGS][SC_CMD_ARG];
	int	argc, i;

	argc = sc_cmd_argv(line, argv);
	if (argc == 0)
		return 0;
	/* The User and Password prompts after open take the next lines. */
	if (ftp->need == 1 && strcasecmp(argv[0], "user") != 0) {
		sc_cmd_trim(ftp->user, sizeof(ftp->user), line);
		ftp->need = 2;
		return 0;
	}
	if (ftp->need == 2) {
		sc_cmd_trim(ftp->pass, sizeof(ftp->pass), line);
		ftp->need = 0;
		return 0;
	}
	if (strcasecmp(argv[0], "open") == 0 || strcasecmp(argv[0], "o") == 0) {
		ftp->host[0] = ftp->user[0] = ftp->pass[0] = ftp->rdir[0] = '\0';
		ftp->need = 0;
		if (argc < 2 || !sc_cmd_host_ok(argv[1]))
			return 0;
		ftp->port = argc > 2 ? sc_cmd_port(argv[2]) : 21;
		if (ftp->port == 0)
			return 0;
		sc_cmd_set(ftp->host, sizeof(ftp->host), argv[1]);
		ftp->need = ftp->autologin ? 1 : 0;
	} else if (strcasecmp(argv[0], "user") == 0 && argc > 1) {
		sc_cmd_set(ftp->user, sizeof(ftp->user), argv[1]);
		ftp->pass[0] = '\0';
		if (argc > 2)
			sc_cmd_set(ftp->pass, sizeof(ftp->pass), argv[2]);
		ftp->need = argc > 2 ? 0 : 2;
	} else if ((strcasecmp(argv[0], "quote") == 0 ||
	    strcasecmp(argv[0], "literal") == 0) && argc > 2) {
		if (strcasecmp(argv[1], "user") == 0)
			sc_cmd_set(ftp->user, sizeof(ftp->user), argv[2]);
		else if (strcasecmp(argv[1], "pass") == 0)
			sc_cmd_set(ftp->pass, sizeof(ftp->pass), argv[2]);
	} else if ((strcasecmp(argv[0], "get") == 0 ||
	    strcasecmp(argv[0], "recv") == 0) && argc > 1)
		sc_cmd_ftp_get(st, ftp, argv[1], argc > 2 ? argv[2] : NULL);
	else if (strcasecmp(argv[0], "mget") == 0) {
		for (i = 1; i < argc; i++)
			sc_cmd_ftp_get(st, ftp, argv[i], NULL);
	} else if (strcasecmp(argv[0], "cd") == 0 && argc > 1)
		sc_cmd_ftp_cd(ftp, argv[1]);
	else if (strcasecmp(argv[0], "close") == 0 ||
	    strcasecmp(argv[0], "disconnect") == 0)
		ftp->host[0] = '\0';
	else if (strcasecmp(argv[0], "bye") == 0 ||
	    strcasecmp(argv[0], "quit") == 0)
		return 1;
	return 0;
}

/* ftp [-v -n -i -d -g -a] [-s:FILE] [HOST]: runs the script FILE. */
static int
sc_cmd_ftp(struct sc_cmd *st, const char *args)
{
	char			 argv[SC_CMD_ARGS][SC_CMD_ARG];
	char			 full[SC_CMD_PATH], line[SC_CMD_ARG];
	struct sc_cmd_ftp	 ftp;
	struct sc_cmd_file	*f = NULL;
	const char		*script = NULL, *host = NULL, *p, *e;
	char			*text;
	int			 argc, i;

	memset(&ftp, 0, sizeof(ftp));
	ftp.autologin = 1;
	argc = sc_cmd_argv(args, argv);
	for (i = 0; i < argc; i++) {
		if (strncasecmp(argv[i], "-s:", 3) == 0)
			script = argv[i] + 3;
		else if (strcasecmp(argv[i], "-n") == 0)
			ftp.autologin = 0;
		else if (argv[i][0] != '-' && host == NULL)
			host = argv[i];
	}
	if (script == NULL)
		return 0;
	if (sc_cmd_resolve(st, script, full, sizeof(full)) == -1 ||
	    (f = sc_cmd_file(st, full)) == NULL || f->dir) {
		sc_cmd_printf(st, 1, "Error opening script file %s.\r\n",
		    script);
		return 1;
	}
	if (host != NULL) {
		memcpy(line, "open ", 5);
		sc_cmd_set(line + 5, sizeof(line) - 5, host);
		sc_cmd_ftp_line(st, &ftp, line);
	}
	/* A copy: a get adds a file, which may move the script's. */
	if ((text = malloc(f->len + 1)) == NULL)
		return 1;
	memcpy(text, f->data, f->len);
	text[f->len] = '\0';
	for (p = text; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
		e = p + strcspn(p, "\r\n");
		sc_cmd_copy(line, sizeof(line), p, (size_t)(e - p));
		if (sc_cmd_step(st) == -1 || sc_cmd_ftp_line(st, &ftp, line))
			break;
	}
	free(text);
	return 0;
}

/* tftp [-i] HOST [GET | PUT] SOURCE [DESTINATION] */
static int
sc_cmd_tftp(struct sc_cmd *st, const char *args)
{
	char		 argv[SC_CMD_ARGS][SC_CMD_ARG], url[SC_CMD_URL];
	char		 to[SC_CMD_HOST];
	const char	*host, *src;
	size_t		 n;
	int		 argc, i = 0;

	argc = sc_cmd_argv(args, argv);
	while (i < argc && argv[i][0] == '-')
		i++;
	if (argc - i < 3 || !sc_cmd_host_ok(argv[i]))
		return 1;
	host = argv[i];
	if (strcasecmp(argv[i + 1], "get") != 0)
		return strcasecmp(argv[i + 1], "put") == 0 ? 0 : 1;
	src = argv[i + 2];
	n = (size_t)snprintf(url, sizeof(url), "tftp://%s/",
	    sc_cmd_host(st, host, 69, to, sizeof(to)));
	sc_cmd_fetch_url(st, url, sc_cmd_url_add(url, sizeof(url), &n,
	    src + (src[0] == '/'), "?#"));
	(void)sc_cmd_file_put(st, argc - i > 3 ? argv[i + 3] :
	    sc_cmd_base(src), "", 0);
	return 0;
}

/* --- dispatch ----------------------------------------------------- */

/* Programs of system32 that say nothing when they succeed. */
static const char *const sc_cmd_quiet[] = {
	"at", "attrib", "cscript", "net", "net1", "netsh", "reg", "regedit",
	"regsvr32", "rundll32", "sc", "schtasks", "taskkill", "tskill",
	"wscript",
};

/*
 * Runs the batch file f, its lines one level deeper.  A batch file that
 * one of them runs without call takes over (cmd.exe does not come back
 * to the rest of the first): it runs next, at the same level.
 */
static int
sc_cmd_batch(struct sc_cmd *st, const struct sc_cmd_file *f, int level)
{
	char		 text[SC_CMD_LINE + 1], one[SC_CMD_LINE + 1];
	const char	*p, *e;

	if (level + 1 >= SC_CMD_DEPTH)
		return 0;
	st->batch++;
	while (f != NULL && !f->dir && f->len <= SC_CMD_LINE && !st->cut) {
		memcpy(text, f->data, f->len);
		text[f->len] = '\0';
		for (p = text; *p != '\0' && !st->stop && !st->cut;
		    p = *e != '\0' ? e + 1 : e) {
			e = p + strcspn(p, "\r\n");
			sc_cmd_copy(one, sizeof(one), p, (size_t)(e - p));
			sc_cmd_line(st, one, level + 1);
		}
		if (st->chain[0] == '\0')
			break;
		f = sc_cmd_file(st, st->chain);
		st->chain[0] = '\0';
		st->stop = 0;
	}
	st->chain[0] = '\0';
	st->batch--;
	st->stop = 0;
	return st->err;
}

/* Runs a file of the session named by word, if there is one; -1 if not. */
static int
sc_cmd_program(struct sc_cmd *st, const char *word, int level)
{
	static const char *const exts[] = { "", ".exe", ".com", ".bat",
	    ".cmd" };
	struct sc_cmd_file	*f = NULL;
	char			 name[SC_CMD_PATH], full[SC_CMD_PATH];
	size_t			 i;
	int			 call = st->call;

	st->call = 0;
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]) && f == NULL; i++) {
		if (i > 0 && strchr(sc_cmd_base(word), '.') != NULL)
			break;
		snprintf(name, sizeof(name), "%s%s", word, exts[i]);
		if (sc_cmd_resolve(st, name, full, sizeof(full)) == 0 &&
		    (f = sc_cmd_file(st, full)) != NULL && f->dir)
			f = NULL;
	}
	if (f == NULL)
		return -1;
	if (!sc_cmd_has_ext(f->path, ".bat") && !sc_cmd_has_ext(f->path,
	    ".cmd"))
		return 0;
	if (st->batch > 0 && !call) {
		/* Hands over: the batch file running ends here. */
		sc_cmd_set(st->chain, sizeof(st->chain), f->path);
		st->stop = 1;
		return 0;
	}
	return sc_cmd_batch(st, f, level);
}

/* The programs: word is the command as typed, args what follows it. */
static int
sc_cmd_external(struct sc_cmd *st, const char *word, const char *args,
    int level)
{
	char	name[SC_CMD_ARG], base[SC_CMD_WORD];
	size_t	i, n;
	int	rc;

	sc_cmd_trim(name, sizeof(name), word);
	if ((rc = sc_cmd_program(st, name, level)) != -1)
		return rc;
	sc_cmd_set(base, sizeof(base), sc_cmd_base(name));
	if ((n = strlen(base)) > 4 && (sc_cmd_has_ext(base, ".exe") ||
	    sc_cmd_has_ext(base, ".com")))
		base[n - 4] = '\0';
	if (strcasecmp(base, "cmd") == 0)
		return sc_cmd_cmd(st, args, level);
	if (strcasecmp(base, "ftp") == 0)
		return sc_cmd_ftp(st, args);
	if (strcasecmp(base, "tftp") == 0)
		return sc_cmd_tftp(st, args);
	if (strcasecmp(base, "hostname") == 0) {
		sc_cmd_printf(st, 1, "%s\r\n", st->name);
		return 0;
	}
	for (i = 0; i < sizeof(sc_cmd_quiet) / sizeof(sc_cmd_quiet[0]); i++)
		if (strcasecmp(base, sc_cmd_quiet[i]) == 0)
			return 0;
	sc_cmd_printf(st, 2, "'%s' is not recognized as an internal or "
	    "external command,\r\noperable program or batch file.\r\n", word);
	return 9009;
}

/*
 * One command, its redirections already taken out: the command word,
 * then the internal command or the program it names.
 */
static int
sc_cmd_word(struct sc_cmd *st, const char *text, int level)
{
	char		 word[SC_CMD_ARG], banner[SC_CMD_BANNER];
	const char	*p = text, *rest;
	size_t		 n;

	while (sc_cmd_blank(*p) || *p == '@')
		p++;
	if (*p == '\0')
		return st->err;
	if (*p == '"') {
		rest = strchr(p + 1, '"');
		rest = rest != NULL ? rest + 1 : p + strlen(p);
		n = (size_t)(rest - p);
	} else {
		n = strcspn(p, " \t/,;=");
		/* echo. echo: echo( and cd.. cd\ need no blank. */
		if (n > 4 && strncasecmp(p, "echo", 4) == 0 &&
		    strchr(".:(", p[4]) != NULL)
			return sc_cmd_echo(st, p + 5, 1);
		if (n > 2 && strncasecmp(p, "cd", 2) == 0 &&
		    (p[2] == '.' || p[2] == '\\'))
			return sc_cmd_cd(st, p + 2);
		rest = p + n;
	}
	sc_cmd_copy(word, sizeof(word), p, n);
	if (strcasecmp(word, "echo") == 0)
		return sc_cmd_echo(st, *rest != '\0' ? rest + 1 : rest, 0);
	if (strcasecmp(word, "type") == 0)
		return sc_cmd_type(st, rest);
	if (strcasecmp(word, "dir") == 0)
		return sc_cmd_dir(st, rest);
	if (strcasecmp(word, "cd") == 0 || strcasecmp(word, "chdir") == 0)
		return sc_cmd_cd(st, rest);
	if (strcasecmp(word, "del") == 0 || strcasecmp(word, "erase") == 0)
		return sc_cmd_del(st, rest);
	if (strcasecmp(word, "md") == 0 || strcasecmp(word, "mkdir") == 0)
		return sc_cmd_md(st, rest);
	if (strcasecmp(word, "start") == 0)
		return sc_cmd_start(st, rest, level);
	if (strcasecmp(word, "exit") == 0)
		return sc_cmd_exit(st, rest, level);
	if (strcasecmp(word, "ver") == 0) {
		n = sc_cmd_banner(st->version, banner, sizeof(banner));
		sc_cmd_puts(st, 1, "\r\n");
		sc_cmd_out(st, 1, banner, strcspn(banner, "\n") + 1);
		return 0;
	}
	if (strcasecmp(word, "rem") == 0 || strcasecmp(word, "cls") == 0 ||
	    strcasecmp(word, "title") == 0 || strcasecmp(word, "color") == 0)
		return 0;
	if (strcasecmp(word, "pause") == 0) {
		sc_cmd_puts(st, 1, "Press any key to continue . . . ");
		return 0;
	}
	if (n == 2 && isalpha((unsigned char)word[0]) && word[1] == ':') {
		if (toupper((unsigned char)word[0]) == 'C')
			return 0;
		sc_cmd_puts(st, 2, "The system cannot find the drive "
		    "specified.\r\n");
		return 1;
	}
	return sc_cmd_external(st, word, rest, level);
}

/*
 * One command: call (a batch file it names comes back to the caller),
 * however many times, then the command.
 */
static int
sc_cmd_simple(struct sc_cmd *st, const char *text, int level)
{
	const char	*p = text;
	int		 rc;

	while (sc_cmd_blank(*p) || *p == '@')
		p++;
	while (strncasecmp(p, "call", 4) == 0 && (p[4] == '\0' ||
	    sc_cmd_blank(p[4]))) {
		st->call = 1;
		p = sc_cmd_skip_blanks(p + 4);
	}
	rc = sc_cmd_word(st, p, level);
	st->call = 0;
	return rc;
}

/* The file name after a redirection operator; p moves past it. */
static void
sc_cmd_redir_name(const char **pp, char *out, size_t size)
{
	const char	*p = sc_cmd_skip_blanks(*pp);
	size_t		 n = 0;
	int		 inq = 0;

	for (; *p != '\0' && (inq || (!sc_cmd_blank(*p) &&
	    strchr("<>&|", *p) == NULL)); p++) {
		if (*p == '"')
			inq = !inq;
		else if (*p == '^' && !inq && p[1] != '\0') {
			p++;
			if (n + 1 < size)
				out[n++] = *p;
		} else if (n + 1 < size)
			out[n++] = *p;
	}
	out[n] = '\0';
	*pp = p;
}

/* Sets where handle fd (1 or 2) goes: name is a file, NUL or CON. */
static const char *
sc_cmd_redir_set(struct sc_cmd *st, struct sc_cmd_redir *r, const char *name,
    int append)
{
	if (strcasecmp(name, "nul") == 0 || strcasecmp(name, "nul:") == 0) {
		r->to = SC_TO_NUL;
		return NULL;
	}
	if (strcasecmp(name, "con") == 0 || strcasecmp(name, "con:") == 0) {
		r->to = SC_TO_UP;
		return NULL;
	}
	if (sc_cmd_resolve(st, name, r->path, sizeof(r->path)) == -1)
		return SC_CMD_E_NO_PATH;
	r->to = SC_TO_FILE;
	r->append = append;
	return NULL;
}

/*
 * Takes the redirections out of one command: fills fr and writes the
 * rest, carets resolved, into text.  Returns NULL or cmd.exe's message.
 */
static const char *
sc_cmd_redirs(struct sc_cmd *st, const char *seg, char *text, size_t size,
    struct sc_cmd_frame *fr)
{
	char		 name[SC_CMD_PATH];
	const char	*p = seg, *why;
	size_t		 n = 0;
	int		 inq = 0, esc = 0, fd, append;

	while (*p != '\0') {
		if (*p == '"')
			inq = !inq;
		else if (!inq && *p == '^' && p[1] != '\0') {
			p++;
			if (n + 1 < size)
				text[n++] = *p;
			p++;
			esc = 1;
			continue;
		} else if (!inq && (*p == '>' || *p == '<')) {
			fd = *p == '<' ? 0 : 1;
			/* A digit after a blank, right before it: a handle. */
			if (n > 0 && !esc && isdigit((unsigned char)text[n - 1]) &&
			    (n == 1 || sc_cmd_blank(text[n - 2])))
				fd = text[--n] - '0';
			append = *p == '>' && p[1] == '>';
			p += append ? 2 : 1;
			if (*p == '&' && isdigit((unsigned char)p[1])) {
				if (fd == 2 && p[1] == '1')
					fr->fd[1].to = SC_TO_DUP;
				p += 2;
				continue;
			}
			sc_cmd_redir_name(&p, name, sizeof(name));
			if (name[0] == '\0')
				return SC_CMD_E_SYNTAX;
			if (fd == 1 || fd == 2) {
				if ((why = sc_cmd_redir_set(st, &fr->fd[fd - 1],
				    name, append)) != NULL)
					return why;
			}
			continue;
		}
		esc = 0;
		if (n + 1 < size)
			text[n++] = *p;
		p++;
	}
	text[n] = '\0';
	return NULL;
}

/* Writes what a command sent into a file where it goes. */
static void
sc_cmd_redir_flush(struct sc_cmd *st, struct sc_cmd_redir *r)
{
	const char	*why;

	if (r->to == SC_TO_FILE) {
		why = sc_cmd_fs_write(st, r->path, r->buf != NULL ? r->buf :
		    "", r->len, r->append);
		free(r->buf);
		r->buf = NULL;
		r->to = SC_TO_UP;
		if (why != NULL)
			sc_cmd_puts(st, 2, why);
	}
}

/* One command between the operators; left of a pipe, stdout is lost. */
static void
sc_cmd_segment(struct sc_cmd *st, const char *seg, int level, int piped)
{
	struct sc_cmd_frame	 fr;
	char			 text[SC_CMD_LINE + 1];
	const char		*why;
	size_t			 before = st->outlen;

	if (sc_cmd_step(st) == -1)
		return;
	memset(&fr, 0, sizeof(fr));
	fr.up = st->top;
	if ((why = sc_cmd_redirs(st, seg, text, sizeof(text), &fr)) != NULL) {
		sc_cmd_puts(st, 2, why);
		st->err = 1;
	} else
		sc_cmd_segment_run(st, &fr, text, level, piped);
	if (level == 0 && st->ops.command != NULL) {
		sc_cmd_trim_blanks(text, sizeof(text), seg);
		st->ops.command(st->ops.arg, text, st->outlen - before);
	}
}

/* Runs the command text with the redirections of fr. */
static void
sc_cmd_segment_run(struct sc_cmd *st, struct sc_cmd_frame *fr,
    const char *text, int level, int piped)
{
	if (piped && fr->fd[0].to == SC_TO_UP)
		fr->fd[0].to = SC_TO_NUL;
	st->top = fr;
	st->err = sc_cmd_simple(st, text, level);
	st->top = fr->up;
	sc_cmd_redir_flush(st, &fr->fd[0]);
	sc_cmd_redir_flush(st, &fr->fd[1]);
}

/*
 * A whole line: split at & && | || outside quotes (a ^ keeps the next
 * character, and >& is a redirection), each part run as its operator
 * says given the last one's errorlevel.
 */
static void
sc_cmd_line(struct sc_cmd *st, const char *line, int level)
{
	char		 seg[SC_CMD_LINE + 1];
	const char	*p = line;
	size_t		 n = 0;
	int		 inq = 0, op = '&', run, next;

	if (level >= SC_CMD_DEPTH || st->cut)
		return;
	for (;;) {
		if (*p == '\0' || (!inq && (*p == '&' || *p == '|') &&
		    !(*p == '&' && n > 0 && seg[n - 1] == '>'))) {
			seg[n] = '\0';
			next = *p == '\0' ? 0 : p[1] == *p ? (*p == '&' ?
			    'A' : 'O') : *p;
			run = op == 'A' ? st->err == 0 : op == 'O' ?
			    st->err != 0 : 1;
			if (run && strspn(seg, " \t") != n)
				sc_cmd_segment(st, seg, level, next == '|');
			if (*p == '\0' || st->stop || st->cut)
				return;
			p += next == 'A' || next == 'O' ? 2 : 1;
			op = next;
			n = 0;
			continue;
		}
		if (*p == '"')
			inq = !inq;
		else if (!inq && *p == '^' && p[1] != '\0') {
			if (n + 2 < sizeof(seg)) {
				seg[n++] = *p;
				seg[n++] = p[1];
			}
			p += 2;
			continue;
		}
		if (n + 1 < sizeof(seg))
			seg[n++] = *p;
		p++;
	}
}

/* --- the interface ------------------------------------------------ */

/* The texts are host.c's, so that the shell and SMB tell one story. */
size_t
sc_cmd_banner(const char *version, char *buf, size_t len)
{
	return host_cmd_banner(version, buf, len);
}

int
sc_cmd_version_known(const char *version)
{
	return host_version_known(version);
}

struct sc_cmd *
sc_cmd_new(const struct sc_cmd_host *host, const struct sc_cmd_ops *ops,
    const char *attacker)
{
	struct sc_cmd	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	if (ops != NULL)
		st->ops = *ops;
	sc_cmd_set(st->name, sizeof(st->name), host != NULL &&
	    host->name != NULL ? host->name : "ACCOUNTING-PC3");
	sc_cmd_set(st->version, sizeof(st->version), host != NULL &&
	    host->version != NULL ? host->version : "5.1.2600");
	sc_cmd_set(st->root, sizeof(st->root), host != NULL &&
	    host->system_root != NULL ? host->system_root : "C:\\WINDOWS");
	snprintf(st->cwd, sizeof(st->cwd), "%s\\system32", st->root);
	if (attacker != NULL)
		sc_cmd_set(st->attacker, sizeof(st->attacker), attacker);
	return st;
}

void
sc_cmd_free(struct sc_cmd *st)
{
	size_t	i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nfiles; i++) {
		free(st->files[i].path);
		free(st->files[i].data);
	}
	free(st);
}

int
sc_cmd_run(struct sc_cmd *st, const char *line, size_t len)
{
	char	buf[SC_CMD_LINE + 1];
	size_t	n;

	if (st->exited)
		return 1;
	st->runout = 0;
	st->steps = 0;
	st->cut = 0;
	n = strnlen(line, len);
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		n--;
	if (n > SC_CMD_LINE) {
		sc_cmd_puts(st, 2, "The input line is too long.\r\n");
		return 0;
	}
	memcpy(buf, line, n);
	buf[n] = '\0';
	st->stop = 0;
	sc_cmd_line(st, buf, 0);
	st->stop = 0;
	return st->exited;
}

size_t
sc_cmd_steps(const struct sc_cmd *st, int *cut)
{
	if (cut != NULL)
		*cut = st->cut;
	return st->steps;
}

size_t
sc_cmd_prompt(const struct sc_cmd *st, char *buf, size_t len)
{
	int	n = snprintf(buf, len, "%s>", st->cwd);

	return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* The analyser's use: each URL a command line fetches is an action. */
static void
sc_cmd_add_url(void *arg, const char *url)
{
	struct sc_action	a;

	memset(&a, 0, sizeof(a));
	a.kind = SC_DOWNLOAD;
	sc_cmd_copy(a.url, sizeof(a.url), url, strlen(url));
	(void)sc_result_add(arg, &a);
}

void
sc_cmd_downloads(const char *cmd, const char *attacker, struct sc_result *res)
{
	struct sc_cmd_ops	 ops = { .fetch = sc_cmd_add_url, .arg = res };
	struct sc_cmd		*st;
	const char		*p, *e;

	if (cmd == NULL || res == NULL ||
	    (st = sc_cmd_new(NULL, &ops, attacker)) == NULL)
		return;
	for (p = cmd; *p != '\0' && !st->exited; p = *e != '\0' ? e + 1 : e) {
		e = p + strcspn(p, "\r\n");
		sc_cmd_run(st, p, (size_t)(e - p));
	}
	sc_cmd_free(st);
}
