/*
 * Fuzzes SMB2 (smb2.c, smb2_file.c) through the SMB service on a
 * socketpair, as a client's bytes reach it.  Input: a byte that picks
 * the host (XP: 2.0.2; 2016: 3.1.1; 1903: SMBGhost's), then messages,
 * each a 2-byte little-endian length and that many bytes, each sent in
 * its own NBSS frame.  With the first byte's high bit, each frame claims
 * 128 KiB more than it holds: a large WRITE, what follows its pieces.  Nothing may crash, leak or read out of bounds.
 */
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "conn.h"
#include "connlimit.h"
#include "event.h"
#include "host.h"
#include "listen.h"
#include "proto.h"
#include "sensor.h"
#include "smb.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#include "fuzz_sensor.h"

static const struct service_def	def = { "smb", SERVICE_TCP, { 445 },
				    &service_smb };
static struct listener		lst = { .fd = -1, .transport = SERVICE_TCP,
				    .port = 445, .def = &def };

static void
fuzz_init(void)
{
	signal(SIGPIPE, SIG_IGN);
	fuzz_listener = &lst;
	fuzz_conf.max_input = 100u << 20;
	fuzz_conf.idle_timeout = 30;
	fuzz_conf.session_timeout = 300;
	fuzz_base = event_base_new();
	fuzz_limits = connlimit_create(1, 0, 0);
	if (fuzz_base == NULL || fuzz_limits == NULL)
		abort();
}

static void
fuzz_host(uint8_t pick)
{
	static const char *const versions[] = { "5.1.2600", "10.0.14393",
	    "10.0.18362" };
	static int	 last = -1;
	struct config	 c;
	char		 opt[64], err[256];
	char		*ov[1] = { opt };
	int		 i = pick % 3;

	if (i == last)
		return;
	snprintf(opt, sizeof(opt), "host.version=%s", versions[i]);
	/* An unknown version (not in host.c's table) keeps XP. */
	if (config_load(&c, NULL, ov, 1, err, sizeof(err)) != 0 &&
	    config_load(&c, NULL, NULL, 0, err, sizeof(err)) != 0)
		abort();
	if (host_init(&c) != 0)
		abort();
	config_free(&c);
	last = i;
}

/* Lets the session read and answer, and takes the answers away. */
static void
fuzz_run(int peer)
{
	uint8_t	sink[65536];
	int	i;

	for (i = 0; i < 4; i++) {
		event_base_loop(fuzz_base, EVLOOP_NONBLOCK);
		while (read(peer, sink, sizeof(sink)) > 0)
			;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	uint8_t			nb[4];
	size_t			i, n;
	int			sv[2];

	if (fuzz_base == NULL)
		fuzz_init();
	if (size < 1)
		return 0;
	fuzz_host(data[0]);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	conn_accept(&lst, sv[1], (struct sockaddr *)&sin, sizeof(sin));
	for (i = 1; i + 2 <= size; i += n) {
		n = (size_t)data[i] | (size_t)data[i + 1] << 8;
		i += 2;
		if (n > size - i)
			n = size - i;
		nb[0] = 0;
		/* Claims 128 KiB more: a large WRITE, the rest its pieces. */
		nb[1] = data[0] & 0x80 ? 0x02 : 0;
		nb[2] = (uint8_t)(n >> 8);
		nb[3] = (uint8_t)n;
		if (write(sv[0], nb, 4) != 4 || write(sv[0], data + i, n) !=
		    (ssize_t)n)
			break;
		fuzz_run(sv[0]);
	}
	conn_close_all("shutdown");
	fuzz_run(sv[0]);
	close(sv[0]);
	return 0;
}
