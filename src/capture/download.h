/*
 * Downloads (DESIGN.md section 7): http, https, ftp (active and passive)
 * and tftp through libcurl's multi interface, driven by the sensor's
 * libevent loop.  Host names are resolved asynchronously by a resolver
 * set up before the chroot; every hop of a redirect goes through the
 * egress policy; each download has a size cap, a time cap and retries.
 * Events: sundew.download.offer, then .complete (url, sha256, md5, size,
 * duplicate, filetype) or .failed (url, reason).  A complete file goes
 * to the store with its origin, under the exploit's session.
 */
#ifndef SUNDEW_DOWNLOAD_H
#define SUNDEW_DOWNLOAD_H

struct capture_origin;
struct config;
struct event_base;

void	download_init(const struct config *);		/* before the chroot */
void	download_start_loop(struct event_base *);	/* after it */
void	download_stop(void);

/* Fetches url for origin (offer, policy, complete or failed). */
void	download_url(const struct capture_origin *, const char *url);

#endif
