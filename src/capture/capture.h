/*
 * Capture (DESIGN.md sections 1 and 7): what the analyser found a payload
 * wants done, carried out under control in the sensor, on its event loop.
 * capture.c takes a verdict and hands each action, once per session, to
 * the module that does it: download.c (http, https, ftp, tftp through
 * libcurl), shell.c (bind and connect-back shells running the emulated
 * cmd.exe), transfer.c (Nepenthes' link, csend, blink, creceive).  Every
 * outbound connection goes through egress.c's one policy.  Every event
 * carries the fields of the exploit's session, so that one session id
 * tells the story from the exploit to the stored file.
 */
#ifndef SUNDEW_CAPTURE_H
#define SUNDEW_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"

struct config;
struct event_base;
struct event_buf;
struct sc_result;

/* The session's JSON fields, as conn_fields() renders them. */
#define CAPTURE_CTX_MAX	1024

/* The session whose payload asked for an action. */
struct capture_origin {
	char			 session[CONN_ID_LEN + 1];
	struct sockaddr_storage	 attacker;	/* its source address */
	struct sockaddr_storage	 local;		/* the sensor's address it reached */
	char			 ctx[CAPTURE_CTX_MAX];
	size_t			 ctxlen;
	/* Where the payload analysed starts in the session's input. */
	size_t			 input_at;
};

/* Before the chroot: what needs files (resolver, libcurl, TLS). */
void	capture_init(const struct config *);
/* After it, on the sensor's loop. */
void	capture_start(struct event_base *);
/* Shutdown: ends every shell, transfer and download, with their events. */
void	capture_stop(void);

/*
 * A verdict on a payload of the session of origin: each action that code
 * asked for (sc.h: evidence) is carried out once per session, however
 * many times it is found.
 */
void	capture_result(const struct capture_origin *, const struct sc_result *);

/*
 * Whether the session of origin already had this verdict (the same code,
 * the same actions): 1, else it is recorded and 0.  A payload analysed
 * again as more of it came says so once.
 */
int	capture_seen(const struct capture_origin *, const struct sc_result *);

/*
 * url with its host as egress_host() has it (an address in shellcode that
 * stands for the attacker's: 0.0.0.0, a private one), into out.  Returns
 * 0, or -1 if url has no scheme://host or out is too small.
 */
int	capture_url(const struct capture_origin *, const char *url, char *out,
	    size_t outlen);

/* Starts an event with the fields of origin's session. */
void	capture_event(struct event_buf *, const struct capture_origin *,
	    const char *eventid);
/* The attacker's address as text (for 0.0.0.0 and private addresses). */
void	capture_attacker(const struct capture_origin *, char *buf, size_t len);

#endif
