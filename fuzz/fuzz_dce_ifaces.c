/*
 * The DCERPC interfaces (dce_*.c) on arbitrary stubs: the first byte picks
 * the interface, the next two the opnum, the rest is the stub.  No call
 * may crash, read outside its stub or write outside its answer, and each
 * answers either a reply (0) or one of the faults an interface may give.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conn.h"
#include "dce_iface.h"
#include "event.h"
#include "sensor.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The sensor's side: nothing leaves this process. */
static struct sensor_stats	stats;
const struct config *sensor_conf(void) { return NULL; }
struct event_base *sensor_base(void) { return NULL; }
int sensor_index(void) { return 0; }
struct connlimit *sensor_limits(void) { return NULL; }
struct egress_shared *sensor_egress(void) { return NULL; }
struct sensor_stats *sensor_stats(void) { return &stats; }
void sensor_pause_accept(int pause) { (void)pause; }
struct ledger *sensor_ledger(void) { return NULL; }
const struct listener *sensor_listener(size_t i) { return NULL; }
void sensor_send_event(struct event_buf *ev) { event_end(ev); }

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t		 out[64 * 1024];
	static char		 fields[] = "\"session\":\"0123456789abcdef\"";
	static size_t		 nifaces;
	struct conn		 c;
	struct dce_call		 call;
	struct ndr_w		 w;
	struct sockaddr_in	*sin;
	uint8_t			*stub;
	uint32_t		 seen = 0, st;
	char			 uuid[37];

	if (nifaces == 0)
		while (dce_ifaces[nifaces] != NULL)
			nifaces++;
	if (size < 3)
		return 0;
	memset(&c, 0, sizeof(c));
	c.fields = fields;
	c.nfields = (uint16_t)strlen(fields);
	sin = (struct sockaddr_in *)&c.dst;
	sin->sin_family = AF_INET;
	/* An exact copy: a read past the stub is a read past the heap block. */
	if ((stub = malloc(size - 3 > 0 ? size - 3 : 1)) == NULL)
		return 0;
	memcpy(stub, data + 3, size - 3);
	memset(&call, 0, sizeof(call));
	call.c = &c;
	call.iface = dce_ifaces[(data[0] & 0x7f) % nifaces];
	call.opnum = (uint16_t)((data[1] | data[2] << 8) % 128);
	call.stub = stub;
	call.len = size - 3;
	call.pipe = data[0] & 0x80 ? "lsarpc" : NULL;
	call.seen = &seen;
	dce_uuid_str(call.iface->uuid, uuid);
	call.uuid = uuid;
	ndr_w_init(&w, out, sizeof(out));
	st = call.iface->call(&call, &w);
	if (st != 0 && st != DCE_FAULT_OP_RNG_ERROR && st != DCE_FAULT_NDR &&
	    st != DCE_FAULT_ACCESS_DENIED)
		abort();
	if (w.len > sizeof(out))
		abort();
	free(stub);
	return 0;
}
