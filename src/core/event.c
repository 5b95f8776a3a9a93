#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "event.h"

static char	event_sensor[128] = "sundew";
static uint64_t	(*event_ids)(void *);
static void	*event_ids_arg;

void
event_set_sensor(const char *name)
{
	event_escape(event_sensor, sizeof(event_sensor), name, strlen(name),
	    NULL);
}

void
event_set_ids(uint64_t (*next)(void *), void *arg)
{
	event_ids = next;
	event_ids_arg = arg;
}

uint64_t
event_next_id(void)
{
	return event_ids != NULL ? event_ids(event_ids_arg) : 0;
}

int64_t
event_now_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Every event has a timestamp: the date and time of the current second
 * are rendered once, the microseconds by hand (snprintf and gmtime_r for
 * each event cost more than the rest of building it).
 */
void
event_timestamp(char dst[32], int64_t usec)
{
	static time_t	cached = -1;
	static char	prefix[32];	/* "2026-11-25T18:06:34." */
	time_t		secs = (time_t)(usec / 1000000);
	struct tm	tm;
	char		tmp[96];
	int		frac = (int)(usec % 1000000), i;

	if (usec < 0) {
		secs = 0;
		frac = 0;
	}
	if (secs != cached) {
		gmtime_r(&secs, &tm);
		snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		/* Always 20 characters for years 0000 to 9999. */
		memcpy(prefix, tmp, 20);
		cached = secs;
	}
	memcpy(dst, prefix, 20);
	for (i = 25; i >= 20; i--, frac /= 10)
		dst[i] = (char)('0' + frac % 10);
	dst[26] = 'Z';
	dst[27] = '\0';
}

/* A byte that JSON takes as it is inside a string. */
static inline int
event_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

size_t
event_escape(char *dst, size_t dstlen, const void *p, size_t n,
    size_t *consumed)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = p;
	size_t			 i = 0, o = 0, run, need;
	char			 esc[7];

	if (dstlen == 0)
		return 0;
	while (i < n) {
		/* A run of plain bytes goes in one copy, as far as it fits. */
		for (run = i; run < n && event_plain(s[run]); run++)
			;
		if (run > i) {
			if (run - i > dstlen - 1 - o)
				run = i + (dstlen - 1 - o);
			memcpy(dst + o, s + i, run - i);
			o += run - i;
			i = run;
			if (i == n || event_plain(s[i]))
				break;	/* the end, or out of room */
		}
		esc[0] = '\\';
		need = 2;
		switch (s[i]) {
		case '"':  esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[s[i] >> 4];
			esc[5] = hex[s[i] & 15];
			need = 6;
		}
		if (o + need >= dstlen)
			break;
		memcpy(dst + o, esc, need);
		o += need;
		i++;
	}
	dst[o] = '\0';
	if (consumed != NULL)
		*consumed = i;
	return o;
}

/* Appends raw text if it fits below the reserve; otherwise marks truncated. */
static int
event_append(struct event_buf *ev, const char *s, size_t n)
{
	if (ev->len + n > EVENT_MAX - EVENT_RESERVE) {
		ev->truncated = 1;
		return -1;
	}
	memcpy(ev->buf + ev->len, s, n);
	ev->len += n;
	return 0;
}

/* Appends ,"key": (the key is ours, never the attacker's). */
static int
event_key(struct event_buf *ev, const char *key)
{
	size_t	n = strlen(key);

	if (n > 64 || ev->len + n + 4 > EVENT_MAX - EVENT_RESERVE) {
		ev->truncated = 1;
		return -1;
	}
	ev->buf[ev->len++] = ',';
	ev->buf[ev->len++] = '"';
	memcpy(ev->buf + ev->len, key, n);
	ev->len += n;
	ev->buf[ev->len++] = '"';
	ev->buf[ev->len++] = ':';
	return 0;
}

/*
 * Every event starts so: built with memcpy, not snprintf, which cost more
 * than the rest of an event (sensors build tens of thousands a second).
 */
void
event_begin(struct event_buf *ev, const char *eventid)
{
	event_begin_id(ev, eventid, event_next_id());
}

void
event_begin_id(struct event_buf *ev, const char *eventid, uint64_t id)
{
	static const char	a[] = "{\"timestamp\":\"", b[] = "\",\"eventid\":\"",
				c[] = "\",\"sensor\":\"", hex[] = "0123456789abcdef";
	char			ts[32], idtext[] = "\",\"id\":\"0123456789abcdef";
	size_t			idlen = strlen(eventid);
	int			i;

	ev->truncated = 0;
	ev->len = 0;
	ev->id = id;
	event_timestamp(ts, event_now_usec());
	/* At most a few hundred bytes: it always fits. */
	event_append(ev, a, sizeof(a) - 1);
	event_append(ev, ts, 27);
	event_append(ev, b, sizeof(b) - 1);
	event_append(ev, eventid, idlen > 64 ? 64 : idlen);
	if (id != 0) {
		for (i = 15; i >= 0; i--, id >>= 4)
			idtext[8 + i] = hex[id & 15];
		event_append(ev, idtext, sizeof(idtext) - 1);
	}
	event_append(ev, c, sizeof(c) - 1);
	event_append(ev, event_sensor, strlen(event_sensor));
	event_append(ev, "\"", 1);
}

void
event_bytes(struct event_buf *ev, const char *key, const void *p, size_t n)
{
	size_t	save = ev->len, room, used, consumed;

	if (event_key(ev, key) == -1 || event_append(ev, "\"", 1) == -1)
		goto fail;
	room = EVENT_MAX - EVENT_RESERVE - ev->len;
	if (room < 2)
		goto fail;
	/* Leave one byte for the closing quote. */
	used = event_escape(ev->buf + ev->len, room, p, n, &consumed);
	ev->len += used;
	if (event_append(ev, "\"", 1) == -1)
		goto fail;
	if (consumed < n)
		ev->truncated = 1;
	return;
fail:
	ev->len = save;
	ev->truncated = 1;
}

void
event_str(struct event_buf *ev, const char *key, const char *val)
{
	event_bytes(ev, key, val, strlen(val));
}

void
event_int(struct event_buf *ev, const char *key, int64_t val)
{
	char		tmp[24];
	size_t		save = ev->len, n = sizeof(tmp);
	uint64_t	u = val < 0 ? 0 - (uint64_t)val : (uint64_t)val;

	do
		tmp[--n] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (val < 0)
		tmp[--n] = '-';
	if (event_key(ev, key) == -1 ||
	    event_append(ev, tmp + n, sizeof(tmp) - n) == -1)
		ev->len = save;
}

void
event_bool(struct event_buf *ev, const char *key, int val)
{
	size_t	save = ev->len;

	if (event_key(ev, key) == -1 ||
	    event_append(ev, val ? "true" : "false", val ? 4 : 5) == -1)
		ev->len = save;
}

void
event_fields(struct event_buf *ev, const char *json, size_t len)
{
	size_t	save = ev->len;

	if (len == 0)
		return;
	if (event_append(ev, ",", 1) == -1 ||
	    event_append(ev, json, len) == -1) {
		ev->len = save;
		ev->truncated = 1;
	}
}

size_t
event_end(struct event_buf *ev)
{
	static const char	trunc[] = ",\"truncated\":true}";

	if (ev->truncated) {
		memcpy(ev->buf + ev->len, trunc, sizeof(trunc) - 1);
		ev->len += sizeof(trunc) - 1;
	} else
		ev->buf[ev->len++] = '}';
	ev->buf[ev->len] = '\0';
	return ev->len;
}
