/*
 * Fuzzes addr.c: the input is a host string as an attacker writes it in
 * shellcode, a command or an FTP script (addr_is_private(),
 * addr_parse_loose(), addr_class()), and as a download.allow block and a
 * download.connect_to rule.  What parses is written back and must parse
 * to the same; a rule must match the host and port it names.
 */
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A block written back reads the same. */
static void
fuzz_cidr(const char *s)
{
	struct addr_cidr	c, again;
	char			buf[128], why[128];

	if (addr_cidr_parse(s, &c, why, sizeof(why)) == -1)
		return;
	addr_cidr_format(&c, buf, sizeof(buf));
	if (addr_cidr_parse(buf, &again, why, sizeof(why)) == -1 ||
	    again.family != c.family || again.bits != c.bits ||
	    memcmp(again.addr, c.addr, sizeof(c.addr)) != 0)
		abort();
}

/* A rule written back reads the same, and names its own host:port. */
static void
fuzz_rule(const uint8_t *data, size_t len)
{
	struct addr_rule	r, again;
	char			buf[2 * ADDR_HOST_MAX];

	if (addr_rule_parse((const char *)data, len, &r) != NULL)
		return;
	addr_rule_format(&r, buf, sizeof(buf));
	if (addr_rule_parse(buf, strlen(buf), &again) != NULL ||
	    strcmp(again.host, r.host) != 0 || again.port != r.port ||
	    strcmp(again.to_host, r.to_host) != 0 ||
	    again.to_port != r.to_port)
		abort();
	if (!addr_rule_match(&r, r.host, r.port != 0 ? r.port : 1))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct sockaddr_storage	 ss;
	char			 s[512], text[64];

	if (len >= sizeof(s))
		return 0;
	memcpy(s, data, len);
	s[len] = '\0';
	(void)addr_is_private(s);
	if (addr_parse_loose(s, &ss) != 0) {
		if (addr_class_name(addr_class((struct sockaddr *)&ss)) ==
		    NULL && addr_is_private(s))
			abort();	/* public, yet the attacker's own */
		if (addr_ntop((struct sockaddr *)&ss, text, sizeof(text)) != 0)
			abort();
	}
	fuzz_cidr(s);
	fuzz_rule(data, len);
	return 0;
}
