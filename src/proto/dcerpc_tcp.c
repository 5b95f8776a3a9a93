/*
 * DCERPC over TCP (ncacn_ip_tcp): the endpoint mapper's ports (135,
 * 1025), MSMQ (2103, 2105, 2107) and MSDTC (3372) are one service, a
 * DCERPC endpoint per connection; the interface a client binds decides
 * what it talks to.  Bytes that are not DCERPC end the session.
 */
#include <stdlib.h>

#include "conn.h"
#include "dcerpc.h"
#include "proto.h"

struct dce_tcp {
	struct dce	*dce;
	uint32_t	 seen;		/* exploit bits (exploit.h) */
	uint32_t	 nevents;	/* DCERPC events (dcerpc.h) */
	size_t		 at;		/* input consumed so far */
};

static void *
dce_tcp_new(struct conn *c)
{
	struct dce_tcp	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->dce = dce_new(c, NULL, &t->seen, &t->nevents)) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

static void
dce_tcp_free(void *arg)
{
	struct dce_tcp	*t = arg;

	if (t != NULL)
		dce_free(t->dce);
	free(t);
}

/*
 * Everything is consumed: the endpoint holds a PDU that came in part.
 * What it answered goes out, also before a protocol error ends the
 * session (the fault of a request past the stub cap).
 */
static ssize_t
dce_tcp_data(struct conn *c, void *arg, const uint8_t *p, size_t n)
{
	static uint8_t	 buf[8192];
	struct dce_tcp	*t = arg;
	size_t		 k;
	int		 rc;

	rc = dce_write(t->dce, p, n, t->at);
	t->at += n;
	while ((k = dce_read(t->dce, buf, sizeof(buf))) > 0)
		if (conn_write(c, buf, k) == -1)
			break;
	return rc == -1 ? -1 : (ssize_t)n;
}

const struct service service_dcerpc = {
	.name = "dcerpc",
	.transport = SERVICE_TCP,
	.session_new = dce_tcp_new,
	.session_free = dce_tcp_free,
	.on_data = dce_tcp_data,
};
