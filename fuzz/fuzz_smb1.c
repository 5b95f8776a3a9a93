/*
 * The SMB service (smb.c, smb1.c and what they call) fed a client's byte
 * stream in pieces, as the core feeds it: what on_data leaves unconsumed
 * is handed again with what follows.  Input: a byte of piece size (0:
 * the whole stream at once), a byte whose low bit chooses 139 (NetBIOS
 * session service) over 445, then the stream.  The service must never
 * crash, leak or read out of bounds, never consume more than it was
 * given, and leave no more than the core keeps (256 KiB) unconsumed.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "event.h"
#include "listen.h"
#include "proto.h"
#include "sensor.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_KEEP	(256u * 1024)

#include "fuzz_sensor.h"

/* Reads and drops what the service answered, so that it never waits. */
static void
fuzz_drain(int fd)
{
	static uint8_t	buf[65536];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t		 keep[FUZZ_KEEP + 65536];
	struct listener		 lst;
	struct conn		 c;
	const struct service	*svc;
	size_t			 piece, i, k, len = 0;
	ssize_t			 used;
	int			 sv[2];

	if (size < 2)
		return 0;
	if (fuzz_base == NULL) {
		fuzz_base = event_base_new();
		fuzz_conf.max_input = 4 << 20;
	}
	piece = data[0] ? data[0] : size;
	memset(&lst, 0, sizeof(lst));
	lst.transport = SERVICE_TCP;
	lst.def = proto_find(data[1] & 1 ? "netbios-ssn" : "smb");
	svc = proto_emulator(lst.def);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	memset(&c, 0, sizeof(c));
	c.lst = &lst;
	c.svc = svc;
	c.fd = sv[0];
	c.slot = -1;
	c.rev = event_new(fuzz_base, -1, 0, NULL, NULL);
	c.wev = event_new(fuzz_base, -1, 0, NULL, NULL);
	memcpy(c.session, "00000000000fuzz0", CONN_ID_LEN);
	/* As inside the core's call: a conn_close() leaves c to us. */
	c.in_callback = 1;
	c.state = svc->session_new(&c);
	data += 2;
	size -= 2;
	for (i = 0; c.state != NULL && i < size; i += k) {
		k = size - i < piece ? size - i : piece;
		if (len + k > sizeof(keep))
			break;
		memcpy(keep + len, data + i, k);
		len += k;
		c.bytes_in += k;
		used = svc->on_data(&c, c.state, keep, len);
		fuzz_drain(sv[1]);
		if (used < 0 || c.closing)
			break;
		if ((size_t)used > len)
			abort();
		memmove(keep, keep + used, len - (size_t)used);
		len -= (size_t)used;
		if (len > FUZZ_KEEP)
			break;		/* the core would end the session */
	}
	/* The session's end, as conn_close() makes it (unless it did). */
	if (c.state != NULL && !c.closing) {
		if (svc->on_close != NULL)
			svc->on_close(&c, c.state);
		svc->session_free(c.state);
	}
	if (c.out != NULL)
		evbuffer_free(c.out);
	event_free(c.rev);
	event_free(c.wev);
	free(c.fields);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
