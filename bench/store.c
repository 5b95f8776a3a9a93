/*
 * bench_store: what the store process spends on one connection, for
 * `make bench`.
 *
 *   bench_store DIR [CONNECTIONS]
 *
 * Replays, in this process and without the network, what the store gets
 * for each connection of the rate benchmark: the open, request and close
 * events and a 100-byte payload kept as a hexdump (which adds the
 * sundew.file.stored event), committed every 1500 connections as the
 * store's 100 ms batches would be at 15,000 connections a second.  It
 * prints the CPU time per connection three ways, each in a fresh
 * directory under DIR: the events built and dropped (the baseline),
 * stored in the JSON log only, and in the JSON log and SQLite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "event.h"
#include "store.h"

#define BENCH_BATCH	1500

static double
bench_cpu(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The fields a sensor renders once per session (conn.c). */
static size_t
bench_ctx(char *buf, size_t len, unsigned i)
{
	return (size_t)snprintf(buf, len, "\"session\":\"%08x00%06x\","
	    "\"src_ip\":\"127.0.0.%u\",\"src_port\":%u,"
	    "\"dst_ip\":\"127.0.0.1\",\"dst_port\":3127,"
	    "\"transport\":\"tcp\",\"service\":\"mydoom\"",
	    (unsigned)time(NULL), i & 0xffffff, 2 + i % 126,
	    1024 + i * 7 % 60000);
}

static void
bench_send(struct store *st, struct event_buf *ev)
{
	size_t	len = event_end(ev);

	if (st != NULL)
		store_event(st, ev->buf, len, 0);
}

static void
bench_connection(struct store *st, unsigned i, const uint8_t *payload,
    size_t plen)
{
	struct event_buf	ev;
	char			ctx[256];
	size_t			clen = bench_ctx(ctx, sizeof(ctx), i);

	event_begin(&ev, "sundew.connection.open");
	event_fields(&ev, ctx, clen);
	bench_send(st, &ev);
	event_begin(&ev, "sundew.request");
	event_fields(&ev, ctx, clen);
	event_str(&ev, "emulator", "generic");
	event_bytes(&ev, "data", payload, plen);
	event_int(&ev, "size", (int64_t)plen);
	bench_send(st, &ev);
	event_begin(&ev, "sundew.connection.close");
	event_fields(&ev, ctx, clen);
	event_str(&ev, "reason", "peer_closed");
	event_int(&ev, "duration_ms", 6);
	event_int(&ev, "bytes_in", (int64_t)plen);
	event_int(&ev, "bytes_out", 0);
	bench_send(st, &ev);
	if (st != NULL)
		store_file(st, STORE_HEXDUMP, ctx, clen, payload, plen, 0);
}

/* CPU microseconds per connection with the given outputs (none: -1). */
static double
bench_run(const char *dir, const char *name, int json, int sqlite,
    unsigned n)
{
	struct config	 c;
	struct store	*st = NULL;
	char		 err[256], path[4096];
	uint8_t		 payload[100];
	double		 t0;
	unsigned	 i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)('a' + i % 26);
	if (config_load(&c, NULL, NULL, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "bench_store: %s\n", err);
		exit(2);
	}
	c.json_enabled = json;
	c.sqlite_enabled = sqlite;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (mkdir(path, 0700) == -1 || chdir(path) == -1) {
		perror(path);
		exit(2);
	}
	if ((json || sqlite) && (st = store_open(&c)) == NULL) {
		fprintf(stderr, "bench_store: cannot open a store in %s\n",
		    path);
		exit(2);
	}
	t0 = bench_cpu();
	for (i = 0; i < n; i++) {
		bench_connection(st, i, payload, sizeof(payload));
		if (st != NULL && i % BENCH_BATCH == BENCH_BATCH - 1)
			store_flush(st);
	}
	if (st != NULL)
		store_close(st);
	t0 = bench_cpu() - t0;
	config_free(&c);
	return t0 * 1e6 / n;
}

int
main(int argc, char *argv[])
{
	unsigned	n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) :
			    60000;
	double		base, json, both;

	if (argc < 2 || n == 0) {
		fprintf(stderr, "usage: bench_store DIR [CONNECTIONS]\n");
		return 2;
	}
	event_set_sensor("bench");
	base = bench_run(argv[1], "none", 0, 0, n);
	json = bench_run(argv[1], "json", 1, 0, n);
	both = bench_run(argv[1], "both", 1, 1, n);
	printf("store: %u connections; CPU us per connection: events only "
	    "%.1f, JSON log %.1f, JSON log and SQLite %.1f\n", n, base, json,
	    both);
	return 0;
}
