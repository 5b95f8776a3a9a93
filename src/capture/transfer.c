/*
 * Nepenthes' file transfers (transfer.h) on the sensor's loop: one
 * socket per transfer, driven by plain events, its framing in
 * transfer_dlg.c.
 *
 *   mode connect (link, csend): egress_connect() to the host of the
 *	shellcode (the attacker's own for 0.0.0.0 and private addresses),
 *	through download.connect_to and the egress policy.
 *   mode bind (blink, creceive, amberg's bind file transfer): listens on
 *	the port, at the address the exploit reached, for one peer; a port
 *	below 1024 or one in use is reported, not fought over.
 *
 * Each is named as Nepenthes named it, link://host:port/<key in base64>,
 * blink://attacker:port/<key>, csend://host:port/<prefix length>,
 * creceive://attacker:port/<prefix length>; that name is the url of the
 * download events and the claim of the egress rate limits.  The file is
 * capped at download.max_size, a bind's wait for its peer at
 * shell.listen_timeout (one key for a port waiting, shell or transfer),
 * the transfer itself at download.timeout.  Events:
 * sundew.download.offer, then the store's sundew.download.complete and
 * sundew.file.stored, or sundew.download.failed with the reason and the
 * bytes received, all with the fields of the exploit's session and
 * "origin":"transfer".
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/evp.h>

#include "capture.h"
#include "config.h"
#include "egress.h"
#include "event.h"
#include "listen.h"
#include "log.h"
#include "sc.h"
#include "sensor.h"
#include "store.h"
#include "transfer.h"
#include "transfer_dlg.h"

#define TRANSFER_URL_MAX	(SC_HOST_MAX + SC_KEY_MAX + 48)
#define TRANSFER_READ		16384	/* one read, on the stack */
/*
 * A linkbot sends its second stage as soon as the sensor is connected; a
 * peer still quiet this long after waits for the key instead (not
 * Nepenthes: it answered only a peer that spoke).
 */
#define TRANSFER_KEY_WAIT	3

enum transfer_state {
	TRANSFER_LISTENING,	/* bind: waiting for the peer */
	TRANSFER_CONNECTING,	/* connect: in progress */
	TRANSFER_TALKING	/* the dialogue */
};

struct transfer {
	TAILQ_ENTRY(transfer)	 entry;
	struct capture_origin	 origin;
	char			 url[TRANSFER_URL_MAX];
	char			 proto[16];
	enum transfer_state	 state;
	uint8_t			 key[SC_KEY_MAX / 2];
	size_t			 keylen;
	int			 fd;
	struct event		 ev;		/* on fd */
	struct event		 timer;		/* the time cap */
	struct event		 keywait;	/* the key's turn */
	int			 claimed;	/* holds its egress claim */
	int			 fetched;	/* a packet went or came */
	uint64_t		 received;	/* bytes the peer sent */
	struct transfer_dlg	 dlg;
};

static struct {
	struct event_base	*base;
	uint64_t		 max_size;
	uint32_t		 timeout;	/* download.timeout */
	uint32_t		 listen_timeout; /* shell.listen_timeout */
	int			 stopping;
	TAILQ_HEAD(, transfer)	 running;
} tr = { .running = TAILQ_HEAD_INITIALIZER(tr.running) };

static void	transfer_io_cb(evutil_socket_t, short, void *);
static void	transfer_timeout_cb(evutil_socket_t, short, void *);

void
transfer_init(const struct config *conf, struct event_base *base)
{
	tr.base = base;
	tr.max_size = conf->download_max_size;
	tr.timeout = conf->download_timeout;
	tr.listen_timeout = conf->shell_listen_timeout;
	tr.stopping = 0;
}

/* Starts an event of t: the session's fields, the url, the origin. */
static void
transfer_event(struct event_buf *ev, const struct transfer *t,
    const char *eventid)
{
	capture_event(ev, &t->origin, eventid);
	event_str(ev, "url", t->url);
	event_str(ev, "origin", "transfer");
}

static void
transfer_free(struct transfer *t)
{
	if (event_initialized(&t->ev))
		event_del(&t->ev);
	if (event_initialized(&t->timer))
		event_del(&t->timer);
	if (event_initialized(&t->keywait))
		event_del(&t->keywait);
	if (t->fd != -1)
		close(t->fd);
	transfer_dlg_free(&t->dlg);
	TAILQ_REMOVE(&tr.running, t, entry);
	free(t);
}

/* The end of a transfer that got no file: its event, its claim. */
static void
transfer_fail(struct transfer *t, const char *reason)
{
	struct event_buf	ev;

	transfer_event(&ev, t, "sundew.download.failed");
	event_str(&ev, "reason", reason);
	event_int(&ev, "received", (int64_t)t->received);
	sensor_send_event(&ev);
	log_info("transfer %s (session %s): failed: %s", t->url,
	    t->origin.session, reason);
	if (t->claimed)
		egress_release_url(t->url, t->fetched);
	transfer_free(t);
}

/*
 * The file to the store, which writes sundew.download.complete and
 * sundew.file.stored with the session's fields, the origin and the url.
 */
static void
transfer_complete(struct transfer *t)
{
	char	ctx[CAPTURE_CTX_MAX + 2 * TRANSFER_URL_MAX + 64], url[
	    2 * TRANSFER_URL_MAX];
	int	n;

	event_escape(url, sizeof(url), t->url, strlen(t->url), NULL);
	n = snprintf(ctx, sizeof(ctx),
	    "%.*s,\"origin\":\"transfer\",\"url\":\"%s\",\"proto\":\"%s\"",
	    (int)t->origin.ctxlen, t->origin.ctx, url, t->proto);
	if (n < 0 || (size_t)n >= sizeof(ctx)) {
		transfer_fail(t, "url");
		return;
	}
	if (sensor_send_file(STORE_BINARY | STORE_DOWNLOAD, ctx, (size_t)n,
	    t->dlg.buf, t->dlg.len) == -1) {
		/* Lost, not stored: the URL may be offered again at once. */
		t->fetched = 0;
		transfer_fail(t, "store_behind");
		return;
	}
	log_info("transfer %s (session %s): %zu bytes", t->url,
	    t->origin.session, t->dlg.len);
	egress_release_url(t->url, 1);
	transfer_free(t);
}

/* (Re)arms t's time cap: secs from now. */
static int
transfer_arm(struct transfer *t, uint32_t secs)
{
	struct timeval	tv = { (time_t)secs, 0 };

	if (!event_initialized(&t->timer) && evtimer_assign(&t->timer,
	    tr.base, transfer_timeout_cb, t) == -1)
		return -1;
	return evtimer_add(&t->timer, &tv);
}

/* Watches fd for what (EV_READ, EV_WRITE) in state. */
static int
transfer_watch(struct transfer *t, enum transfer_state state, short what)
{
	if (event_initialized(&t->ev))
		event_del(&t->ev);
	t->state = state;
	if (event_assign(&t->ev, tr.base, t->fd, what | EV_PERSIST,
	    transfer_io_cb, t) == -1 || event_add(&t->ev, NULL) == -1)
		return -1;
	return 0;
}

/* The key, on the peer's turn; 0, or -1 when t failed (and is gone). */
static int
transfer_send_key(struct transfer *t)
{
	if (event_initialized(&t->keywait))
		event_del(&t->keywait);
	/* A few bytes to a fresh socket: its buffer takes them. */
	if (send(t->fd, t->key, t->keylen, MSG_NOSIGNAL) !=
	    (ssize_t)t->keylen) {
		transfer_fail(t, "send_error");
		return -1;
	}
	return 0;
}

static void
transfer_keywait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct transfer	*t = arg;

	(void)fd;
	(void)what;
	if (transfer_dlg_quiet(&t->dlg) == TRANSFER_DLG_SEND_KEY)
		(void)transfer_send_key(t);
}

/*
 * The dialogue starts on t's connected socket: reading, and for a keyed
 * one, the wait for the peer's turn.  0, or -1.
 */
static int
transfer_talk(struct transfer *t)
{
	struct timeval	tv = { TRANSFER_KEY_WAIT, 0 };

	if (transfer_watch(t, TRANSFER_TALKING, EV_READ) == -1)
		return -1;
	if (t->keylen == 0)
		return 0;
	if (evtimer_assign(&t->keywait, tr.base, transfer_keywait_cb,
	    t) == -1)
		return -1;
	return evtimer_add(&t->keywait, &tv);
}

/* What the peer sent: into the dialogue; its key when it is its turn. */
static void
transfer_read(struct transfer *t)
{
	uint8_t		buf[TRANSFER_READ];
	ssize_t		n;

	n = recv(t->fd, buf, sizeof(buf), 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n == -1) {
		transfer_fail(t, "recv_error");
		return;
	}
	t->received += (uint64_t)n;
	if (n == 0) {
		if (transfer_dlg_eof(&t->dlg) == 0)
			transfer_complete(t);
		else
			transfer_fail(t, t->dlg.why);
		return;
	}
	switch (transfer_dlg_input(&t->dlg, buf, (size_t)n)) {
	case TRANSFER_DLG_MORE:
		break;
	case TRANSFER_DLG_SEND_KEY:
		transfer_send_key(t);
		break;
	case TRANSFER_DLG_COMPLETE:
		transfer_complete(t);
		break;
	case TRANSFER_DLG_ERROR:
		transfer_fail(t, t->dlg.why);
		break;
	}
}

/* Bind: the one peer; the listener closes, so no second one comes. */
static void
transfer_accept(struct transfer *t)
{
	int	fd;

	fd = accept4(t->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		    errno != ECONNABORTED)
			transfer_fail(t, "accept_error");
		return;
	}
	event_del(&t->ev);
	close(t->fd);
	t->fd = fd;
	t->fetched = 1;
	/* The peer came: from now on, the time of a transfer. */
	if (transfer_talk(t) == -1 || transfer_arm(t, tr.timeout) == -1)
		transfer_fail(t, "memory");
}

/* Connect: the connection is made, or it failed. */
static void
transfer_connected(struct transfer *t)
{
	int		err = 0;
	socklen_t	len = sizeof(err);

	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 ||
	    err != 0) {
		transfer_fail(t, err == ECONNREFUSED ? "connect_refused" :
		    "connect_error");
		return;
	}
	if (transfer_talk(t) == -1)
		transfer_fail(t, "memory");
}

static void
transfer_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct transfer	*t = arg;

	(void)fd;
	(void)what;
	switch (t->state) {
	case TRANSFER_LISTENING:
		transfer_accept(t);
		break;
	case TRANSFER_CONNECTING:
		transfer_connected(t);
		break;
	case TRANSFER_TALKING:
		transfer_read(t);
		break;
	}
}

static void
transfer_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct transfer	*t = arg;

	(void)fd;
	(void)what;
	transfer_fail(t, t->state == TRANSFER_LISTENING ? "no_peer" :
	    "timeout");
}

/*
 * Listens on port at the address the exploit reached (an IPv4-mapped
 * one as IPv4), for one peer.  -1 with *why: "privileged_port" (the
 * sensor may not, and will not ask the parent for a port an attacker
 * names), "port_in_use", "socket_error".
 */
static int
transfer_listen(const struct capture_origin *o, uint16_t port,
    const char **why)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t		 len;
	int			 fd, on = 1;

	if (port < 1024) {
		*why = "privileged_port";
		return -1;
	}
	memcpy(&ss, &o->local, sizeof(ss));
	if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		struct in_addr	a;

		memcpy(&a, &sin6->sin6_addr.s6_addr[12], sizeof(a));
		memset(&ss, 0, sizeof(ss));
		sin->sin_family = AF_INET;
		sin->sin_addr = a;
	}
	if (ss.ss_family == AF_INET) {
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else if (ss.ss_family == AF_INET6) {
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	} else {
		*why = "socket_error";
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		*why = "socket_error";
		return -1;
	}
	(void)listen_ttl(fd, ss.ss_family);
	/* Past a TIME_WAIT, never onto a live listener (no SO_REUSEPORT). */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 1) == -1) {
		*why = errno == EADDRINUSE ? "port_in_use" :
		    errno == EACCES ? "privileged_port" : "socket_error";
		close(fd);
		return -1;
	}
	return fd;
}

/* A hex digit's value, or -1. */
static int
transfer_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* hex (an even number of digits) into key; its length, or 0. */
static size_t
transfer_key(const char *hex, uint8_t *key, size_t max)
{
	size_t	n = strlen(hex), i;
	int	hi, lo;

	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return 0;
	for (i = 0; i < n / 2; i++) {
		if ((hi = transfer_nibble(hex[2 * i])) == -1 ||
		    (lo = transfer_nibble(hex[2 * i + 1])) == -1)
			return 0;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return n / 2;
}

/*
 * Fills t's proto, key and url from action a: host is where a connect
 * goes, or for a bind the attacker (as Nepenthes named blink and
 * creceive).  A link without a key it can read is a csend: the dialogue
 * it can hold.
 */
static void
transfer_name(struct transfer *t, const struct sc_action *a, int bind,
    const char *host)
{
	char	b64[SC_KEY_MAX], path[SC_KEY_MAX];
	int	keyed = strcmp(a->proto, "link") == 0 ||
	    strcmp(a->proto, "blink") == 0;

	if (keyed)
		t->keylen = transfer_key(a->key, t->key, sizeof(t->key));
	if (t->keylen > 0) {
		snprintf(t->proto, sizeof(t->proto), "%s",
		    bind ? "blink" : "link");
		EVP_EncodeBlock((unsigned char *)b64, t->key, (int)t->keylen);
		snprintf(path, sizeof(path), "%s", b64);
	} else {
		snprintf(t->proto, sizeof(t->proto), "%s",
		    bind ? "creceive" : "csend");
		snprintf(path, sizeof(path), "%u", a->length_prefix);
	}
	snprintf(t->url, sizeof(t->url), "%s://%s%s%s:%u/%s", t->proto,
	    strchr(host, ':') != NULL ? "[" : "", host,
	    strchr(host, ':') != NULL ? "]" : "", a->port, path);
}

/* Opens t's socket: a listener, or a connection on its way. */
static const char *
transfer_open(struct transfer *t, int bind, const char *host, uint16_t port)
{
	const char	*why = NULL;

	if (bind) {
		if ((t->fd = transfer_listen(&t->origin, port, &why)) == -1)
			return why;
		if (transfer_watch(t, TRANSFER_LISTENING, EV_READ) == -1)
			return "memory";
		return NULL;
	}
	if ((t->fd = egress_connect(host, port, &why)) == -1)
		return why != NULL ? why : "connect_error";
	t->fetched = 1;
	if (transfer_watch(t, TRANSFER_CONNECTING, EV_WRITE) == -1)
		return "memory";
	return NULL;
}

void
transfer_start(const struct capture_origin *o, const struct sc_action *a)
{
	struct event_buf	 ev;
	struct transfer		*t;
	char			 host[SC_HOST_MAX];
	const char		*why;
	int			 bind;

	if (a->kind != SC_RECEIVE_FILE || a->port == 0)
		return;
	bind = strcmp(a->mode, "bind") == 0;
	/* A bind is named by the attacker, as Nepenthes named it. */
	if (bind)
		capture_attacker(o, host, sizeof(host));
	else
		snprintf(host, sizeof(host), "%s", a->host);
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warn("transfer: calloc");
		return;
	}
	t->fd = -1;
	t->origin = *o;
	transfer_name(t, a, bind, host);
	transfer_dlg_init(&t->dlg, t->keylen > 0, a->length_prefix,
	    tr.max_size);
	TAILQ_INSERT_TAIL(&tr.running, t, entry);

	transfer_event(&ev, t, "sundew.download.offer");
	event_str(&ev, "proto", t->proto);
	event_str(&ev, "mode", bind ? "bind" : "connect");
	sensor_send_event(&ev);
	if (tr.base == NULL || tr.stopping) {
		transfer_fail(t, "stopped");
		return;
	}
	if ((why = egress_claim_url(o, t->url)) != NULL) {
		transfer_fail(t, why);
		return;
	}
	t->claimed = 1;
	if ((why = transfer_open(t, bind, host, a->port)) != NULL) {
		transfer_fail(t, why);
		return;
	}
	/* A port waits for its peer as a bind shell's does. */
	if (transfer_arm(t, bind ? tr.listen_timeout : tr.timeout) == -1)
		transfer_fail(t, "memory");
}

void
transfer_stop(void)
{
	tr.stopping = 1;
	while (!TAILQ_EMPTY(&tr.running))
		transfer_fail(TAILQ_FIRST(&tr.running), "shutdown");
}
