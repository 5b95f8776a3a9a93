/*
 * libcurl's multi interface on the sensor's libevent loop: curl says
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION: one event per socket)
 * and when to wake it (CURLMOPT_TIMERFUNCTION: one timer), and is told
 * what happened with curl_multi_socket_action.  Nothing blocks.
 *
 * Each transfer goes to the one address download.c pinned after the
 * egress policy: the URL's host is mapped to it with CURLOPT_CONNECT_TO
 * (an address, so curl resolves nothing), and CURLOPT_OPENSOCKETFUNCTION
 * is the last guard: a socket to any other address is refused.  FTP's
 * data connection goes to the pinned address too (passive mode), or is
 * a listener on the control connection's own address (active mode).
 * tftp's socket hears only the pinned address (a socket filter): curl
 * would answer the first datagram from anywhere.  No proxy is used,
 * whatever the environment says.
 *
 * No certificate is verified: the hosts that serve malware use whatever
 * certificate they have, and a sample behind a bad one is still a sample.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/filter.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "download_int.h"
#include "egress.h"
#include "listen.h"
#include "log.h"

/* What Windows XP's URLDownloadToFile said: what a worm's host expects. */
#define DOWNLOAD_AGENT \
	"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"

static struct {
	CURLM			*multi;
	struct event_base	*base;
	struct event		*timer;
	int			 running;	/* transfers curl holds */
} dc;

/* A socket curl asked us to watch. */
struct download_sock {
	struct event	ev;
	curl_socket_t	fd;
};

/*
 * What libcurl (and its OpenSSL) would read from the environment and a
 * download must not follow: a proxy (curl would send every download
 * there, and start its threaded resolver for a named one, a clone the
 * sensor's filter kills), a file to log TLS keys in, another TLS
 * backend.  OPENSSL_CONF stays: the operator's OpenSSL configuration,
 * read once, before the chroot.
 */
static const char *const download_curl_env[] = {
	"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
	"ftp_proxy", "FTP_PROXY", "all_proxy", "ALL_PROXY",
	"no_proxy", "NO_PROXY", "SSLKEYLOGFILE", "CURL_SSL_BACKEND",
};

int
download_curl_init(void)
{
	size_t	i;

	for (i = 0; i < sizeof(download_curl_env) /
	    sizeof(download_curl_env[0]); i++)
		unsetenv(download_curl_env[i]);
	/* OpenSSL reads its configuration here: before the chroot. */
	return curl_global_init(CURL_GLOBAL_ALL) == CURLE_OK ? 0 : -1;
}

/* Hands each finished transfer to download.c. */
static void
download_curl_check(void)
{
	struct download	*d;
	CURLMsg		*m;
	CURLcode	 c;
	long		 status;
	char		*redirect, *priv;
	int		 left;

	while ((m = curl_multi_info_read(dc.multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		c = m->data.result;
		priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		d = (struct download *)priv;
		status = 0;
		redirect = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE,
		    &status);
		curl_easy_getinfo(m->easy_handle, CURLINFO_REDIRECT_URL,
		    &redirect);
		/* download_done ends the easy handle: copy what it owns. */
		if (redirect != NULL && (redirect = strdup(redirect)) == NULL)
			c = CURLE_OUT_OF_MEMORY;
		download_done(d, (int)c, status, redirect);
		free(redirect);
	}
}

static void
download_curl_event_cb(evutil_socket_t fd, short what, void *arg)
{
	int	flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(dc.multi, fd, flags, &dc.running);
	download_curl_check();
}

static void
download_curl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	curl_multi_socket_action(dc.multi, CURL_SOCKET_TIMEOUT, 0,
	    &dc.running);
	download_curl_check();
}

/* CURLMOPT_TIMERFUNCTION: when curl wants to be called (-1: never). */
static int
download_curl_timer(CURLM *multi, long ms, void *arg)
{
	struct timeval	tv;

	if (ms < 0) {
		evtimer_del(dc.timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return evtimer_add(dc.timer, &tv) == 0 ? 0 : -1;
}

/* CURLMOPT_SOCKETFUNCTION: what to watch on a socket, or to stop. */
static int
download_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct download_sock	*ds = sockp;
	short			 ev = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (ds != NULL) {
			event_del(&ds->ev);
			free(ds);
		}
		curl_multi_assign(dc.multi, fd, NULL);
		return 0;
	}
	if (ds == NULL) {
		if ((ds = calloc(1, sizeof(*ds))) == NULL)
			return -1;
		ds->fd = fd;
		curl_multi_assign(dc.multi, fd, ds);
	} else
		event_del(&ds->ev);
	if (what & CURL_POLL_IN)
		ev |= EV_READ;
	if (what & CURL_POLL_OUT)
		ev |= EV_WRITE;
	if (event_assign(&ds->ev, dc.base, fd, ev, download_curl_event_cb,
	    NULL) == -1 || event_add(&ds->ev, NULL) == -1)
		return -1;
	return 0;
}

int
download_curl_start_loop(struct event_base *base)
{
	dc.base = base;
	if ((dc.multi = curl_multi_init()) == NULL ||
	    (dc.timer = evtimer_new(base, download_curl_timer_cb,
	    NULL)) == NULL)
		return -1;
	curl_multi_setopt(dc.multi, CURLMOPT_SOCKETFUNCTION,
	    download_curl_socket);
	curl_multi_setopt(dc.multi, CURLMOPT_TIMERFUNCTION,
	    download_curl_timer);
	/* No connection is kept for another transfer: each is pinned. */
	curl_multi_setopt(dc.multi, CURLMOPT_MAXCONNECTS, 0L);
	return 0;
}

/* Whether sa is d's pinned address (any port if anyport). */
static int
download_curl_pinned(const struct download *d, const struct sockaddr *sa,
    socklen_t len, int anyport)
{
	const struct sockaddr_in	*a = (const void *)sa;
	const struct sockaddr_in	*p = (const void *)&d->pin;
	const struct sockaddr_in6	*a6 = (const void *)sa;
	const struct sockaddr_in6	*p6 = (const void *)&d->pin;

	if (sa->sa_family != d->pin.ss_family)
		return 0;
	if (sa->sa_family == AF_INET && len >= sizeof(*a))
		return a->sin_addr.s_addr == p->sin_addr.s_addr &&
		    (anyport || a->sin_port == htons(d->pin_port));
	if (sa->sa_family == AF_INET6 && len >= sizeof(*a6))
		return memcmp(&a6->sin6_addr, &p6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0 &&
		    (anyport || a6->sin6_port == htons(d->pin_port));
	return 0;
}

/*
 * Whether sa (port 0) is the local address of d's FTP control
 * connection: the listener of active mode, which curl binds there and
 * never connects.
 */
static int
download_curl_own(const struct download *d, const struct sockaddr *sa,
    socklen_t len)
{
	struct sockaddr_storage	ss;
	socklen_t		sslen = sizeof(ss);
	const struct sockaddr_in *a = (const void *)sa;
	const struct sockaddr_in6 *a6 = (const void *)sa;

	if (d->scheme != DOWNLOAD_FTP || d->ctl_fd == -1 ||
	    getsockname(d->ctl_fd, (struct sockaddr *)&ss, &sslen) == -1 ||
	    ss.ss_family != sa->sa_family)
		return 0;
	if (sa->sa_family == AF_INET && len >= sizeof(*a))
		return a->sin_port == 0 && a->sin_addr.s_addr ==
		    ((struct sockaddr_in *)&ss)->sin_addr.s_addr;
	if (sa->sa_family == AF_INET6 && len >= sizeof(*a6))
		return a6->sin6_port == 0 && memcmp(&a6->sin6_addr,
		    &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	return 0;
}

/*
 * A UDP socket (tftp) hears the pinned address only: curl takes the
 * first reply from any address as its peer and answers it, so a
 * datagram from elsewhere would carry the download past the policy.
 * A classic BPF filter on the socket drops every datagram whose IP
 * source is not sa's (IPv4: 4 bytes at 12 of the IP header; IPv6: 16 at
 * 8), before curl sees it.  0, or -1 with errno.
 */
static int
download_curl_peer_only(int fd, const struct sockaddr *sa)
{
	struct sock_filter	 f[2 * 4 + 2];
	struct sock_fprog	 prog;
	uint32_t		 w[4];
	unsigned int		 i, words, off;

	if (sa->sa_family == AF_INET) {
		memcpy(w, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		words = 1;
		off = 12;
	} else {
		memcpy(w, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, 16);
		words = 4;
		off = 8;
	}
	/* Each word of the source, or the last instruction: drop. */
	for (i = 0; i < words; i++) {
		f[2 * i] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W |
		    BPF_ABS, SKF_NET_OFF + off + 4 * i);
		f[2 * i + 1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, ntohl(w[i]), 0, 2 * (words - i) - 1);
	}
	f[2 * words] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    0xffffffffu);
	f[2 * words + 1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
	prog.len = (unsigned short)(2 * words + 2);
	prog.filter = f;
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
	    sizeof(prog));
}

/*
 * CURLOPT_OPENSOCKETFUNCTION, the last guard: a socket only to the
 * pinned address (its port; any port for FTP's data connection), or for
 * active FTP's listener.  A refusal ends the transfer; d->guard says why.
 */
static curl_socket_t
download_curl_opensocket(void *arg, curlsocktype purpose,
    struct curl_sockaddr *a)
{
	struct download		*d = arg;
	const struct sockaddr	*sa = &a->addr;
	const char		*why = NULL;
	int			 fd, ctl = d->ctl_fd == -1, own = 0;

	if (purpose != CURLSOCKTYPE_IPCXN ||
	    (a->family != AF_INET && a->family != AF_INET6)) {
		d->guard = "socket_refused";
		return CURL_SOCKET_BAD;
	}
	if (!download_curl_pinned(d, sa, a->addrlen,
	    !ctl && d->scheme == DOWNLOAD_FTP) &&
	    (ctl || !(own = download_curl_own(d, sa, a->addrlen)))) {
		log_warnx("download %s: curl asked for a socket to an address "
		    "that is not the one resolved and checked: refused",
		    d->url);
		d->guard = "socket_refused";
		return CURL_SOCKET_BAD;
	}
	/* Bound to download.source_address, but the listener (curl binds). */
	if (own) {
		fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
		if (fd != -1)
			(void)listen_ttl(fd, a->family);
	} else
		fd = egress_socket(sa, a->socktype, &why);
	if (fd == -1) {
		snprintf(d->error, sizeof(d->error), "%s",
		    own ? strerror(errno) : why);
		return CURL_SOCKET_BAD;
	}
	if (a->socktype == SOCK_DGRAM && download_curl_peer_only(fd,
	    sa) == -1) {
		snprintf(d->error, sizeof(d->error), "SO_ATTACH_FILTER: %s",
		    strerror(errno));
		close(fd);
		return CURL_SOCKET_BAD;
	}
	if (ctl)
		d->ctl_fd = fd;
	d->sockets++;
	return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: forgets the control connection. */
static int
download_curl_closesocket(void *arg, curl_socket_t fd)
{
	struct download	*d = arg;

	if (fd == d->ctl_fd)
		d->ctl_fd = -1;
	return close(fd);
}

/* CURLOPT_WRITEFUNCTION: the body, kept by download.c within its caps. */
static size_t
download_curl_write(char *p, size_t size, size_t nmemb, void *arg)
{
	size_t	n = size * nmemb;

	return download_body_add(arg, p, n) == 0 ? n : 0;
}

/* The options of d's transfer; -1 if curl refused one. */
static int
download_curl_setup(struct download *d, CURL *e)
{
	char			 to[128];
	struct curl_slist	*l;
	long			 ms = (long)download_conf.timeout * 1000;
	CURLcode		 r = CURLE_OK;

	snprintf(to, sizeof(to), strchr(d->pin_host, ':') != NULL ?
	    "::[%s]:%u" : "::%s:%u", d->pin_host, d->pin_port);
	if ((l = curl_slist_append(NULL, to)) == NULL)
		return -1;
	d->connect_to = l;
#define SET(o, v)	if (r == CURLE_OK) r = curl_easy_setopt(e, o, v)
	SET(CURLOPT_URL, d->hop);
	SET(CURLOPT_PRIVATE, d);
	SET(CURLOPT_PROTOCOLS_STR, "http,https,ftp,tftp");
	SET(CURLOPT_CONNECT_TO, l);
	/* Straight to the pinned address, whatever the environment says. */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NOPROXY, "*");
	SET(CURLOPT_OPENSOCKETFUNCTION, download_curl_opensocket);
	SET(CURLOPT_OPENSOCKETDATA, d);
	SET(CURLOPT_CLOSESOCKETFUNCTION, download_curl_closesocket);
	SET(CURLOPT_CLOSESOCKETDATA, d);
	SET(CURLOPT_WRITEFUNCTION, download_curl_write);
	SET(CURLOPT_WRITEDATA, d);
	SET(CURLOPT_ERRORBUFFER, d->error);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_FORBID_REUSE, 1L);
	SET(CURLOPT_TIMEOUT_MS, ms);
	/* A server that trickles a byte a second does not keep its slot. */
	if (download_conf.min_speed > 0) {
		SET(CURLOPT_LOW_SPEED_LIMIT, (long)download_conf.min_speed);
		SET(CURLOPT_LOW_SPEED_TIME, (long)download_conf.min_speed_time);
	}
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)download_conf.max_size);
	SET(CURLOPT_BUFFERSIZE, (long)DOWNLOAD_CURL_BUFFER);
	SET(CURLOPT_USERAGENT, DOWNLOAD_AGENT);
	SET(CURLOPT_SSL_VERIFYPEER, 0L);
	SET(CURLOPT_SSL_VERIFYHOST, 0L);
	SET(CURLOPT_FTP_SKIP_PASV_IP, 1L);
	SET(CURLOPT_ACCEPTTIMEOUT_MS, (long)DOWNLOAD_ACCEPT_MS);
	if (!d->passive)
		SET(CURLOPT_FTPPORT, "-");
#undef SET
	return r == CURLE_OK ? 0 : -1;
}

int
download_curl_start(struct download *d)
{
	CURL	*e;

	if ((e = curl_easy_init()) == NULL)
		return -1;
	d->easy = e;
	d->ctl_fd = -1;
	if (download_curl_setup(d, e) == -1 ||
	    curl_multi_add_handle(dc.multi, e) != CURLM_OK) {
		download_curl_cancel(d);
		return -1;
	}
	return 0;
}

void
download_curl_cancel(struct download *d)
{
	if (d->easy != NULL) {
		curl_multi_remove_handle(dc.multi, d->easy);
		curl_easy_cleanup(d->easy);
		d->easy = NULL;
	}
	curl_slist_free_all(d->connect_to);
	d->connect_to = NULL;
}

void
download_curl_stop(void)
{
	if (dc.timer != NULL)
		event_free(dc.timer);
	if (dc.multi != NULL)
		curl_multi_cleanup(dc.multi);
	memset(&dc, 0, sizeof(dc));
}
