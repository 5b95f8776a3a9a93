/*
 * cmd.exe command lines that fetch a file, read as the download URLs they
 * amount to: an ftp script written with echo and run with ftp -s:, or
 * tftp -i host get file.  Only parsing: nothing here runs or connects.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sc_int.h"

#define SC_CMD_SEGS	64
#define SC_CMD_SCRIPTS	4
#define SC_CMD_GETS	4
#define SC_CMD_WORD	128

/* An ftp script being written with echo ... > name. */
struct sc_cmd_script {
	char	name[SC_CMD_WORD];
	char	host[SC_HOST_MAX];
	char	port[8];
	char	user[SC_CMD_WORD];
	char	pass[SC_CMD_WORD];
	char	gets[SC_CMD_GETS][SC_CMD_WORD];
	size_t	ngets;
};

struct sc_cmd_state {
	struct sc_cmd_script	 scripts[SC_CMD_SCRIPTS];
	size_t			 nscripts;
	const char		*attacker;
	struct sc_result	*res;
};

static void
sc_cmd_copy(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Copies the next blank-separated word of *s into w; 0 if none. */
static int
sc_cmd_word(const char **s, char *w, size_t size)
{
	const char	*p = *s, *q;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 0;
	for (q = p; *q != '\0' && *q != ' ' && *q != '\t'; q++)
		;
	sc_cmd_copy(w, size, p, (size_t)(q - p));
	*s = q;
	return 1;
}

/* Whether s starts with the word kw (case-insensitive), then a blank. */
static const char *
sc_cmd_skip(const char *s, const char *kw)
{
	size_t	n = strlen(kw);

	if (strncasecmp(s, kw, n) != 0)
		return NULL;
	if (s[n] != '\0' && s[n] != ' ' && s[n] != '\t')
		return NULL;
	s += n;
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* 0.0.0.0, 10/8, 172.16/12, 192.168/16 and 127/8 stand for the attacker. */
static int
sc_cmd_private(const char *h)
{
	unsigned int	a, b, c, d;
	char		x;

	if (sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &x) != 4)
		return 0;
	if (a == 0 && b == 0 && c == 0 && d == 0)
		return 1;
	return a == 10 || a == 127 || (a == 172 && b >= 16 && b < 32) ||
	    (a == 192 && b == 168);
}

static const char *
sc_cmd_host(const struct sc_cmd_state *st, const char *h)
{
	if (st->attacker != NULL && sc_cmd_private(h))
		return st->attacker;
	return h;
}

static void
sc_cmd_url(struct sc_cmd_state *st, const char *url)
{
	struct sc_action	a;

	memset(&a, 0, sizeof(a));
	a.kind = SC_DOWNLOAD;
	sc_cmd_copy(a.url, sizeof(a.url), url, strlen(url));
	(void)sc_result_add(st->res, &a);
}

static struct sc_cmd_script *
sc_cmd_script(struct sc_cmd_state *st, const char *name, int create)
{
	struct sc_cmd_script	*sc;
	size_t			 i;

	for (i = 0; i < st->nscripts; i++)
		if (strcasecmp(st->scripts[i].name, name) == 0)
			return &st->scripts[i];
	if (!create || st->nscripts >= SC_CMD_SCRIPTS)
		return NULL;
	sc = &st->scripts[st->nscripts++];
	memset(sc, 0, sizeof(*sc));
	sc_cmd_copy(sc->name, sizeof(sc->name), name, strlen(name));
	return sc;
}

/* One line of an ftp script: open, user, get, or a bare user/password. */
static void
sc_cmd_script_line(struct sc_cmd_script *sc, const char *line)
{
	const char	*p;
	char		 w[SC_CMD_WORD];

	if ((p = sc_cmd_skip(line, "open")) != NULL) {
		if (sc_cmd_word(&p, w, sizeof(w)))
			sc_cmd_copy(sc->host, sizeof(sc->host), w, strlen(w));
		if (sc_cmd_word(&p, w, sizeof(w)))
			sc_cmd_copy(sc->port, sizeof(sc->port), w, strlen(w));
	} else if ((p = sc_cmd_skip(line, "user")) != NULL) {
		if (sc_cmd_word(&p, w, sizeof(w)))
			sc_cmd_copy(sc->user, sizeof(sc->user), w, strlen(w));
		if (sc_cmd_word(&p, w, sizeof(w)))
			sc_cmd_copy(sc->pass, sizeof(sc->pass), w, strlen(w));
	} else if ((p = sc_cmd_skip(line, "get")) != NULL ||
	    (p = sc_cmd_skip(line, "recv")) != NULL ||
	    (p = sc_cmd_skip(line, "mget")) != NULL) {
		if (sc->ngets < SC_CMD_GETS && sc_cmd_word(&p, w, sizeof(w)))
			sc_cmd_copy(sc->gets[sc->ngets++], SC_CMD_WORD, w, strlen(w));
	} else if (sc->host[0] != '\0' && strchr(line, ' ') == NULL &&
	    line[0] != '\0' && strcasecmp(line, "bin") != 0 &&
	    strcasecmp(line, "binary") != 0 && strcasecmp(line, "quit") != 0 &&
	    strcasecmp(line, "bye") != 0 && strcasecmp(line, "hash") != 0) {
		if (sc->user[0] == '\0')
			sc_cmd_copy(sc->user, sizeof(sc->user), line, strlen(line));
		else if (sc->pass[0] == '\0')
			sc_cmd_copy(sc->pass, sizeof(sc->pass), line, strlen(line));
	}
}

/* echo TEXT > FILE or echo TEXT >> FILE: a line of a script. */
static void
sc_cmd_echo(struct sc_cmd_state *st, const char *s)
{
	struct sc_cmd_script	*sc;
	const char		*gt, *f;
	char			 line[SC_CMD_MAX], name[SC_CMD_WORD];
	size_t			 n;

	if ((gt = strchr(s, '>')) == NULL)
		return;
	n = (size_t)(gt - s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	sc_cmd_copy(line, sizeof(line), s, n);
	f = gt + 1;
	if (*f == '>')
		f++;
	if (!sc_cmd_word(&f, name, sizeof(name)))
		return;
	if ((sc = sc_cmd_script(st, name, 1)) != NULL)
		sc_cmd_script_line(sc, line);
}

/* ftp [-n] [-i] [-v] -s:FILE [HOST]: the script's gets as URLs. */
static void
sc_cmd_ftp(struct sc_cmd_state *st, const char *s)
{
	struct sc_cmd_script	*sc = NULL;
	const char		*host, *port;
	char			 w[SC_CMD_WORD], arg_host[SC_HOST_MAX] = "";
	char			 url[SC_URL_MAX], auth[2 * SC_CMD_WORD + 2];
	size_t			 i;

	while (sc_cmd_word(&s, w, sizeof(w))) {
		if (strncasecmp(w, "-s:", 3) == 0)
			sc = sc_cmd_script(st, w + 3, 0);
		else if (w[0] != '-')
			sc_cmd_copy(arg_host, sizeof(arg_host), w, strlen(w));
	}
	if (sc == NULL)
		return;
	host = sc->host[0] != '\0' ? sc->host : arg_host;
	if (host[0] == '\0')
		return;
	host = sc_cmd_host(st, host);
	port = sc->port[0] != '\0' ? sc->port : "21";
	auth[0] = '\0';
	if (sc->user[0] != '\0')
		snprintf(auth, sizeof(auth), "%s:%s@", sc->user, sc->pass);
	for (i = 0; i < sc->ngets; i++) {
		snprintf(url, sizeof(url), "ftp://%s%s:%s/%s", auth, host,
		    port, sc->gets[i]);
		sc_cmd_url(st, url);
	}
}

/* tftp [-i] HOST get|GET FILE [DEST] */
static void
sc_cmd_tftp(struct sc_cmd_state *st, const char *s)
{
	char	w[SC_CMD_WORD], host[SC_HOST_MAX] = "", url[SC_URL_MAX];
	int	get = 0;

	while (sc_cmd_word(&s, w, sizeof(w))) {
		if (w[0] == '-')
			continue;
		if (get) {
			snprintf(url, sizeof(url), "tftp://%s/%s",
			    sc_cmd_host(st, host), w);
			sc_cmd_url(st, url);
			return;
		}
		if (strcasecmp(w, "get") == 0)
			get = host[0] != '\0';
		else if (host[0] == '\0')
			sc_cmd_copy(host, sizeof(host), w, strlen(w));
	}
}

/* One command between & && | ||: strip cmd /c and start, then read it. */
static void
sc_cmd_segment(struct sc_cmd_state *st, char *s)
{
	const char	*p;
	size_t		 n;
	int		 again = 1;

	while (again) {
		again = 0;
		while (*s == ' ' || *s == '\t' || *s == '"' || *s == '@')
			s++;
		p = NULL;
		if (strncasecmp(s, "cmd/", 4) == 0 ||
		    strncasecmp(s, "cmd.exe/", 8) == 0)
			p = strchr(s, '/');	/* cmd/c: no blank before it */
		else if ((p = sc_cmd_skip(s, "cmd")) == NULL)
			p = sc_cmd_skip(s, "cmd.exe");
		if (p != NULL) {
			if (strncasecmp(p, "/c", 2) == 0 ||
			    strncasecmp(p, "/k", 2) == 0)
				p += 2;
			while (*p == ' ' || *p == '\t' || *p == '"')
				p++;
			s = (char *)p;
			again = 1;
		} else if ((p = sc_cmd_skip(s, "start")) != NULL) {
			s = (char *)p;
			again = 1;
		}
	}
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '"' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	if ((p = sc_cmd_skip(s, "echo")) != NULL)
		sc_cmd_echo(st, p);
	else if ((p = sc_cmd_skip(s, "ftp")) != NULL ||
	    (p = sc_cmd_skip(s, "ftp.exe")) != NULL)
		sc_cmd_ftp(st, p);
	else if ((p = sc_cmd_skip(s, "tftp")) != NULL ||
	    (p = sc_cmd_skip(s, "tftp.exe")) != NULL)
		sc_cmd_tftp(st, p);
}

void
sc_cmd_downloads(const char *cmd, const char *attacker, struct sc_result *res)
{
	struct sc_cmd_state	*st;
	char			 seg[SC_CMD_MAX];
	size_t			 n = 0, nseg = 0;
	const char		*p;

	if (cmd == NULL || res == NULL)
		return;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return;
	st->attacker = attacker;
	st->res = res;
	for (p = cmd; nseg < SC_CMD_SEGS; p++) {
		if (*p == '^' && p[1] != '\0') {
			/* ^ makes the next character literal. */
			p++;
			if (n < sizeof(seg) - 1)
				seg[n++] = *p;
			continue;
		}
		if (*p == '&' || *p == '|' || *p == '\n' || *p == '\r' ||
		    *p == '\0') {
			seg[n] = '\0';
			if (n > 0)
				sc_cmd_segment(st, seg);
			n = 0;
			nseg++;
			if (*p == '\0')
				break;
			continue;
		}
		if (n < sizeof(seg) - 1)
			seg[n++] = *p;
	}
	free(st);
}
