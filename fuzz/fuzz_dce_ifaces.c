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

#include "fuzz_sensor.h"

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
