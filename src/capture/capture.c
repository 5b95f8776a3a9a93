/*
 * The dispatcher of capture.h: a verdict of the analyser becomes, for each
 * action that code asked for, one call to the module that carries it out,
 * once per session however many times the session's growing payload is
 * analysed.  The sessions' memory of what was done is a fixed table of
 * digests: an attacker who opens many sessions pushes the oldest out, and
 * can at worst have an action of an old session done again, within the
 * egress policy's rate limits.
 */
#include <sys/socket.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "capture.h"
#include "download.h"
#include "egress.h"
#include "event.h"
#include "log.h"
#include "sc.h"
#include "sensor.h"
#include "shell.h"
#include "transfer.h"

/* Digests of what sessions had done: 2^16 of them, 1 MiB. */
#define CAPTURE_SEEN	65536
/* Slots looked at for one digest; the oldest of them is replaced. */
#define CAPTURE_PROBE	8

struct capture_seen_slot {
	uint64_t	digest;		/* 0: free */
	uint64_t	tick;		/* when it was recorded */
};

static struct capture_seen_slot	capture_table[CAPTURE_SEEN];
static const struct config	*capture_conf;
static uint64_t			capture_tick;

/* FNV-1a, 64 bits, over n bytes, continuing from h. */
static uint64_t
capture_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char	*b = p;

	while (n-- > 0) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * Whether digest d was recorded; if not, records it (replacing the oldest
 * of its probe window) and returns 0.
 */
static int
capture_check(uint64_t d)
{
	struct capture_seen_slot	*s, *old = NULL;
	size_t				 i, at;

	if (d == 0)
		d = 1;
	for (i = 0; i < CAPTURE_PROBE; i++) {
		at = (size_t)((d + i) % CAPTURE_SEEN);
		s = &capture_table[at];
		if (s->digest == d)
			return 1;
		if (old == NULL || s->tick < old->tick)
			old = s;
	}
	old->digest = d;
	old->tick = ++capture_tick;
	return 0;
}

static uint64_t
capture_session_hash(const struct capture_origin *o)
{
	return capture_hash(0xcbf29ce484222325ULL, o->session,
	    sizeof(o->session));
}

/* The digest of action a in the session of o. */
static uint64_t
capture_action_digest(const struct capture_origin *o,
    const struct sc_action *a)
{
	uint64_t	h = capture_session_hash(o);
	uint32_t	k = (uint32_t)a->kind;

	h = capture_hash(h, "action", 6);
	h = capture_hash(h, &k, sizeof(k));
	h = capture_hash(h, &a->port, sizeof(a->port));
	h = capture_hash(h, a->host, strnlen(a->host, sizeof(a->host)));
	h = capture_hash(h, "\0", 1);
	h = capture_hash(h, a->url, strnlen(a->url, sizeof(a->url)));
	h = capture_hash(h, "\0", 1);
	h = capture_hash(h, a->command, strnlen(a->command,
	    sizeof(a->command)));
	h = capture_hash(h, "\0", 1);
	h = capture_hash(h, a->mode, strnlen(a->mode, sizeof(a->mode)));
	h = capture_hash(h, "\0", 1);
	return capture_hash(h, a->key, strnlen(a->key, sizeof(a->key)));
}

int
capture_seen(const struct capture_origin *o, const struct sc_result *res)
{
	uint64_t	h = capture_session_hash(o);
	size_t		i;

	h = capture_hash(h, "verdict", 7);
	h = capture_hash(h, &res->shellcode, sizeof(res->shellcode));
	h = capture_hash(h, res->family, strnlen(res->family,
	    sizeof(res->family)));
	for (i = 0; i < res->nactions && i < SC_MAX_ACTIONS; i++) {
		uint64_t	d = capture_action_digest(o, &res->actions[i]);

		h = capture_hash(h, &d, sizeof(d));
		h = capture_hash(h, &res->actions[i].evidence,
		    sizeof(res->actions[i].evidence));
	}
	return capture_check(h);
}

void
capture_event(struct event_buf *ev, const struct capture_origin *o,
    const char *eventid)
{
	event_begin(ev, eventid);
	event_fields(ev, o->ctx, o->ctxlen);
}

void
capture_attacker(const struct capture_origin *o, char *buf, size_t len)
{
	/* addr_ntop() writes an IPv4-mapped attacker as IPv4. */
	(void)addr_ntop((const struct sockaddr *)&o->attacker, buf, len);
}

void
capture_init(const struct config *conf)
{
	/* Each module's set-up that needs files: before the chroot. */
	egress_init(conf, sensor_egress());
	capture_conf = conf;
	download_init(conf);
}

void
capture_start(struct event_base *base)
{
	/* Each module on the sensor's loop. */
	download_start_loop(base);
	shell_init(capture_conf, base);
	transfer_init(capture_conf, base);
}

void
capture_stop(void)
{
	/* Each module's shells, transfers and downloads end here. */
	shell_stop();
	transfer_stop();
	download_stop();
}

/*
 * The port of url whose host ends at post (the authority at end): its
 * own, else its scheme's (those download.c fetches), else 0.
 */
static uint16_t
capture_url_port(const char *url, const char *post, const char *end)
{
	static const struct {
		const char	*scheme;
		uint16_t	 port;
	} known[] = { { "http:", 80 }, { "https:", 443 }, { "ftp:", 21 },
	    { "tftp:", 69 } };
	unsigned long	 v = 0;
	size_t		 i;

	if (post < end && *post == ':' && post + 1 < end) {
		for (post++; post < end && isdigit((unsigned char)*post);
		    post++)
			if ((v = v * 10 + (unsigned long)(*post - '0')) > 65535)
				return 0;
		return post == end ? (uint16_t)v : 0;
	}
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strncasecmp(url, known[i].scheme,
		    strlen(known[i].scheme)) == 0)
			return known[i].port;
	return 0;
}

int
capture_url(const struct capture_origin *o, const char *url, char *out,
    size_t outlen)
{
	const char	*auth, *end, *at, *host, *hend, *pre, *post, *p;
	char		 h[SC_HOST_MAX], to[SC_HOST_MAX];
	size_t		 n;
	int		 v6;

	if ((p = strstr(url, "://")) == NULL)
		return -1;
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	/* user:password@ ends at the last '@' of the authority. */
	for (host = auth, at = auth; at < end; at++)
		if (*at == '@')
			host = at + 1;
	pre = host;		/* the URL up to the host, brackets out */
	if (*host == '[') {
		if ((hend = memchr(host, ']', (size_t)(end - host))) == NULL)
			return -1;
		host++;
		post = hend + 1;
	} else {
		for (hend = host; hend < end && *hend != ':'; hend++)
			;
		post = hend;
	}
	if ((n = (size_t)(hend - host)) == 0 || n >= sizeof(h))
		return -1;
	memcpy(h, host, n);
	h[n] = '\0';
	egress_host(o, h, capture_url_port(url, post, end), to, sizeof(to));
	v6 = strchr(to, ':') != NULL;
	n = (size_t)snprintf(out, outlen, "%.*s%s%s%s%s", (int)(pre - url), url,
	    v6 ? "[" : "", to, v6 ? "]" : "", post);
	return n < outlen ? 0 : -1;
}

/* One action, already known new for its session and asked for by code. */
static void
capture_action(const struct capture_origin *o, const struct sc_action *a)
{
	struct sc_action	r;
	char			url[SC_URL_MAX + SC_HOST_MAX], host[SC_HOST_MAX];

	switch (a->kind) {
	case SC_BIND_SHELL:
		shell_bind(o, a->port);
		break;
	case SC_CONNECT_SHELL:
		egress_host(o, a->host, a->port, host, sizeof(host));
		shell_connect(o, host, a->port);
		break;
	case SC_RECEIVE_FILE:
		r = *a;
		egress_host(o, a->host, a->port, r.host, sizeof(r.host));
		transfer_start(o, &r);
		break;
	case SC_DOWNLOAD:
		if (capture_url(o, a->url, url, sizeof(url)) == -1) {
			log_warnx("session %s: a URL that does not parse: "
			    "not fetched", o->session);
			break;
		}
		download_url(o, url);
		break;
	case SC_EXEC:			/* its downloads are actions of their own */
		log_debug("session %s: action %d", o->session, (int)a->kind);
		break;
	}
}

void
capture_result(const struct capture_origin *o, const struct sc_result *res)
{
	const struct sc_action	*a;
	size_t			 i;

	for (i = 0; i < res->nactions && i < SC_MAX_ACTIONS; i++) {
		a = &res->actions[i];
		/* Present in clear, as in any program's help text: reported. */
		if (a->evidence == SC_EV_CLEAR)
			continue;
		if (capture_check(capture_action_digest(o, a)))
			continue;
		capture_action(o, a);
	}
}
