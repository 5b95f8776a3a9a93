/*
 * The one egress policy of every outbound connection: downloads,
 * transfers, connect-back shells (DESIGN.md section 7).  No loopback,
 * private, link-local, multicast, broadcast or reserved destination,
 * IPv4 or IPv6, unless download.allow names it; download.connect_to maps
 * a destination to another (curl's --connect-to syntax), and a
 * destination that a rule names passes the policy; a cap on concurrent
 * downloads; per-source and per-URL rate limits, the URL ones shared by
 * every sensor; download.source_address for the outbound sockets.
 */
#ifndef SUNDEW_EGRESS_H
#define SUNDEW_EGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct capture_origin;
struct config;

/* Parent, before the fork: the table shared by the sensors. */
struct egress_shared;
struct egress_shared	*egress_shared_new(const struct config *);

/* In each sensor, before the chroot. */
void	egress_init(const struct config *, struct egress_shared *);

/*
 * The host an attacker's address in shellcode, a command or a script
 * stands for: 0.0.0.0 and private, loopback and link-local addresses are
 * the attacker's own (its NAT gateway told the worm its private
 * address), as Nepenthes did.  Writes the host to use into out.
 */
void	egress_host(const struct capture_origin *, const char *host,
	    char *out, size_t outlen);

/*
 * Applies download.connect_to to host:port: 1 with the destination a rule
 * maps it to (*to_host, *to_port), 0 if no rule names it.
 */
int	egress_map(const char *host, uint16_t port, char *to_host,
	    size_t to_hostlen, uint16_t *to_port);

/*
 * Whether the policy lets a connection reach sa (an address already
 * resolved, before any mapping): NULL if so, else the reason, a literal
 * ("loopback", "private", "link-local", "multicast", "broadcast",
 * "reserved", ...).
 */
const char *egress_refused(const struct sockaddr *sa);

/*
 * A non-blocking TCP connection for an action to the literal address
 * host:port: connect_to applied, then the policy (a mapped destination
 * passes), bound to download.source_address.  Returns the socket, or -1
 * with *why set (a literal: the reason of the sundew.download.failed or
 * other event the caller writes).
 */
int	egress_connect(const char *host, uint16_t port, const char **why);

/*
 * Rate limits, before a download or transfer starts.  egress_claim_url:
 * 0 if this sensor may fetch url now (then egress_release_url() when it
 * ends), else a reason: "duplicate" while any sensor fetches it or for
 * download.url_interval after, "source_rate", "max_concurrent".
 */
const char *egress_claim_url(const struct capture_origin *, const char *url);
void	egress_release_url(const char *url, int fetched);

#endif
