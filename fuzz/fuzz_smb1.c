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
	fuzz_session_open(&c, &lst, data[1] & 1 ? "netbios-ssn" : "smb",
	    "00000000000fuzz0", sv);
	svc = c.svc;
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
		fuzz_peer_drain(sv[1]);
		if (used < 0 || c.closing)
			break;
		if ((size_t)used > len)
			abort();
		memmove(keep, keep + used, len - (size_t)used);
		len -= (size_t)used;
		if (len > FUZZ_KEEP)
			break;		/* the core would end the session */
	}
	fuzz_session_close(&c, sv);
	return 0;
}
