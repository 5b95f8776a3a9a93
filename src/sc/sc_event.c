#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "sc.h"
#include "sc_event.h"

const char *
sc_action_name(int kind)
{
	switch (kind) {
	case SC_BIND_SHELL:
		return "bind_shell";
	case SC_CONNECT_SHELL:
		return "connect_shell";
	case SC_DOWNLOAD:
		return "download";
	case SC_EXEC:
		return "exec";
	case SC_RECEIVE_FILE:
		return "receive_file";
	default:
		return NULL;
	}
}

const char *
sc_evidence_name(int evidence)
{
	switch (evidence) {
	case SC_EV_CLEAR:
		return "clear";
	case SC_EV_DECODED:
		return "decoded";
	case SC_EV_EMULATED:
		return "emulated";
	default:
		return NULL;
	}
}

static int
sc_event_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int
sc_result_check(const struct sc_result *r)
{
	size_t	i;

	if (r->nactions > SC_MAX_ACTIONS || r->ndecoders > SC_MAX_DECODERS ||
	    !sc_event_terminated(r->family, sizeof(r->family)))
		return -1;
	for (i = 0; i < r->ndecoders; i++)
		if (!sc_event_terminated(r->decoders[i],
		    sizeof(r->decoders[i])))
			return -1;
	for (i = 0; i < r->nactions; i++) {
		const struct sc_action	*a = &r->actions[i];

		if (sc_action_name((int)a->kind) == NULL ||
		    sc_evidence_name((int)a->evidence) == NULL ||
		    !sc_event_terminated(a->host, sizeof(a->host)) ||
		    !sc_event_terminated(a->url, sizeof(a->url)) ||
		    !sc_event_terminated(a->command, sizeof(a->command)) ||
		    !sc_event_terminated(a->mode, sizeof(a->mode)) ||
		    !sc_event_terminated(a->key, sizeof(a->key)) ||
		    !sc_event_terminated(a->proto, sizeof(a->proto)) ||
		    (a->length_prefix != 0 && a->length_prefix != 4))
			return -1;
	}
	return 0;
}

struct sc_event_out {
	char	*buf;
	size_t	 len;
	size_t	 used;
	int	 full;
};

static void
sc_event_put(struct sc_event_out *o, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used)
		o->full = 1;
	else
		o->used += (size_t)n;
}

/* ,"key":"escaped value" (the value may come from the attacker). */
static void
sc_event_str(struct sc_event_out *o, const char *key, const char *val)
{
	char	esc[SC_CMD_MAX * 6 + 1];

	event_escape(esc, sizeof(esc), val, strlen(val), NULL);
	sc_event_put(o, ",\"%s\":\"%s\"", key, esc);
}

static void
sc_event_action(struct sc_event_out *o, const struct sc_action *a, int first)
{
	sc_event_put(o, "%s{\"action\":\"%s\",\"evidence\":\"%s\"",
	    first ? "" : ",", sc_action_name((int)a->kind),
	    sc_evidence_name((int)a->evidence));
	if (a->kind == SC_RECEIVE_FILE)
		sc_event_str(o, "mode", a->mode);
	if (a->host[0] != '\0')
		sc_event_str(o, "host", a->host);
	if (a->kind == SC_BIND_SHELL || a->kind == SC_CONNECT_SHELL ||
	    (a->kind == SC_RECEIVE_FILE && a->port != 0))
		sc_event_put(o, ",\"port\":%u", a->port);
	if (a->url[0] != '\0')
		sc_event_str(o, "url", a->url);
	if (a->command[0] != '\0')
		sc_event_str(o, "command", a->command);
	if (a->key[0] != '\0')
		sc_event_str(o, "key", a->key);
	if (a->proto[0] != '\0')
		sc_event_str(o, "proto", a->proto);
	if (a->length_prefix != 0)
		sc_event_put(o, ",\"length_prefix\":%u", a->length_prefix);
	sc_event_put(o, "}");
}

size_t
sc_event_fields(const struct sc_result *r, char *buf, size_t len)
{
	struct sc_event_out	o = { buf, len, 0, 0 };
	size_t			i;

	sc_event_put(&o, "\"shellcode\":%s", r->shellcode ? "true" : "false");
	if (r->offset >= 0)
		sc_event_put(&o, ",\"offset\":%ld", r->offset);
	sc_event_put(&o, ",\"decoders\":[");
	for (i = 0; i < r->ndecoders; i++) {
		char	esc[SC_NAME_MAX * 6 + 1];

		event_escape(esc, sizeof(esc), r->decoders[i],
		    strlen(r->decoders[i]), NULL);
		sc_event_put(&o, "%s\"%s\"", i ? "," : "", esc);
	}
	sc_event_put(&o, "]");
	if (r->family[0] != '\0')
		sc_event_str(&o, "family", r->family);
	sc_event_put(&o, ",\"actions\":[");
	for (i = 0; i < r->nactions; i++)
		sc_event_action(&o, &r->actions[i], i == 0);
	sc_event_put(&o, "]");
	return o.full ? 0 : o.used;
}
