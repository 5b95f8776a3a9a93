/* The event builder: every line is one valid JSON object, whatever bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "event.h"

static json_t *
parse(struct event_buf *ev)
{
	json_error_t	 err;
	json_t		*j;

	event_end(ev);
	assert_int_equal(strlen(ev->buf), ev->len);
	assert_null(strchr(ev->buf, '\n'));
	j = json_loads(ev->buf, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (j == NULL)
		fail_msg("invalid JSON (%s): %s", err.text, ev->buf);
	return j;
}

static void
test_fields(void **state)
{
	struct event_buf	 ev;
	json_t			*j;

	event_set_sensor("sensor-1");
	event_begin(&ev, "sundew.connection.open");
	event_str(&ev, "src_ip", "198.51.100.7");
	event_int(&ev, "src_port", 49152);
	event_bool(&ev, "duplicate", 0);
	event_fields(&ev, "\"a\":1,\"b\":\"x\"", 13);
	j = parse(&ev);
	assert_string_equal(json_string_value(json_object_get(j, "eventid")),
	    "sundew.connection.open");
	assert_string_equal(json_string_value(json_object_get(j, "sensor")),
	    "sensor-1");
	assert_int_equal(json_integer_value(json_object_get(j, "src_port")),
	    49152);
	assert_true(json_is_false(json_object_get(j, "duplicate")));
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
	/* 2026-11-25T18:06:34.123456Z */
	assert_int_equal(strlen(json_string_value(json_object_get(j,
	    "timestamp"))), 27);
	assert_null(json_object_get(j, "truncated"));
	json_decref(j);
}

static void
test_hostile_bytes(void **state)
{
	struct event_buf	 ev;
	uint8_t			 all[256];
	json_t			*j;
	const char		*s;
	size_t			 i;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)i;
	event_begin(&ev, "sundew.request");
	event_bytes(&ev, "data", all, sizeof(all));
	j = parse(&ev);
	s = json_string_value(json_object_get(j, "data"));
	assert_non_null(s);
	/* Each byte comes back as the code point of the same value. */
	assert_int_equal(json_string_length(json_object_get(j, "data")),
	    128 + 2 * 128);	/* ASCII 1 byte, U+0080..U+00FF 2 in UTF-8 */
	assert_int_equal(s[0], 0);
	assert_int_equal(s['"'], '"');
	json_decref(j);
}

static void
test_truncation(void **state)
{
	struct event_buf	 ev;
	static uint8_t		 big[3 * EVENT_MAX];
	json_t			*j;

	memset(big, 0xff, sizeof(big));	/* six bytes each when escaped */
	event_begin(&ev, "sundew.request");
	event_str(&ev, "before", "kept");
	event_bytes(&ev, "data", big, sizeof(big));
	event_int(&ev, "after", 7);
	j = parse(&ev);
	assert_true(ev.len < EVENT_MAX);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	assert_string_equal(json_string_value(json_object_get(j, "before")),
	    "kept");
	json_decref(j);
}

static void
test_escape_bounds(void **state)
{
	char	dst[8];
	size_t	used, n;

	n = event_escape(dst, sizeof(dst), "\x01\x02", 2, &used);
	/* One escape is six characters; two do not fit in 7 + NUL. */
	assert_int_equal(n, 6);
	assert_int_equal(used, 1);
	assert_string_equal(dst, "\\u0001");
	n = event_escape(dst, sizeof(dst), "ab\"", 3, &used);
	assert_string_equal(dst, "ab\\\"");
	assert_int_equal(used, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_hostile_bytes),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_escape_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
