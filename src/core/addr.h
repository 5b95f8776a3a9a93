/*
 * Address classes, CIDR blocks and download.connect_to rules: the one
 * place that says which IPv4 and IPv6 addresses are not on the public
 * internet.  The egress policy (src/capture/egress.c) refuses them as
 * destinations; the analyser (src/sc/sc_cmd.c) and the shells take such
 * an address in an attacker's command for the attacker's own.  Pure
 * functions of their arguments: no network, no libevent, no allocation,
 * so that the analyser links them too.
 */
#ifndef SUNDEW_ADDR_H
#define SUNDEW_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A host name, an IPv6 literal in brackets and a port: the longest rule. */
#define ADDR_HOST_MAX	256

/* Why an address is not a public destination; ADDR_PUBLIC is one. */
enum addr_class {
	ADDR_PUBLIC = 0,
	ADDR_UNSPECIFIED,	/* 0.0.0.0/8, :: */
	ADDR_LOOPBACK,		/* 127.0.0.0/8, ::1 */
	ADDR_PRIVATE,		/* RFC 1918, fc00::/7, fec0::/10, 64:ff9b:1::/48 */
	ADDR_LINKLOCAL,		/* 169.254.0.0/16, fe80::/10 */
	ADDR_CGNAT,		/* 100.64.0.0/10, the carriers' NAT */
	ADDR_MULTICAST,		/* 224.0.0.0/4, ff00::/8 */
	ADDR_BROADCAST,		/* 255.255.255.255 */
	ADDR_DOCUMENTATION,	/* 192.0.2/24, 198.51.100/24, 203.0.113/24,
				   2001:db8::/32, 3fff::/20 */
	ADDR_RESERVED		/* the rest that no internet host has */
};

/*
 * The class of an address.  IPv4 in IPv6 is classified as the IPv4
 * address it carries: ::ffff:a.b.c.d, NAT64's 64:ff9b::a.b.c.d and 6to4's
 * 2002:aabb:ccdd::/48, since a host or a relay on the way delivers it
 * there.  Any family but AF_INET and AF_INET6 is ADDR_RESERVED.
 */
enum addr_class	 addr_class(const struct sockaddr *sa);

/*
 * The class as the literal that events carry as a refusal's reason:
 * "unspecified", "loopback", "private", "link-local", "cgnat",
 * "multicast", "broadcast", "documentation", "reserved"; NULL for
 * ADDR_PUBLIC.
 */
const char	*addr_class_name(enum addr_class);

/*
 * Parses an IPv4 or IPv6 literal into *ss (port 0) and returns its
 * length, or 0 if s is not one.  An IPv6 literal may stand in brackets
 * ("[::1]") and carry a zone ("fe80::1%eth0", the zone ignored).  IPv4 is
 * the dotted quad only; addr_parse_loose() also takes the forms that
 * Windows' inet_addr() and glibc's inet_aton() take ("127.1",
 * "0x7f000001", "0177.0.0.1"), as the command a worm wrote means them.
 */
socklen_t	 addr_parse(const char *s, struct sockaddr_storage *ss);
socklen_t	 addr_parse_loose(const char *s, struct sockaddr_storage *ss);

/*
 * Whether host, an address literal written by an attacker (in shellcode,
 * a shell command, an FTP script), stands for the attacker's own address:
 * unspecified (0.0.0.0), loopback, private, link-local or CGNAT, in
 * either family.  A worm behind a NAT learns and writes its private
 * address; 0.0.0.0 is what some write for "me".  Loose IPv4 forms count.
 */
int		 addr_is_private(const char *host);

/* An IPv4-mapped IPv6 address made AF_INET; anything else copied. */
socklen_t	 addr_unmap(const struct sockaddr *sa,
		    struct sockaddr_storage *out);

/* Writes the address of sa (no port, no brackets) into buf. */
int		 addr_ntop(const struct sockaddr *sa, char *buf, size_t len);

/* A CIDR block of download.allow. */
struct addr_cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network, host bits zero */
	unsigned	 bits;
};

/*
 * Parses "a.b.c.d/n", "x::/n" or a single address (all its bits); an
 * IPv4-mapped block is made the IPv4 block.  Returns 0, or -1 with what
 * is wrong in why ("host bits set: did you mean 10.0.0.0/8?").
 */
int		 addr_cidr_parse(const char *s, struct addr_cidr *c,
		    char *why, size_t whylen);
/* Whether sa (IPv4-mapped taken as IPv4) lies in c. */
int		 addr_cidr_match(const struct addr_cidr *c,
		    const struct sockaddr *sa);
/* Writes c as "a.b.c.d/n". */
void		 addr_cidr_format(const struct addr_cidr *c, char *buf,
		    size_t len);

/*
 * A download.connect_to rule in curl's --connect-to syntax,
 * HOST:PORT:TO_HOST:TO_PORT.  An IPv6 HOST or TO_HOST stands in brackets.
 * An empty HOST or PORT matches any; an empty TO_HOST or TO_PORT keeps
 * the destination's.  TO_HOST, when given, is an address literal: the
 * sensor connects without resolving.
 */
struct addr_rule {
	char		 host[ADDR_HOST_MAX];	/* "" any; no brackets */
	uint16_t	 port;			/* 0 any */
	char		 to_host[64];		/* "" keep; no brackets */
	uint16_t	 to_port;		/* 0 keep */
};

/*
 * Parses one rule of len bytes at s.  Returns NULL, or what is wrong, a
 * message for the configuration error.
 */
const char	*addr_rule_parse(const char *s, size_t len,
		    struct addr_rule *r);
/* Whether r names host:port (host may stand in brackets). */
int		 addr_rule_match(const struct addr_rule *r, const char *host,
		    uint16_t port);
/* Writes r back in the syntax it was read in. */
void		 addr_rule_format(const struct addr_rule *r, char *buf,
		    size_t len);

#endif
