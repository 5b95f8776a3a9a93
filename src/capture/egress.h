/*
 * The one egress policy of every outbound connection: downloads,
 * transfers, connect-back shells (DESIGN.md section 7).  No loopback,
 * private, link-local, multicast, broadcast or reserved destination,
 * IPv4 or IPv6, unless download.allow names it; download.connect_to maps
 * a destination to another (curl's --connect-to syntax), and a
 * destination that a rule maps to its TO_HOST passes the policy (a rule
 * without TO_HOST changes only the port); a cap on concurrent
 * downloads; per-source and per-URL rate limits, both shared by every
 * sensor; download.source_address for the outbound sockets.  The address
 * classes are addr.h's, which the analyser shares.
 *
 * Every refusal is a literal, the `reason` of the sundew.download.failed
 * (or other) event that the caller writes:
 *   policy (egress_refused): "unspecified", "loopback", "private",
 *	"link-local", "cgnat", "multicast", "broadcast", "documentation",
 *	"reserved";
 *   egress_connect, egress_socket: "disabled" (download.enabled false),
 *	"bad_address" (not an address literal: resolve it first),
 *	"bad_port" (0), "source_family" (download.source_address is of the
 *	other family), "socket_error", "bind_error", "connect_error";
 *   egress_claim_url: "disabled", "duplicate", "max_concurrent",
 *	"source_rate", "url_table_full".
 */
#ifndef SUNDEW_EGRESS_H
#define SUNDEW_EGRESS_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct capture_origin;
struct config;

/*
 * Parent, before the fork: the table shared by the sensors (URLs in
 * flight or fetched, sources' starts in the last minute), in shared
 * memory.  Fatal if it cannot be mapped.
 */
struct egress_shared;
struct egress_shared	*egress_shared_new(const struct config *);
/* Unmaps the table (this process's mapping). */
void	egress_shared_free(struct egress_shared *);
/*
 * Parent, when a sensor died: frees the URLs it held in flight, so that
 * another sensor may fetch them at once.  Without it they would wait for
 * their claim to go stale (the time a download may take with its retries).
 */
void	egress_shared_reset(struct egress_shared *, pid_t sensor);

/* In each sensor, before the chroot. */
void	egress_init(const struct config *, struct egress_shared *);

/*
 * The host an attacker's address in shellcode, a command or a script
 * stands for: 0.0.0.0 and private, loopback, link-local and CGNAT
 * addresses (addr_is_private()) are the attacker's own (its NAT gateway
 * told the worm its private address), as Nepenthes did.  Writes the host
 * to use into out: origin's attacker address (IPv6 without brackets), or
 * host as it is.  A host that a download.connect_to rule names
 * explicitly for port (HOST not empty, PORT empty or port) is kept: the
 * rule decides where it goes, so that `0.0.0.0:8884:127.0.0.1:8884`
 * works; for another port it stands for the attacker.  port 0: unknown
 * (only a rule for any port keeps it).
 */
void	egress_host(const struct capture_origin *, const char *host,
	    uint16_t port, char *out, size_t outlen);

/*
 * Applies download.connect_to to host:port (host a name or an address,
 * an IPv6 one with or without brackets): the destination to connect to
 * goes into *to_host (an address or name without brackets) and *to_port,
 * from the first rule that names host:port, or host:port itself.
 * Returns 1 when that rule has a TO_HOST: the destination is the
 * operator's and passes the policy; 0 otherwise (no rule, or one that
 * only changes the port): the policy judges what host is or resolves to
 * (egress_refused()).
 */
int	egress_map(const char *host, uint16_t port, char *to_host,
	    size_t to_hostlen, uint16_t *to_port);

/*
 * Whether the policy lets a connection reach sa (an address already
 * resolved, before any mapping): NULL if so, else the reason (above).
 * download.allow lets a block through.
 */
const char *egress_refused(const struct sockaddr *sa);

/*
 * A non-blocking socket of type (SOCK_STREAM, SOCK_DGRAM) for dst's
 * family, bound to download.source_address if one is set; no policy
 * (for libcurl's socket callback, after egress_refused()).  -1 with
 * *why set.
 */
int	egress_socket(const struct sockaddr *dst, int type, const char **why);

/*
 * A non-blocking TCP connection for an action to the literal address
 * host:port: connect_to applied, then the policy (a rule's TO_HOST
 * passes), bound to download.source_address.  Returns the socket (the
 * connection in progress: wait for it to be writable, then check
 * SO_ERROR), or -1 with *why set.
 */
int	egress_connect(const char *host, uint16_t port, const char **why);

/*
 * Rate limits, before a download or transfer starts (a transfer claims
 * a URL-like name of its own, "link://host:port/key").  egress_claim_url:
 * NULL if this sensor may fetch url now (then egress_release_url() when
 * it ends), else the reason: "duplicate" while any sensor fetches it or
 * for download.url_interval after; "max_concurrent" when this sensor has
 * that many claims open; "source_rate" when origin's attacker (an IPv6
 * one: its /64) started download.per_source of them in the last minute,
 * all sensors together.
 * A duplicate is not counted against the source.
 *
 * egress_release_url: fetched 1 when anything went out towards the URL
 * (it completed, or failed after a connection or a lookup was tried):
 * the URL then rests for download.url_interval, so that a failing
 * server is not hit again by every offer; 0 when nothing left the
 * sensor (refused by the policy, cancelled): the claim is forgotten.
 */
const char *egress_claim_url(const struct capture_origin *, const char *url);
void	egress_release_url(const char *url, int fetched);

/* Claims this sensor holds open (for stats and tests). */
uint32_t egress_active(void);

/*
 * Tests only: the clock in seconds that the rate limits read, instead of
 * CLOCK_MONOTONIC; NULL puts that back.
 */
void	egress_set_clock(uint32_t (*now)(void));

#endif
