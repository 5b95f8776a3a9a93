/*
 * The sensor's side for the fuzz targets that drive an emulator without
 * a daemon: events, files and payloads are dropped.  A target includes it
 * once and sets what it needs: fuzz_conf's limits, fuzz_base for a
 * service on an event loop, fuzz_listener for conn_accept().
 */
#ifndef SUNDEW_FUZZ_SENSOR_H
#define SUNDEW_FUZZ_SENSOR_H

#include "config.h"
#include "event.h"
#include "sensor.h"

static struct config		 fuzz_conf;
static struct event_base	*fuzz_base;
static struct connlimit		*fuzz_limits;
static struct sensor_stats	 fuzz_stats;
static const struct listener	*fuzz_listener;

const struct config *sensor_conf(void) { return &fuzz_conf; }
struct event_base *sensor_base(void) { return fuzz_base; }
int sensor_index(void) { return 0; }
struct connlimit *sensor_limits(void) { return fuzz_limits; }
struct egress_shared *sensor_egress(void) { return NULL; }
struct sensor_stats *sensor_stats(void) { return &fuzz_stats; }
void sensor_pause_accept(int pause) { (void)pause; }
struct ledger *sensor_ledger(void) { return NULL; }
void sensor_send_event(struct event_buf *ev) { event_end(ev); }

const struct listener *
sensor_listener(size_t i)
{
	return i == 0 ? fuzz_listener : NULL;
}

int
sensor_send_file(int kind, const char *ctx, size_t ctxlen, const void *p,
    size_t n)
{
	return 0;
}

int
sensor_analyse(const struct capture_origin *o, const void *p, size_t n)
{
	return 0;
}

#endif
