/*
 * Between the DCERPC endpoint (dcerpc.c) and the interfaces it serves
 * (dce_*.c): a table of interfaces, each a function that answers a
 * request's stub.  An interface recognises the exploits aimed at it by
 * the structure of the call and says so through exploit.h.
 */
#ifndef SUNDEW_DCE_INT_H
#define SUNDEW_DCE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ndr.h"

struct conn;
struct dce_iface;

/* Fault and reject codes (C706 appendix E, MS-RPCE 2.2.2.2). */
#define DCE_FAULT_OP_RNG_ERROR		0x1c010002	/* nca_s_op_rng_error */
#define DCE_FAULT_UNK_IF		0x1c010003	/* nca_s_unk_if */
#define DCE_FAULT_PROTO_ERROR		0x1c01000b	/* nca_proto_error */
#define DCE_FAULT_ACCESS_DENIED		0x00000005
#define DCE_FAULT_NDR			0x000006f7	/* rpc_x_bad_stub_data */

/* One request, as the endpoint hands it to an interface. */
struct dce_call {
	struct conn		*c;
	const struct dce_iface	*iface;
	uint16_t		 opnum;
	const uint8_t		*stub;		/* reassembled, little-endian */
	size_t			 len;
	size_t			 at;		/* in the session's input */
	const char		*pipe;		/* "lsarpc", NULL over TCP */
	uint16_t		 port;		/* the sensor's port over TCP */
	uint32_t		*seen;		/* exploit bits (exploit.h) */
	/* The text form of the interface's UUID, for events. */
	const char		*uuid;
};

struct dce_iface {
	const char	*name;		/* "srvsvc", for events and logs */
	uint8_t		 uuid[16];	/* in the wire's (little-endian) order */
	uint16_t	 vmajor;
	uint16_t	 vminor;
	/*
	 * Answers the call: writes the response stub into out and returns 0,
	 * or returns a fault status (DCE_FAULT_*) for the endpoint to send.
	 * An unknown opnum gets DCE_FAULT_OP_RNG_ERROR, as Windows answers.
	 */
	uint32_t	(*call)(struct dce_call *, struct ndr_w *out);
};

/* Every interface the host serves, NULL-terminated. */
extern const struct dce_iface *const dce_ifaces[];

/* The interface of a bind's abstract syntax; NULL: bind_nak / reject. */
const struct dce_iface	*dce_iface_find(const uint8_t uuid[16],
			    uint16_t vmajor);
/* "4b324fc8-1670-01d3-1278-5a47bf6ee188" from wire order; buf >= 37. */
void			 dce_uuid_str(const uint8_t uuid[16], char *buf);

/*
 * An exploit recognised in a call: its event (once a session) and the
 * call's stub to the analyser.
 */
void			 dce_exploit(struct dce_call *, int exploit_id,
			    const char *detail);

#endif
