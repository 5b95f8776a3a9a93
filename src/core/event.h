/*
 * Building events: one flat JSON object a line (DESIGN.md section 5).
 * Every string is escaped to printable ASCII (bytes outside it become
 * \u00XX), so a line is valid JSON whatever the attacker sent; nothing from
 * the network is ever trusted as UTF-8.  A field that does not fit is left
 * out and the event gets "truncated":true; an event is never lost for it.
 */
#ifndef SUNDEW_EVENT_H
#define SUNDEW_EVENT_H

#include <stddef.h>
#include <stdint.h>

#define EVENT_MAX	8192		/* one JSON line, without '\n' */
#define EVENT_RESERVE	24		/* room kept for ,"truncated":true} */

struct event_buf {
	size_t		len;
	int		truncated;
	uint64_t	id;		/* "id", 0 if it has none */
	char		buf[EVENT_MAX];
};

/* The sensor name put in every event; set once at start. */
void	event_set_sensor(const char *name);
/*
 * Where event ids come from (ring_next_id of the process's ring); without
 * it events have no "id".  An id is unique to the sensor name: with it, a
 * sink that sees an event twice (after a crash) keeps it once.
 */
void	event_set_ids(uint64_t (*next)(void *), void *arg);
/* The next id, or 0 without a source. */
uint64_t event_next_id(void);

/*
 * Starts {"timestamp":...,"eventid":...,"id":...,"sensor":... at the
 * current time, with the next id; event_begin_id with a given one (0:
 * none).
 */
void	event_begin(struct event_buf *, const char *eventid);
void	event_begin_id(struct event_buf *, const char *eventid, uint64_t id);
void	event_str(struct event_buf *, const char *key, const char *val);
/* Attacker bytes: escaped, at most max of them (more: "KEY_truncated"). */
void	event_bytes(struct event_buf *, const char *key, const void *p,
	    size_t n);
void	event_int(struct event_buf *, const char *key, int64_t val);
void	event_bool(struct event_buf *, const char *key, int val);
/* Appends fields already rendered as JSON ("a":1,"b":"x"), no braces. */
void	event_fields(struct event_buf *, const char *json, size_t len);
/* Closes the object; returns the length of buf. */
size_t	event_end(struct event_buf *);

/*
 * Escapes n bytes of p as the inside of a JSON string into dst (no quotes,
 * NUL-terminated); returns the length written, never more than dstlen - 1.
 * Stops at a whole escape.  *consumed says how many input bytes went in.
 */
size_t	event_escape(char *dst, size_t dstlen, const void *p, size_t n,
	    size_t *consumed);

/* "2026-11-25T18:06:34.123456Z" for a time in microseconds. */
void	event_timestamp(char dst[32], int64_t usec);
int64_t	event_now_usec(void);

#endif
