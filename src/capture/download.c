/*
 * Downloads (DESIGN.md section 7): what happens between an offered URL
 * and a stored file.  An offer is logged, checked (URL, scheme, the
 * egress rate limits), its host mapped by download.connect_to or
 * resolved by evdns and each address checked by the egress policy; the
 * address that passes is the only one curl may connect to
 * (download_curl.c).  A redirect is followed here, not by curl, so that
 * each hop goes through the same checks.  A transient failure is tried
 * again after download.retry_delay, at most download.retries times.
 *
 * A complete file goes to the store with the session's fields plus
 * "origin":"download" and the URL; the store, which knows its type and
 * whether it has it already, writes sundew.download.complete and then
 * sundew.file.stored (store.h, STORE_DOWNLOAD).
 *
 * The resolver is set up before the chroot (download.resolv_conf,
 * download.hosts): the sensor's chroot has no /etc, and curl never
 * resolves a name itself.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "capture.h"
#include "config.h"
#include "download.h"
#include "download_int.h"
#include "egress.h"
#include "event.h"
#include "log.h"
#include "sensor.h"
#include "store.h"

struct download_conf	download_conf;

static struct {
	struct evdns_base	*dns;
	struct event_base	*base;		/* NULL until the loop */
	TAILQ_HEAD(, download)	 running;
	size_t			 nrunning;
	size_t			 bodies;	/* their bytes */
	int			 stopping;
} dl = { .running = TAILQ_HEAD_INITIALIZER(dl.running) };

static void	download_attempt(struct download *);

/* Copies what the downloads read of the configuration. */
static void
download_conf_load(const struct config *conf)
{
	memset(&download_conf, 0, sizeof(download_conf));
	download_conf.max_size = conf->download_max_size;
	download_conf.timeout = conf->download_timeout;
	download_conf.retries = conf->download_retries > 0 ?
	    (uint32_t)conf->download_retries : 0;
	download_conf.retry_delay = conf->download_retry_delay;
	download_conf.min_speed = conf->download_min_speed;
	download_conf.min_speed_time = conf->download_min_speed_time;
}

/*
 * The resolver, before the chroot: name servers and options from
 * resolv_conf, names from hosts (either "" or NULL: none).  A resolver
 * without name servers answers from hosts only.
 */
static void
download_dns_init(const struct config *conf)
{
	const char	*rc = conf->download_resolv_conf;
	const char	*hosts = conf->download_hosts;
	int		 r;

	/* libevent seeds its DNS ids from the kernel: before the chroot. */
	evutil_secure_rng_init();
	if ((dl.dns = evdns_base_new(sensor_base(),
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL)
		fatalx("evdns_base_new failed");
	if (rc != NULL && *rc != '\0' &&
	    (r = evdns_base_resolv_conf_parse(dl.dns, DNS_OPTIONS_ALL,
	    rc)) != 0) {
		/* 1: no such file, 6: no name server in it: 127.0.0.1. */
		if (r == 1 || r == 6)
			log_warnx("download.resolv_conf %s %s: asking the name "
			    "server on 127.0.0.1", rc, r == 1 ?
			    "could not be opened" : "names no name server");
		else
			log_warnx("download.resolv_conf %s could not be read "
			    "(evdns error %d): host names resolve from "
			    "download.hosts only", rc, r);
	}
	if (hosts != NULL && *hosts != '\0' &&
	    evdns_base_load_hosts(dl.dns, hosts) == -1)
		log_warnx("download.hosts %s could not be read: host names "
		    "resolve through DNS only", hosts);
}

void
download_init(const struct config *conf)
{
	dl.stopping = 0;
	download_conf_load(conf);
	if (download_curl_init() == -1)
		fatalx("curl_global_init failed");
	download_dns_init(conf);
}

void
download_start_loop(struct event_base *base)
{
	if (download_curl_start_loop(base) == -1)
		fatalx("libcurl's multi interface could not start");
	dl.base = base;
}

/*
 * Starts an event of the download: the session's fields, its origin and
 * the URL.
 */
static void
download_event(struct event_buf *ev, const struct capture_origin *o,
    const char *eventid, const char *url)
{
	capture_event(ev, o, eventid);
	/* As a transfer's say "transfer": what asked for the file. */
	event_str(ev, "origin", "download");
	event_str(ev, "url", url);
}

/* sundew.download.failed for an offer that never became a download. */
static void
download_refuse(const struct capture_origin *o, const char *url,
    const char *reason)
{
	struct event_buf	ev;

	download_event(&ev, o, "sundew.download.failed", url);
	event_str(&ev, "reason", reason);
	sensor_send_event(&ev);
}

/* Gives back d's body (a new attempt starts from nothing). */
static void
download_body_reset(struct download *d)
{
	dl.bodies -= d->cap;
	free(d->body);
	d->body = NULL;
	d->len = d->cap = 0;
}

/*
 * The body grows as it comes, doubling from DOWNLOAD_BODY_FIRST, never
 * from the length the server announces: a server that announces
 * download.max_size and then sends a byte a minute would have it all.
 */
int
download_body_add(struct download *d, const void *p, size_t n)
{
	size_t	 cap = d->cap > 0 ? d->cap : DOWNLOAD_BODY_FIRST;
	uint8_t	*b;

	if (n > download_conf.max_size - d->len) {
		d->over = 1;
		return -1;
	}
	if (d->len + n > d->cap) {
		while (cap < d->len + n)
			cap = cap > download_conf.max_size / 2 ?
			    download_conf.max_size : cap * 2;
		if (dl.bodies - d->cap + cap > DOWNLOAD_BODY_BUDGET ||
		    (b = realloc(d->body, cap)) == NULL) {
			d->nomem = 1;
			return -1;
		}
		dl.bodies = dl.bodies - d->cap + cap;
		d->body = b;
		d->cap = cap;
	}
	memcpy(d->body + d->len, p, n);
	d->len += n;
	return 0;
}

static void
download_free(struct download *d)
{
	if (d->dns != NULL)
		evdns_getaddrinfo_cancel(d->dns);
	download_curl_cancel(d);
	if (d->retry_ev != NULL)
		event_free(d->retry_ev);
	TAILQ_REMOVE(&dl.running, d, entry);
	dl.nrunning--;
	download_body_reset(d);
	free(d->url);
	free(d->hop);
	free(d);
}

/* The end of a download that got no file: its event, its claim. */
static void
download_fail(struct download *d, const char *reason)
{
	struct event_buf	ev;

	download_event(&ev, &d->origin, "sundew.download.failed", d->url);
	event_str(&ev, "reason", reason);
	if (d->hops > 0)
		event_str(&ev, "hop_url", d->hop);
	if (d->error[0] != '\0')
		event_str(&ev, "error", d->error);
	event_int(&ev, "attempts", (int64_t)d->attempt + 1);
	sensor_send_event(&ev);
	egress_release_url(d->url, d->tried || d->sockets > 0);
	download_free(d);
}

/*
 * The session's fields, then "origin":"download","url":... (and the last
 * hop's URL after a redirect): the context of the file for the store.
 * Returns its length, 0 if it does not fit (it always does: the URL is
 * printable and at most DOWNLOAD_URL_MAX bytes).
 */
static size_t
download_ctx(const struct download *d, char *buf, size_t len)
{
	char	url[2 * DOWNLOAD_URL_MAX + 1];
	char	hop[2 * DOWNLOAD_URL_MAX + 1];
	int	n;

	event_escape(url, sizeof(url), d->url, strlen(d->url), NULL);
	event_escape(hop, sizeof(hop), d->hop, strlen(d->hop), NULL);
	n = snprintf(buf, len,
	    "%.*s,\"origin\":\"download\",\"url\":\"%s\"%s%s%s",
	    (int)d->origin.ctxlen, d->origin.ctx, url,
	    d->hops > 0 ? ",\"hop_url\":\"" : "", d->hops > 0 ? hop : "",
	    d->hops > 0 ? "\"" : "");
	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

/*
 * A file: to the store, which writes sundew.download.complete and
 * sundew.file.stored.
 */
static void
download_complete(struct download *d)
{
	char	ctx[SENSOR_FILE_CTX];
	size_t	n;

	if (d->len == 0) {
		download_fail(d, "empty");
		return;
	}
	if ((n = download_ctx(d, ctx, sizeof(ctx))) == 0) {
		download_fail(d, "url");
		return;
	}
	if (sensor_send_file(STORE_BINARY | STORE_DOWNLOAD, ctx, n, d->body,
	    d->len) == -1) {
		/* Lost, not stored: the URL may be offered again at once. */
		d->tried = d->sockets = 0;
		download_fail(d, "store_behind");
		return;
	}
	egress_release_url(d->url, 1);
	download_free(d);
}

static void
download_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	download_attempt(arg);
}

/*
 * A transient failure: again from the offered URL after
 * download.retry_delay, or the end if the retries are spent.
 */
static void
download_retry(struct download *d, const char *reason)
{
	struct timeval	tv = { (time_t)download_conf.retry_delay, 0 };

	if (d->attempt >= download_conf.retries || dl.stopping) {
		download_fail(d, reason);
		return;
	}
	d->attempt++;
	log_debug("download %s: %s, trying again in %us", d->url, reason,
	    download_conf.retry_delay);
	free(d->hop);
	if ((d->hop = strdup(d->url)) == NULL) {
		download_fail(d, "memory");
		return;
	}
	d->hops = 0;
	d->passive = 0;
	if (d->retry_ev == NULL && (d->retry_ev = evtimer_new(dl.base,
	    download_retry_cb, d)) == NULL) {
		download_fail(d, "memory");
		return;
	}
	evtimer_add(d->retry_ev, &tv);
}

/*
 * Splits d->hop: its scheme (one of ours), host (IPv6 without brackets)
 * and port.  Returns NULL, or the reason to refuse it.
 */
static const char *
download_parse(struct download *d, char *host, size_t hostlen,
    uint16_t *port)
{
	static const char *const schemes[] = { "http", "https", "ftp", "tftp" };
	CURLU		*u;
	char		*s = NULL, *h = NULL, *p = NULL;
	const char	*why = "url";
	size_t		 i, n;
	long		 v;

	if ((u = curl_url()) == NULL)
		return "memory";
	if (curl_url_set(u, CURLUPART_URL, d->hop, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK)
		goto done;
	why = "scheme";
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strcasecmp(s, schemes[i]) == 0)
			break;
	if (i == sizeof(schemes) / sizeof(schemes[0]))
		goto done;
	d->scheme = (enum download_scheme)i;
	why = "url";
	if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK)
		goto done;
	v = strtol(p, NULL, 10);
	n = strlen(h);
	if (v < 1 || v > 65535 || n == 0)
		goto done;
	if (h[0] == '[' && n >= 2 && h[n - 1] == ']') {
		h[n - 1] = '\0';
		memmove(h, h + 1, n - 1);
	}
	if (strlen(h) >= hostlen)
		goto done;
	snprintf(host, hostlen, "%s", h);
	*port = (uint16_t)v;
	why = NULL;
done:
	curl_free(s);
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return why;
}

/*
 * The resolver's answer: the first address the policy lets through (any
 * address of a destination that download.connect_to named) is pinned,
 * and the transfer starts.
 */
static void
download_resolved(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct download		*d = arg;
	struct evutil_addrinfo	*a;
	const char		*why = "resolve";
	const void		*ip;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* d is being freed */
	d->dns = NULL;
	if (result != 0) {
		snprintf(d->error, sizeof(d->error), "%s",
		    evutil_gai_strerror(result));
		if (result == EVUTIL_EAI_AGAIN)
			download_retry(d, "resolve");
		else
			download_fail(d, "resolve");
		return;
	}
	for (a = ai; a != NULL; a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    a->ai_addrlen > sizeof(d->pin))
			continue;
		if (!d->mapped && (why = egress_refused(a->ai_addr)) != NULL)
			continue;
		memcpy(&d->pin, a->ai_addr, a->ai_addrlen);
		d->pinlen = (socklen_t)a->ai_addrlen;
		break;
	}
	evutil_freeaddrinfo(ai);
	if (a == NULL) {
		download_fail(d, why);	/* a refusal is final */
		return;
	}
	ip = d->pin.ss_family == AF_INET ?
	    (const void *)&((struct sockaddr_in *)&d->pin)->sin_addr :
	    (const void *)&((struct sockaddr_in6 *)&d->pin)->sin6_addr;
	inet_ntop(d->pin.ss_family, ip, d->pin_host, sizeof(d->pin_host));
	if (download_curl_start(d) == -1)
		download_fail(d, "memory");
}

/*
 * One attempt at d->hop: parsed, mapped or checked, resolved; the
 * transfer starts when the resolver answers (at once for an address or
 * a name of download.hosts).
 */
static void
download_attempt(struct download *d)
{
	struct evutil_addrinfo			 hints;
	struct evdns_getaddrinfo_request	*req;
	char					 host[256], to[256];
	const char				*why;
	uint16_t				 port, to_port;

	if ((why = download_parse(d, host, sizeof(host), &port)) != NULL) {
		download_fail(d, why);
		return;
	}
	/* A rule may change the port only: the policy still applies then. */
	d->mapped = egress_map(host, port, to, sizeof(to), &to_port);
	snprintf(host, sizeof(host), "%s", to);
	port = to_port;
	d->pin_port = port;
	download_body_reset(d);
	d->over = 0;
	d->nomem = 0;
	d->guard = NULL;
	d->error[0] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = d->scheme == DOWNLOAD_TFTP ? SOCK_DGRAM :
	    SOCK_STREAM;
	/* May answer (and so free d) before it returns. */
	req = evdns_getaddrinfo(dl.dns, host, NULL, &hints, download_resolved,
	    d);
	if (req != NULL) {
		d->dns = req;
		d->tried = 1;	/* a query to a name server */
	}
}

/* Whether url is one we may hand to curl: printable, not too long. */
static int
download_url_ok(const char *url)
{
	size_t	i;

	for (i = 0; url[i] != '\0'; i++)
		if (i == DOWNLOAD_URL_MAX || !isgraph((unsigned char)url[i]))
			return 0;
	return i > 0;
}

void
download_url(const struct capture_origin *o, const char *url)
{
	struct event_buf	 ev;
	struct download		*d;
	const char		*why;

	download_event(&ev, o, "sundew.download.offer", url);
	sensor_send_event(&ev);
	if (dl.base == NULL || dl.stopping) {
		download_refuse(o, url, "stopped");
		return;
	}
	if (!download_url_ok(url)) {
		download_refuse(o, url, "url");
		return;
	}
	if ((why = egress_claim_url(o, url)) != NULL) {
		download_refuse(o, url, why);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->url = strdup(url)) == NULL || (d->hop = strdup(url)) == NULL) {
		if (d != NULL) {
			free(d->url);
			free(d);
		}
		egress_release_url(url, 0);
		download_refuse(o, url, "memory");
		return;
	}
	d->origin = *o;
	TAILQ_INSERT_TAIL(&dl.running, d, entry);
	dl.nrunning++;
	download_attempt(d);
}

/* curl's errors that another attempt may cure. */
static int
download_transient(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_FTP_ACCEPT_FAILED:
	case CURLE_FTP_ACCEPT_TIMEOUT:
	case CURLE_FTP_CANT_GET_HOST:
		return 1;
	default:
		return 0;
	}
}

/*
 * A short reason for curl's result: a word for the usual ones, else
 * curl's own text, lower case, words joined by '_'.
 */
static const char *
download_reason(CURLcode c, char *buf, size_t len)
{
	const char	*s;
	size_t		 i, n = 0;

	switch (c) {
	case CURLE_COULDNT_CONNECT:
		return "connect";
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_FILESIZE_EXCEEDED:
		return "max_size";
	case CURLE_REMOTE_FILE_NOT_FOUND:
	case CURLE_TFTP_NOTFOUND:
		return "not_found";
	case CURLE_LOGIN_DENIED:
		return "login";
	case CURLE_REMOTE_ACCESS_DENIED:
	case CURLE_TFTP_PERM:
		return "denied";
	default:
		break;
	}
	s = curl_easy_strerror(c);
	for (i = 0; s[i] != '\0' && n + 1 < len; i++) {
		if (isalnum((unsigned char)s[i]))
			buf[n++] = (char)tolower((unsigned char)s[i]);
		else if (n > 0 && buf[n - 1] != '_')
			buf[n++] = '_';
	}
	while (n > 0 && buf[n - 1] == '_')
		n--;
	buf[n] = '\0';
	return buf;
}

/* A redirect: the next hop, checked from the start like the first. */
static void
download_redirect(struct download *d, const char *location)
{
	char	*next;

	if (++d->hops > DOWNLOAD_HOPS_MAX) {
		d->hops--;
		download_fail(d, "redirects");
		return;
	}
	if (!download_url_ok(location) || (next = strdup(location)) == NULL) {
		download_fail(d, "url");
		return;
	}
	free(d->hop);
	d->hop = next;
	download_attempt(d);
}

void
download_done(struct download *d, int curlcode, long status,
    const char *redirect)
{
	CURLcode	c = (CURLcode)curlcode;
	char		reason[64];

	download_curl_cancel(d);
	if (d->over || c == CURLE_FILESIZE_EXCEEDED) {
		snprintf(d->error, sizeof(d->error), "more than %llu bytes",
		    (unsigned long long)download_conf.max_size);
		download_fail(d, "max_size");	/* nothing is stored */
		return;
	}
	if (d->nomem) {
		log_warnx("download %s: the bodies of the running downloads "
		    "would pass %u MiB: failed", d->url,
		    DOWNLOAD_BODY_BUDGET >> 20);
		download_fail(d, "memory");
		return;
	}
	if (d->guard != NULL) {
		download_fail(d, d->guard);
		return;
	}
	/* Active mode failed (a NAT, a server that wants PASV): passive. */
	if (d->scheme == DOWNLOAD_FTP && !d->passive &&
	    (c == CURLE_FTP_PORT_FAILED || c == CURLE_FTP_ACCEPT_FAILED ||
	    c == CURLE_FTP_ACCEPT_TIMEOUT)) {
		d->passive = 1;
		download_attempt(d);
		return;
	}
	/*
	 * Under download.min_speed: curl tells it from the time cap only in
	 * its words ("Operation too slow. Less than ..."), same code.
	 */
	if (c == CURLE_OPERATION_TIMEDOUT &&
	    strstr(d->error, "too slow") != NULL) {
		download_fail(d, "too_slow");
		return;
	}
	if (c != CURLE_OK) {
		if (download_transient(c))
			download_retry(d, download_reason(c, reason,
			    sizeof(reason)));
		else
			download_fail(d, download_reason(c, reason,
			    sizeof(reason)));
		return;
	}
	if (d->scheme != DOWNLOAD_HTTP && d->scheme != DOWNLOAD_HTTPS) {
		download_complete(d);
		return;
	}
	if (status >= 300 && status < 400 && redirect != NULL) {
		download_redirect(d, redirect);
		return;
	}
	if (status >= 200 && status < 300) {
		download_complete(d);
		return;
	}
	snprintf(reason, sizeof(reason), "http_%ld", status);
	if (status >= 500 || status == 408 || status == 429)
		download_retry(d, reason);
	else
		download_fail(d, reason);
}

/* Shutdown: each running download ends with its failed event. */
void
download_stop(void)
{
	struct download	*d;

	dl.stopping = 1;
	while ((d = TAILQ_FIRST(&dl.running)) != NULL)
		download_fail(d, "shutdown");
	download_curl_stop();
	if (dl.dns != NULL)
		evdns_base_free(dl.dns, 0);
	dl.dns = NULL;
	dl.base = NULL;
	dl.stopping = 0;
}
