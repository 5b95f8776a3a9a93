/*
 * Attacker bytes in an event: whatever arrives, the line is one valid JSON
 * object whose string holds a prefix of the input, byte for byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "event.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_buf	 ev;
	json_error_t		 err;
	json_t			*j;
	const char		*s;
	size_t			 i, n;

	event_begin(&ev, "sundew.request");
	event_bytes(&ev, "data", data, size);
	event_int(&ev, "size", (int64_t)size);
	event_end(&ev);
	if (memchr(ev.buf, '\n', ev.len) != NULL)
		abort();
	if ((j = json_loadb(ev.buf, ev.len, JSON_ALLOW_NUL, &err)) == NULL)
		abort();
	s = json_string_value(json_object_get(j, "data"));
	if (s == NULL)
		abort();
	/* Decode the UTF-8 of U+0000..U+00FF back to bytes and compare. */
	n = json_string_length(json_object_get(j, "data"));
	for (i = 0; i < n; ) {
		unsigned char	c = (unsigned char)s[i];
		unsigned	v;

		if (c < 0x80) {
			v = c;
			i++;
		} else {
			v = ((c & 0x1fu) << 6) | ((unsigned char)s[i + 1] & 0x3fu);
			i += 2;
		}
		if (v != *data++)
			abort();
	}
	json_decref(j);
	return 0;
}
