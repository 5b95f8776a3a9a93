/*
 * Bind and connect-back shells (shell.h).  A bind shell listens on the
 * port the shellcode asked for, on the sensor's address the exploit
 * came in on, for shell.listen_timeout, takes one peer and closes the
 * listener; a connect-back shell connects to the attacker through the
 * egress policy.  Then the peer talks to the emulated cmd.exe (sc_cmd.h)
 * of the host.* block: banner, prompt, each line echoed as cmd.exe does
 * when its input is a socket, the output, the next prompt.
 *
 * Events: sundew.shell.open (state listening, refused, accepted,
 * connected, failed), sundew.shell.command (each command run),
 * sundew.shell.close (reason, duration_ms, commands, bytes); each URL
 * the commands fetch goes to download_url() once per shell.  All carry
 * the fields of the exploit's session.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "addr.h"
#include "capture.h"
#include "config.h"
#include "conn.h"
#include "download.h"
#include "egress.h"
#include "event.h"
#include "host.h"
#include "listen.h"
#include "log.h"
#include "sc_cmd.h"
#include "sensor.h"
#include "shell.h"

#define SHELL_LINE_MAX	8192		/* longer: protocol_error */
/*
 * Queued for the peer: no line runs (and reading stops) at or past it.
 * With a line's echo (SHELL_LINE_MAX) and its output (SC_CMD_OUT_MAX)
 * the queue stays under 57 KiB.
 */
#define SHELL_OUT_MAX	(16 * 1024)
#define SHELL_URLS	32		/* URLs remembered per shell */
#define SHELL_CONNECT_TIMEOUT	30	/* seconds for a connect-back */
#define SHELL_PER_SOURCE	8	/* shells of one attacker per sensor */

enum shell_kind { SHELL_BIND, SHELL_CONNECT };

struct shell {
	LIST_ENTRY(shell)	 entry;
	struct capture_origin	 origin;
	enum shell_kind		 kind;
	uint16_t		 port;
	char			 src[64];	/* the attacker's address */
	char			 host[64];	/* connect-back: to, as asked */
	char			 claim[96];	/* its egress claim, or "" */
	int			 tried;		/* its connect went out */
	int			 lfd;		/* listening, -1 */
	int			 fd;		/* the peer, -1 */
	struct event		*ev;		/* accept, connect, then read */
	struct event		*wev;		/* output waiting */
	struct event		*deadline;	/* listen, then session timeout */
	struct event		*idle;
	struct evbuffer		*out;
	char			*in;		/* a line being read */
	size_t			 inlen;
	struct sc_cmd		*cmd;
	uint64_t		 urls[SHELL_URLS];	/* their hashes */
	size_t			 nurls;
	int64_t			 start_us;
	uint64_t		 bytes_in, bytes_out;
	uint32_t		 commands;
	int			 reading;	/* ev is added */
	int			 exiting;	/* close once out is empty */
};

static struct {
	const struct config	*conf;
	struct event_base	*base;
	LIST_HEAD(, shell)	 all;
	uint32_t		 n;
	uint64_t		 protocol_errors;
} shell;

static void	shell_read_cb(evutil_socket_t, short, void *);
static void	shell_write_cb(evutil_socket_t, short, void *);
static void	shell_lines(struct shell *);

static const char *
shell_kind_name(const struct shell *sh)
{
	return sh->kind == SHELL_BIND ? "bind" : "connect";
}

/* Starts an event of the shell, with its session's fields. */
static void
shell_event(struct event_buf *ev, const struct shell *sh, const char *id)
{
	capture_event(ev, &sh->origin, id);
	event_str(ev, "shell", shell_kind_name(sh));
	event_int(ev, "port", sh->port);
}

static void
shell_open_event(const struct shell *sh, const char *state,
    const char *reason, const char *host)
{
	struct event_buf	ev;

	shell_event(&ev, sh, "sundew.shell.open");
	event_str(&ev, "state", state);
	if (host != NULL)
		event_str(&ev, "host", host);
	if (reason != NULL)
		event_str(&ev, "reason", reason);
	sensor_send_event(&ev);
}

/*
 * A new shell for origin, or NULL past shell.max_open or past
 * SHELL_PER_SOURCE shells (listening, connecting or open) of its
 * attacker (then a limit.hit, "shells" or "shells_per_source").
 */
static struct shell *
shell_new(const struct capture_origin *o, enum shell_kind kind,
    uint16_t port)
{
	struct shell	*sh;
	char		 src[sizeof(sh->src)];
	uint32_t	 mine = 0;

	if (shell.conf == NULL)
		return NULL;
	if (shell.n >= shell.conf->shell_max) {
		conn_limit_fields(o->ctx, o->ctxlen, "shells");
		return NULL;
	}
	capture_attacker(o, src, sizeof(src));
	LIST_FOREACH(sh, &shell.all, entry)
		if (strcmp(sh->src, src) == 0)
			mine++;
	/* One attacker does not take every slot for listen_timeout. */
	if (mine >= SHELL_PER_SOURCE) {
		conn_limit_fields(o->ctx, o->ctxlen, "shells_per_source");
		return NULL;
	}
	if ((sh = calloc(1, sizeof(*sh))) == NULL) {
		log_warnx("shell for session %s: out of memory", o->session);
		return NULL;
	}
	memcpy(sh->src, src, sizeof(sh->src));
	sh->origin = *o;
	sh->kind = kind;
	sh->port = port;
	sh->lfd = sh->fd = -1;
	sh->start_us = event_now_usec();
	LIST_INSERT_HEAD(&shell.all, sh, entry);
	shell.n++;
	return sh;
}

/* Ends sh, with its close event if it got as far as an open one. */
static void
shell_free(struct shell *sh, const char *reason)
{
	struct event_buf	ev;
	int64_t			ms = (event_now_usec() - sh->start_us) / 1000;

	if (reason != NULL) {
		shell_event(&ev, sh, "sundew.shell.close");
		event_str(&ev, "reason", reason);
		event_int(&ev, "duration_ms", ms > 0 ? ms : 0);
		event_int(&ev, "commands", sh->commands);
		event_int(&ev, "bytes_in", (int64_t)sh->bytes_in);
		event_int(&ev, "bytes_out", (int64_t)sh->bytes_out);
		sensor_send_event(&ev);
	}
	/* A failed connect rests as a failed download does; a shell not. */
	if (sh->claim[0] != '\0')
		egress_release_url(sh->claim, sh->tried && sh->cmd == NULL);
	if (sh->ev != NULL)
		event_free(sh->ev);
	if (sh->wev != NULL)
		event_free(sh->wev);
	if (sh->deadline != NULL)
		event_free(sh->deadline);
	if (sh->idle != NULL)
		event_free(sh->idle);
	if (sh->out != NULL)
		evbuffer_free(sh->out);
	if (sh->lfd != -1)
		close(sh->lfd);
	if (sh->fd != -1)
		close(sh->fd);
	sc_cmd_free(sh->cmd);
	free(sh->in);
	LIST_REMOVE(sh, entry);
	shell.n--;
	free(sh);
}

/* Writes what waits for the peer; -1 if the peer is gone. */
static int
shell_flush(struct shell *sh)
{
	int	n;

	while (evbuffer_get_length(sh->out) > 0) {
		n = evbuffer_write(sh->out, sh->fd);
		if (n > 0) {
			sh->bytes_out += (uint64_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR)) {
			event_add(sh->wev, NULL);
			return 0;
		}
		return -1;
	}
	return 0;
}

/* cmd.exe's output for the peer. */
static void
shell_output(void *arg, const char *text, size_t len)
{
	struct shell	*sh = arg;

	evbuffer_add(sh->out, text, len);
}

/* A URL the commands fetch: a download, once per shell. */
static void
shell_fetch(void *arg, const char *url)
{
	struct shell	*sh = arg;
	uint64_t	 h = 0xcbf29ce484222325ULL;
	const char	*p;
	size_t		 i;

	for (p = url; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	for (i = 0; i < sh->nurls; i++)
		if (sh->urls[i] == h)
			return;
	if (sh->nurls == SHELL_URLS) {
		log_info("shell of session %s: more than %d URLs, the rest "
		    "not fetched", sh->origin.session, SHELL_URLS);
		return;
	}
	sh->urls[sh->nurls++] = h;
	download_url(&sh->origin, url);
}

/* The host an address in a command stands for: egress.h's rule. */
static void
shell_host(void *arg, const char *host, uint16_t port, char *out,
    size_t outlen)
{
	struct shell	*sh = arg;

	egress_host(&sh->origin, host, port, out, outlen);
}

/* A command the peer ran: its event. */
static void
shell_command(void *arg, const char *text, size_t outlen)
{
	struct shell		*sh = arg;
	struct event_buf	 ev;
	int			 cut;

	sh->commands++;
	shell_event(&ev, sh, "sundew.shell.command");
	event_str(&ev, "command", text);
	event_int(&ev, "output_size", (int64_t)outlen);
	/* It ran SC_CMD_STEPS commands: the rest of the line did not run. */
	(void)sc_cmd_steps(sh->cmd, &cut);
	if (cut)
		event_str(&ev, "cut", "step_budget");
	sensor_send_event(&ev);
}

static void
shell_prompt(struct shell *sh)
{
	char	p[SC_CMD_PATH + 2];
	size_t	n = sc_cmd_prompt(sh->cmd, p, sizeof(p));

	evbuffer_add(sh->out, p, n);
}

/*
 * The peer is there (accepted or connected): cmd.exe's banner and prompt,
 * then its lines, within shell.session_timeout and limits.idle_timeout.
 */
static void
shell_session(struct shell *sh)
{
	struct sc_cmd_host	 host;
	struct sc_cmd_ops	 ops;
	struct timeval		 tv = { 0, 0 };
	char			 banner[SC_CMD_BANNER], attacker[64];
	size_t			 n;

	memset(&ops, 0, sizeof(ops));
	ops.output = shell_output;
	ops.fetch = shell_fetch;
	ops.command = shell_command;
	ops.host = shell_host;
	ops.arg = sh;
	/* host.c's, which the SMB emulator shows too. */
	host.name = host_get()->name;
	host.version = host_get()->version;
	host.system_root = host_get()->system_root;
	capture_attacker(&sh->origin, attacker, sizeof(attacker));
	if (sh->ev != NULL)
		event_free(sh->ev);
	sh->ev = event_new(shell.base, sh->fd, EV_READ | EV_PERSIST,
	    shell_read_cb, sh);
	sh->wev = event_new(shell.base, sh->fd, EV_WRITE, shell_write_cb, sh);
	sh->idle = evtimer_new(shell.base, shell_read_cb, sh);
	sh->out = evbuffer_new();
	sh->in = malloc(SHELL_LINE_MAX);
	sh->cmd = sc_cmd_new(&host, &ops, attacker[0] != '\0' ? attacker :
	    NULL);
	if (sh->ev == NULL || sh->wev == NULL || sh->idle == NULL ||
	    sh->out == NULL || sh->in == NULL || sh->cmd == NULL) {
		log_warnx("shell of session %s: out of memory",
		    sh->origin.session);
		shell_free(sh, "memory");
		return;
	}
	tv.tv_sec = shell.conf->shell_session_timeout;
	evtimer_add(sh->deadline, &tv);
	tv.tv_sec = shell.conf->idle_timeout;
	evtimer_add(sh->idle, &tv);
	event_add(sh->ev, NULL);
	sh->reading = 1;
	n = sc_cmd_banner(host.version, banner, sizeof(banner));
	evbuffer_add(sh->out, banner, n);
	shell_prompt(sh);
	if (shell_flush(sh) == -1)
		shell_free(sh, "peer_closed");
}

/*
 * The listen timeout, then the session's: whichever the shell is in.
 * The idle timer comes here too (arg is the same shell).
 */
static void
shell_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shell	*sh = arg;

	if (sh->kind == SHELL_CONNECT && sh->cmd == NULL) {
		shell_open_event(sh, "failed", "timeout", sh->host);
		shell_free(sh, NULL);
		return;
	}
	shell_free(sh, sh->lfd != -1 ? "listen_timeout" : "session_timeout");
}

/*
 * The open event of a shell whose peer is there: state, the peer's
 * address and port, and the host a connect-back asked for.
 */
static void
shell_peer_event(const struct shell *sh, const char *state)
{
	struct sockaddr_storage	 ss;
	struct event_buf	 ev;
	socklen_t		 len = sizeof(ss);
	char			 ip[64] = "";
	uint16_t		 port = 0;

	memset(&ss, 0, sizeof(ss));
	if (getpeername(sh->fd, (struct sockaddr *)&ss, &len) == 0) {
		addr_ntop((struct sockaddr *)&ss, ip, sizeof(ip));
		if (ss.ss_family == AF_INET)
			port = ntohs(((struct sockaddr_in *)(void *)&ss)->
			    sin_port);
		else if (ss.ss_family == AF_INET6)
			port = ntohs(((struct sockaddr_in6 *)(void *)&ss)->
			    sin6_port);
	}
	shell_event(&ev, sh, "sundew.shell.open");
	event_str(&ev, "state", state);
	if (sh->host[0] != '\0')
		event_str(&ev, "host", sh->host);
	event_str(&ev, "peer_ip", ip);
	event_int(&ev, "peer_port", port);
	sensor_send_event(&ev);
}

/* The one peer of a bind shell: the listener closes. */
static void
shell_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shell	*sh = arg;

	sh->fd = accept4(sh->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (sh->fd == -1) {
		if (errno == EAGAIN || errno == EINTR ||
		    errno == ECONNABORTED)
			return;
		log_warn("shell of session %s: accept on port %u",
		    sh->origin.session, sh->port);
		shell_free(sh, "accept_error");
		return;
	}
	close(sh->lfd);
	sh->lfd = -1;
	shell_peer_event(sh, "accepted");
	evtimer_del(sh->deadline);
	shell_session(sh);
}

/* Why bind() failed, as the event says it. */
static const char *
shell_bind_reason(int err)
{
	switch (err) {
	case EADDRINUSE:
		return "address_in_use";
	case EACCES:
	case EPERM:
		return "privileged_port";
	case EADDRNOTAVAIL:
		return "address_not_available";
	default:
		return "bind_error";
	}
}

void
shell_bind(const struct capture_origin *o, uint16_t port)
{
	struct sockaddr_storage	 ss;
	struct shell		*sh;
	struct timeval		 tv = { 0, 0 };
	socklen_t		 len;
	int			 one = 1, err;

	if ((sh = shell_new(o, SHELL_BIND, port)) == NULL)
		return;
	/* The sensor is unprivileged: such a port is not tried. */
	if (port < 1024) {
		shell_open_event(sh, "refused", "privileged_port", NULL);
		shell_free(sh, NULL);
		return;
	}
	len = addr_unmap((const struct sockaddr *)&o->local, &ss);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)(void *)&ss)->sin_port = htons(port);
	else if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons(port);
	else {
		shell_open_event(sh, "refused", "address_not_available", NULL);
		shell_free(sh, NULL);
		return;
	}
	/* SO_REUSEADDR for TIME_WAIT only: a port in use stays refused. */
	if ((sh->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    listen_ttl(sh->lfd, ss.ss_family) == -1 ||
	    setsockopt(sh->lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    bind(sh->lfd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(sh->lfd, 1) == -1) {
		err = errno;
		log_info("shell of session %s: port %u: %s", o->session, port,
		    strerror(err));
		shell_open_event(sh, "refused", shell_bind_reason(err), NULL);
		shell_free(sh, NULL);
		return;
	}
	sh->ev = event_new(shell.base, sh->lfd, EV_READ | EV_PERSIST,
	    shell_accept_cb, sh);
	sh->deadline = evtimer_new(shell.base, shell_deadline_cb, sh);
	if (sh->ev == NULL || sh->deadline == NULL ||
	    event_add(sh->ev, NULL) == -1) {
		shell_open_event(sh, "refused", "memory", NULL);
		shell_free(sh, NULL);
		return;
	}
	tv.tv_sec = shell.conf->shell_listen_timeout;
	evtimer_add(sh->deadline, &tv);
	shell_open_event(sh, "listening", NULL, NULL);
}

/* A connect-back shell's connection completed, or failed. */
static void
shell_connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shell	*sh = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (getsockopt(sh->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		shell_open_event(sh, "failed", err == ECONNREFUSED ?
		    "connection_refused" : err == ETIMEDOUT ? "timeout" :
		    err == ENETUNREACH || err == EHOSTUNREACH ?
		    "unreachable" : "connect_error", sh->host);
		shell_free(sh, NULL);
		return;
	}
	shell_peer_event(sh, "connected");
	evtimer_del(sh->deadline);
	shell_session(sh);
}

void
shell_connect(const struct capture_origin *o, const char *host,
    uint16_t port)
{
	struct shell	*sh;
	struct timeval	 tv = { SHELL_CONNECT_TIMEOUT, 0 };
	const char	*why = NULL;
	int		 v6 = strchr(host, ':') != NULL;

	if ((sh = shell_new(o, SHELL_CONNECT, port)) == NULL)
		return;
	snprintf(sh->host, sizeof(sh->host), "%s", host);
	/*
	 * The rate limits of every outbound connection: download.per_source
	 * and download.max_concurrent count it (while it is open), and one
	 * shell at a time goes to a host:port.
	 */
	snprintf(sh->claim, sizeof(sh->claim), "shell://%s%s%s:%u",
	    v6 ? "[" : "", sh->host, v6 ? "]" : "", port);
	if ((why = egress_claim_url(o, sh->claim)) != NULL) {
		sh->claim[0] = '\0';
		shell_open_event(sh, "failed", why, host);
		shell_free(sh, NULL);
		return;
	}
	if ((sh->fd = egress_connect(host, port, &why)) == -1) {
		shell_open_event(sh, "failed", why, host);
		shell_free(sh, NULL);
		return;
	}
	sh->tried = 1;
	sh->ev = event_new(shell.base, sh->fd, EV_WRITE, shell_connected_cb,
	    sh);
	sh->deadline = evtimer_new(shell.base, shell_deadline_cb, sh);
	if (sh->ev == NULL || sh->deadline == NULL ||
	    event_add(sh->ev, NULL) == -1) {
		shell_open_event(sh, "failed", "memory", host);
		shell_free(sh, NULL);
		return;
	}
	evtimer_add(sh->deadline, &tv);
}

/*
 * Runs the complete lines read: each echoed as cmd.exe echoes a line
 * from a socket, its output, a new prompt.  Stops while the peer has
 * SHELL_OUT_MAX waiting (reading resumes once it drains).
 */
static void
shell_lines(struct shell *sh)
{
	char	*nl;
	size_t	 n;
	int	 exited, cut;

	while (!sh->exiting && evbuffer_get_length(sh->out) < SHELL_OUT_MAX &&
	    (nl = memchr(sh->in, '\n', sh->inlen)) != NULL) {
		n = (size_t)(nl - sh->in) + 1;
		evbuffer_add(sh->out, sh->in, n);
		exited = sc_cmd_run(sh->cmd, sh->in, n);
		(void)sc_cmd_steps(sh->cmd, &cut);
		if (cut)
			log_info("shell of session %s: a line ran %d commands: "
			    "the rest of it not run", sh->origin.session,
			    SC_CMD_STEPS);
		memmove(sh->in, sh->in + n, sh->inlen - n);
		sh->inlen -= n;
		if (exited)
			sh->exiting = 1;
		else {
			evbuffer_add(sh->out, "\r\n", 2);
			shell_prompt(sh);
		}
	}
}

/*
 * Writes what the peer can take now.  Ends the shell (and returns -1) when
 * the peer is gone, or when it exited and all its output went out.
 */
static int
shell_drain(struct shell *sh)
{
	if (shell_flush(sh) == -1) {
		shell_free(sh, "peer_closed");
		return -1;
	}
	if (sh->exiting && evbuffer_get_length(sh->out) == 0) {
		shell_free(sh, "exit");
		return -1;
	}
	return 0;
}

/*
 * Reads only while the output is under SHELL_OUT_MAX and the shell has
 * not exited: a peer that does not read what it asked for waits.
 */
static void
shell_pace(struct shell *sh)
{
	int	want;

	want = evbuffer_get_length(sh->out) < SHELL_OUT_MAX && !sh->exiting;
	if (want == sh->reading)
		return;
	if (want)
		event_add(sh->ev, NULL);
	else
		event_del(sh->ev);
	sh->reading = want;
}

/*
 * Reading (and the idle timer: what is EV_TIMEOUT).  Lines longer than
 * SHELL_LINE_MAX end the shell as a protocol error.
 */
static void
shell_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shell	*sh = arg;
	struct timeval	 tv = { 0, 0 };
	ssize_t		 n;

	if (what & EV_TIMEOUT) {
		shell_free(sh, "idle_timeout");
		return;
	}
	if (sh->inlen == SHELL_LINE_MAX) {	/* lines wait for the peer */
		event_del(sh->ev);
		sh->reading = 0;
		return;
	}
	n = read(sh->fd, sh->in + sh->inlen, SHELL_LINE_MAX - sh->inlen);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		/* What the peer sent last, without a line end, still runs. */
		if (n == 0 && sh->inlen > 0 && sh->inlen < SHELL_LINE_MAX) {
			sh->in[sh->inlen++] = '\n';
			shell_lines(sh);
			(void)shell_flush(sh);
		}
		shell_free(sh, "peer_closed");
		return;
	}
	if (n == -1)
		return;
	sh->bytes_in += (uint64_t)n;
	sh->inlen += (size_t)n;
	tv.tv_sec = shell.conf->idle_timeout;
	evtimer_add(sh->idle, &tv);
	shell_lines(sh);
	if (sh->inlen == SHELL_LINE_MAX &&
	    memchr(sh->in, '\n', sh->inlen) == NULL) {
		shell.protocol_errors++;
		log_info("shell of session %s: a line longer than %d bytes: "
		    "closed (%llu so far)", sh->origin.session, SHELL_LINE_MAX,
		    (unsigned long long)shell.protocol_errors);
		(void)shell_flush(sh);
		shell_free(sh, "protocol_error");
		return;
	}
	if (shell_drain(sh) == 0)
		shell_pace(sh);
}

/* The peer takes more of the output; lines that waited run. */
static void
shell_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct shell	*sh = arg;

	if (shell_drain(sh) == -1 || evbuffer_get_length(sh->out) > 0)
		return;
	shell_lines(sh);
	if (shell_drain(sh) == 0)
		shell_pace(sh);
}

void
shell_init(const struct config *conf, struct event_base *base)
{
	shell.conf = conf;
	shell.base = base;
	LIST_INIT(&shell.all);
}

/*
 * Ends every shell: a close event for each that had an open one, a
 * failed open for a connect-back still connecting.
 */
void
shell_stop(void)
{
	struct shell	*sh;

	while ((sh = LIST_FIRST(&shell.all)) != NULL) {
		if (sh->kind == SHELL_CONNECT && sh->cmd == NULL) {
			shell_open_event(sh, "failed", "shutdown", sh->host);
			shell_free(sh, NULL);
		} else
			shell_free(sh, "shutdown");
	}
}
