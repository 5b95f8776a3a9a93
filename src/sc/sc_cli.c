/*
 * `sundew analyze FILE...`: runs the analyser offline on files and prints
 * one JSON object per file and line, in the shape of DESIGN.md section 6.
 * The files are read first, here; the analysis of untrusted bytes then
 * runs in a child confined as the daemon's analyser (sc_proc_confine:
 * chroot into an empty directory, the unprivileged user, the analyser's
 * filter, its address space limit, an alarm per analysis), which sends
 * each result back over a pipe.  A child that dies (a crash, the alarm)
 * costs the file it was on: a new one goes on with the next.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "log.h"
#include "sandbox.h"
#include "sc.h"
#include "sc_event.h"
#include "sc_proc.h"

#define SC_CLI_MAXFILE	(64u << 20)
#define SC_CLI_USER	"sundew"	/* the default of the config key user */

static const char sc_cli_usage[] =
"usage: sundew analyze [-h] [-u USER] FILE...\n"
"\n"
"Looks for shellcode in each FILE (raw bytes: a payload, a carved\n"
"shellcode) and prints one JSON object per file on a line: file, sha256,\n"
"shellcode, offset, decoders, actions (and family for a known worm).\n"
"The analysis runs as the daemon's analyser does: as USER (default\n"
"sundew) when started as root, chrooted into an empty directory, under\n"
"its system call filter, with 4 GiB of address space and %d s a file.\n"
"Exit status: 0 when every file was analysed, 1 if a file could not be\n"
"read or its analysis was killed, 2 on a usage error.\n";

/* A named file, read before any analysis. */
struct sc_cli_file {
	const char	*path;
	uint8_t		*buf;
	size_t		 len;
	int		 readable;
};

/* What a child sends back for one file. */
struct sc_cli_msg {
	uint64_t		index;		/* into the files */
	int32_t			failed;		/* sc_analyze ran out of memory */
	struct sc_result	res;
};

/* Reads all of path into *buf (malloc'd); 0, or -1 with errno set. */
static int
sc_cli_read(const char *path, uint8_t **buf, size_t *len)
{
	FILE	*f;
	uint8_t	*b = NULL, *nb;
	size_t	 n = 0, cap = 0, r;
	int	 saved;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	for (;;) {
		if (n == cap) {
			if (cap >= SC_CLI_MAXFILE) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap == 0 ? 65536 : cap * 2;
			if ((nb = realloc(b, cap)) == NULL)
				goto fail;
			b = nb;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f)) {
				errno = EIO;
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
fail:
	saved = errno;
	fclose(f);
	free(b);
	errno = saved;
	return -1;
}

static int
sc_cli_sha256(const uint8_t *buf, size_t len, char hex[65])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0, i;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* A JSON string of s with bytes outside printable ASCII shown as '?'. */
static json_t *
sc_cli_str(const char *s)
{
	json_t	*j;
	char	*c;
	size_t	 i, n = strlen(s);

	if ((c = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		c[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	c[n] = '\0';
	j = json_string(c);
	free(c);
	return j;
}

static json_t *
sc_cli_action(const struct sc_action *a)
{
	json_t	*o;

	if ((o = json_object()) == NULL)
		return NULL;
	/* sc_result_check has seen to it that both names exist. */
	json_object_set_new(o, "action", json_string(
	    sc_action_name((int)a->kind)));
	json_object_set_new(o, "evidence", json_string(
	    sc_evidence_name((int)a->evidence)));
	if (a->kind == SC_RECEIVE_FILE && a->mode[0] != '\0')
		json_object_set_new(o, "mode", sc_cli_str(a->mode));
	if (a->host[0] != '\0')
		json_object_set_new(o, "host", sc_cli_str(a->host));
	if (a->port != 0)
		json_object_set_new(o, "port", json_integer(a->port));
	if (a->url[0] != '\0')
		json_object_set_new(o, "url", sc_cli_str(a->url));
	if (a->command[0] != '\0')
		json_object_set_new(o, "command", sc_cli_str(a->command));
	if (a->key[0] != '\0')
		json_object_set_new(o, "key", sc_cli_str(a->key));
	if (a->proto[0] != '\0')
		json_object_set_new(o, "proto", sc_cli_str(a->proto));
	if (a->length_prefix != 0)
		json_object_set_new(o, "length_prefix",
		    json_integer(a->length_prefix));
	return o;
}

/* Prints the line for one analysed file; 0, or -1 out of memory. */
static int
sc_cli_print(const struct sc_cli_file *f, const struct sc_result *res)
{
	json_t	*o, *dec, *act;
	size_t	 i;
	char	 hex[65], *line;

	if (sc_cli_sha256(f->buf, f->len, hex) == -1)
		return -1;
	o = json_object();
	dec = json_array();
	act = json_array();
	if (o == NULL || dec == NULL || act == NULL) {
		json_decref(o);
		json_decref(dec);
		json_decref(act);
		return -1;
	}
	json_object_set_new(o, "file", sc_cli_str(f->path));
	json_object_set_new(o, "sha256", json_string(hex));
	json_object_set_new(o, "shellcode", json_boolean(res->shellcode));
	json_object_set_new(o, "offset", res->offset >= 0 ?
	    json_integer(res->offset) : json_null());
	for (i = 0; i < res->ndecoders; i++)
		json_array_append_new(dec, sc_cli_str(res->decoders[i]));
	json_object_set_new(o, "decoders", dec);
	if (res->family[0] != '\0')
		json_object_set_new(o, "family", sc_cli_str(res->family));
	for (i = 0; i < res->nactions; i++)
		json_array_append_new(act, sc_cli_action(&res->actions[i]));
	json_object_set_new(o, "actions", act);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (line == NULL)
		return -1;
	printf("%s\n", line);
	fflush(stdout);
	free(line);
	return 0;
}

/* All of len to fd; 0, or -1. */
static int
sc_cli_write(int fd, const void *p, size_t len)
{
	const uint8_t	*b = p;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, b, len)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* All of len from fd; 1, 0 at the end, -1 on a short or failed read. */
static int
sc_cli_read_msg(int fd, void *p, size_t len)
{
	uint8_t	*b = p;
	size_t	 got = 0;
	ssize_t	 n;

	while (got < len) {
		if ((n = read(fd, b + got, len - got)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return got == 0 && n == 0 ? 0 : -1;
		got += (size_t)n;
	}
	return 1;
}

/*
 * The child: confined, it analyses the readable files from the one at
 * from on and writes one message each to out.  An analysis that outlasts
 * the alarm kills it (SIGALRM), as in the daemon's analyser.
 */
static void __attribute__((noreturn))
sc_cli_child(const struct sandbox *sb, const struct sc_cli_file *files,
    size_t n, size_t from, int out)
{
	static struct sc_cli_msg	 m;
	struct sc_limits		 lim;
	size_t				 i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sc_proc_confine(sb, sb->empty_dir);
	sc_limits_default(&lim);
	for (i = from; i < n; i++) {
		if (!files[i].readable)
			continue;
		memset(&m, 0, sizeof(m));
		m.index = i;
		alarm(SC_PROC_ALARM_SECS);
		m.failed = sc_analyze(files[i].buf, files[i].len, &lim, NULL,
		    &m.res) == -1;
		alarm(0);
		if (sc_cli_write(out, &m, sizeof(m)) == -1)
			_exit(1);
	}
	_exit(0);
}

/* Why a child ended before its last file, for the operator. */
static void
sc_cli_died(const char *path, int status)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
		fprintf(stderr, "sundew analyze: %s: the analysis took more "
		    "than %d s and was stopped\n", path, SC_PROC_ALARM_SECS);
	else if (WIFSIGNALED(status))
		fprintf(stderr, "sundew analyze: %s: the analysis was killed "
		    "by signal %d (%s)\n", path, WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		fprintf(stderr, "sundew analyze: %s: the analysis ended with "
		    "status %d\n", path, WEXITSTATUS(status));
}

/*
 * Runs a child on the files from next on and prints what it sends; the
 * index of the first file it did not answer for (n when it did all), and
 * *rc = 1 when a file went unanswered or unprinted.  What the child sends
 * is checked: it has run Unicorn on hostile bytes.
 */
static size_t
sc_cli_batch(const struct sandbox *sb, const struct sc_cli_file *files,
    size_t n, size_t next, struct sc_cli_msg *m, int *rc)
{
	pid_t	pid;
	int	p[2], bad = 0, status;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe2");
	fflush(NULL);
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(p[0]);
		sc_cli_child(sb, files, n, next, p[1]);
	}
	close(p[1]);
	for (;;) {
		while (next < n && !files[next].readable)
			next++;
		if (sc_cli_read_msg(p[0], m, sizeof(*m)) != 1)
			break;
		/* In order, one a readable file, well formed. */
		if (m->index != next || sc_result_check(&m->res) == -1) {
			kill(pid, SIGKILL);
			bad = 1;
			break;
		}
		next = m->index + 1;
		if (m->failed || sc_cli_print(&files[m->index], &m->res) ==
		    -1) {
			fprintf(stderr, "sundew analyze: %s: out of memory\n",
			    files[m->index].path);
			*rc = 1;
		}
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (next < n) {
		if (bad)
			fprintf(stderr, "sundew analyze: %s: bad result from "
			    "the analysis\n", files[next].path);
		else
			sc_cli_died(files[next].path, status);
		*rc = 1;
		next++;
	}
	return next;
}

static const char	*sc_cli_root;	/* the children's, to remove */

/* Interrupted: no empty directory left behind in /tmp. */
static void
sc_cli_signal(int sig)
{
	if (sc_cli_root != NULL)
		rmdir(sc_cli_root);
	signal(sig, SIG_DFL);
	raise(sig);
}

int
sc_main(int argc, char **argv)
{
	struct sandbox		 sb;
	struct sc_cli_file	*files;
	struct sc_cli_msg	*m;
	const char		*user = SC_CLI_USER;
	char			 err[1024];
	size_t			 n, i, next;
	int			 c, rc = 0;

	optind = 1;
	while ((c = getopt(argc, argv, "hu:")) != -1) {
		switch (c) {
		case 'h':
			printf(sc_cli_usage, SC_PROC_ALARM_SECS);
			return 0;
		case 'u':
			user = optarg;
			break;
		default:
			fprintf(stderr, sc_cli_usage, SC_PROC_ALARM_SECS);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, sc_cli_usage, SC_PROC_ALARM_SECS);
		return 2;
	}
	/* The children get their pipe and stderr, nothing of the shell's. */
	sandbox_close_strays();
	log_procname("analyze");
	if (sandbox_prepare_empty(user, &sb, err, sizeof(err)) == -1) {
		fprintf(stderr, "sundew analyze: %s\n", err);
		return 1;
	}
	if (sb.made_empty) {
		sc_cli_root = sb.empty_dir;
		signal(SIGINT, sc_cli_signal);
		signal(SIGTERM, sc_cli_signal);
		signal(SIGHUP, sc_cli_signal);
	}
	n = (size_t)(argc - optind);
	files = calloc(n, sizeof(*files));
	m = malloc(sizeof(*m));
	if (files == NULL || m == NULL) {
		fprintf(stderr, "sundew analyze: out of memory\n");
		sandbox_release(&sb);
		return 1;
	}
	for (i = 0; i < n; i++) {
		files[i].path = argv[optind + (int)i];
		if (sc_cli_read(files[i].path, &files[i].buf,
		    &files[i].len) == 0)
			files[i].readable = 1;
		else {
			fprintf(stderr, "sundew analyze: %s: %s\n",
			    files[i].path, strerror(errno));
			rc = 1;
		}
	}
	for (next = 0; next < n; ) {
		while (next < n && !files[next].readable)
			next++;
		if (next < n)
			next = sc_cli_batch(&sb, files, n, next, m, &rc);
	}
	sandbox_release(&sb);
	for (i = 0; i < n; i++)
		free(files[i].buf);
	free(files);
	free(m);
	return rc;
}
