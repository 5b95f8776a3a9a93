/*
 * Internal to the downloads: the state shared by download.c (offers,
 * policy, resolver, retries, redirects, events, the store) and
 * download_curl.c (libcurl's multi interface on the libevent loop).
 * Nothing outside src/capture/download*.c includes this.
 */
#ifndef SUNDEW_DOWNLOAD_INT_H
#define SUNDEW_DOWNLOAD_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "capture.h"

/* A URL longer than this is refused ("url"): it goes into every event. */
#define DOWNLOAD_URL_MAX	1024
/* Redirects followed, each checked against the egress policy. */
#define DOWNLOAD_HOPS_MAX	5
/* A body's first allocation; it doubles as the data comes. */
#define DOWNLOAD_BODY_FIRST	(16 * 1024)
/*
 * The bodies of a sensor's downloads together: download.max_size times
 * download.max_concurrent could be gigabytes.  Past it a download fails
 * ("memory") rather than the sensor.
 */
#define DOWNLOAD_BODY_BUDGET	(256u * 1024 * 1024)
/*
 * libcurl's receive buffer per transfer (its minimum is 1024): the larger
 * part of what a running download costs besides its body.
 */
#define DOWNLOAD_CURL_BUFFER	(8 * 1024)
/* How long an FTP server has to connect back in active mode. */
#define DOWNLOAD_ACCEPT_MS	10000

/* What the configuration says, copied at download_init. */
struct download_conf {
	uint64_t	max_size;	/* bytes of one file */
	uint32_t	timeout;	/* seconds of one attempt */
	uint32_t	retries;	/* attempts after the first */
	uint32_t	retry_delay;	/* seconds between two */
	uint64_t	min_speed;	/* bytes a second, 0: no floor */
	uint32_t	min_speed_time;	/* seconds below it end a try */
};

enum download_scheme {
	DOWNLOAD_HTTP, DOWNLOAD_HTTPS, DOWNLOAD_FTP, DOWNLOAD_TFTP
};

struct download {
	TAILQ_ENTRY(download)	 entry;
	struct capture_origin	 origin;
	char			*url;		/* as offered */
	char			*hop;		/* being fetched */
	int			 hops;		/* redirects */
	uint32_t		 attempt;	/* 0 for the first */
	enum download_scheme	 scheme;
	int			 passive;	/* ftp: active failed */

	/* The one address curl may connect to, after the policy. */
	struct sockaddr_storage	 pin;
	socklen_t		 pinlen;
	char			 pin_host[64];	/* pin as text */
	uint16_t		 pin_port;
	int			 mapped;	/* a rule's TO_HOST: past the policy */

	/* While resolving. */
	struct evdns_getaddrinfo_request *dns;
	struct event		*retry_ev;	/* to the next try */

	void			*easy;		/* CURL *, fetching */
	void			*connect_to;	/* curl_slist * */
	int			 ctl_fd;	/* first socket or -1 */
	int			 sockets;	/* curl opened */
	int			 tried;		/* a query went out */
	const char		*guard;		/* a socket refused */
	char			 error[256];	/* curl's words */

	uint8_t			*body;
	size_t			 len, cap;
	int			 over;		/* passed max_size */
	int			 nomem;		/* past the budget */
};

/* download.c */
extern struct download_conf	download_conf;
/*
 * Appends n bytes of the body: 0, or -1 with d->over set (past
 * download.max_size) or d->nomem (past DOWNLOAD_BODY_BUDGET, or no
 * memory).
 */
int	download_body_add(struct download *, const void *, size_t n);
/* A transfer ended: curl's result, the HTTP status (0: none). */
void	download_done(struct download *, int curlcode, long status,
	    const char *redirect);

/* download_curl.c */
int	download_curl_init(void);		/* before the chroot */
int	download_curl_start_loop(struct event_base *);
/* Starts the transfer of d->hop to d->pin; -1 if curl would not. */
int	download_curl_start(struct download *);
/* Ends d's transfer, if any, without a word to download.c. */
void	download_curl_cancel(struct download *);
/* After the last transfer: the multi handle and its timer go. */
void	download_curl_stop(void);

#endif
