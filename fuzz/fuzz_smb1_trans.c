/*
 * SMB1 transactions (smb1_trans.c, smb1_rap.c, doublepulsar.c) through
 * the SMB service on 445, with the framing done here so that the fuzzer
 * spends its time on what transactions carry.  Input: a byte of piece
 * size (0: each message at once), then records: a command selector
 * (Trans, Trans2, NT Transact, their secondaries, NT Create AndX, echo),
 * the word count, the byte count (16 bits), the multiplex id, a flags
 * byte (bit 0: unicode), then the words and bytes, as many as there are.
 * Each record becomes an SMB1 message in its NBSS frame, fed as the core
 * feeds the service.  It must never crash, leak or read out of bounds,
 * and never consume more than it was given.
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

#include "fuzz_sensor.h"

static const uint8_t	fuzz_cmds[8] = {
	0x25, 0x26, 0x32, 0x33, 0xa0, 0xa1, 0xa2, 0x2b
};

/* One record as an SMB1 message in its NBSS frame; its length, or 0. */
static size_t
fuzz_message(const uint8_t **data, size_t *size, uint8_t *out, size_t cap)
{
	const uint8_t	*d = *data;
	size_t		 wl, bl, have, len;

	if (*size < 6)
		return 0;
	wl = 2 * (size_t)d[1];
	bl = (size_t)d[2] | (size_t)d[3] << 8;
	len = 32 + 1 + wl + 2 + bl;
	if (4 + len > cap)
		return 0;
	out[0] = 0;
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	memset(out + 4, 0, 32);
	memcpy(out + 4, "\xffSMB", 4);
	out[8] = fuzz_cmds[d[0] & 7];
	out[13] = 0x18;
	out[14] = d[5] & 1 ? 0x07 : 0x01;
	out[15] = d[5] & 1 ? 0xc0 : 0x40;
	out[28] = 0x00;
	out[29] = 0x08;				/* tid */
	out[30] = 0xff;
	out[31] = 0xfe;				/* pid */
	out[34] = d[4];				/* mid */
	out[36] = d[1];
	/* Words and bytes from what follows, zeros past its end. */
	have = *size - 6 < wl + bl ? *size - 6 : wl + bl;
	memset(out + 37, 0, wl + 2 + bl);
	memcpy(out + 37, d + 6, have < wl ? have : wl);
	out[37 + wl] = (uint8_t)bl;
	out[38 + wl] = (uint8_t)(bl >> 8);
	if (have > wl)
		memcpy(out + 39 + wl, d + 6 + wl, have - wl);
	*data += 6 + have;
	*size -= 6 + have;
	return 4 + len;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t		 keep[2 * 140000];
	struct listener		 lst;
	struct conn		 c;
	const struct service	*svc;
	size_t			 piece, i, k, n, len = 0;
	ssize_t			 used;
	int			 sv[2];

	if (size < 1)
		return 0;
	if (fuzz_base == NULL) {
		fuzz_base = event_base_new();
		fuzz_conf.max_input = 32 << 20;
		fuzz_conf.download_max_size = 16 << 20;
	}
	piece = data[0];
	data++;
	size--;
	fuzz_session_open(&c, &lst, "smb", "00000000000fuzz1", sv);
	svc = c.svc;
	while (c.state != NULL && !c.closing && (n = fuzz_message(&data,
	    &size, keep + len, sizeof(keep) - len)) > 0) {
		/* The message in pieces of piece bytes (0: at once). */
		for (i = 0; i < n; i += k) {
			k = piece == 0 || n - i < piece ? n - i : piece;
			len += k;
			c.bytes_in += k;
			used = svc->on_data(&c, c.state, keep, len);
			fuzz_peer_drain(sv[1]);
			if (used < 0 || c.closing)
				goto out;
			if ((size_t)used > len)
				abort();
			memmove(keep, keep + used, len - (size_t)used);
			len -= (size_t)used;
			if (i + k < n)
				memmove(keep + len, keep + len + (size_t)used,
				    n - i - k);
		}
	}
out:
	fuzz_session_close(&c, sv);
	return 0;
}
