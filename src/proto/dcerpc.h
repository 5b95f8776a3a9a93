/*
 * DCERPC connection-oriented protocol (C706 chapter 12, MS-RPCE): one
 * endpoint state per transport connection, over TCP (ports 135, 1025, the
 * MSMQ and MSDTC ports) or over an SMB named pipe (\lsarpc, \srvsvc, ...).
 * The transport hands in what the client wrote and takes out what the
 * server answers; the endpoint reassembles fragments, answers bind and
 * alter_context, runs requests through the interface table (dce_int.h),
 * reports each bind and request (sundew.request) and each exploit it
 * recognises, and hands every stub the pre-filter likes to the analyser.
 */
#ifndef SUNDEW_DCERPC_H
#define SUNDEW_DCERPC_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct conn;
struct dce;

/* The most a fragmented request may reassemble to (then: fault, end). */
#define DCE_STUB_MAX	(1024u * 1024)
/* The most answer bytes an endpoint holds for the client to read. */
#define DCE_OUT_MAX	(256u * 1024)
/*
 * The most all the endpoints of a sensor hold in their buffers together
 * (requests reassembled, answers unread, PDUs that came in part); past
 * it the session that asks for more ends (sundew.limit.hit "memory").
 */
#define DCE_BUDGET	(64u * 1024 * 1024)
/*
 * The most sundew.request events (binds, requests) the endpoints of one
 * session send together (a pipe closed and opened again counts on); the
 * calls past it are answered as before, and one limit.hit says so.
 */
#define DCE_EVENTS_MAX	1000

/*
 * A new endpoint for the session: pipe is the pipe's name as opened
 * ("lsarpc", no "\\PIPE\\"), NULL over TCP (then the listener's port
 * says what it is).  *seen: the session's exploit bits (exploit.h);
 * *nevents: its count of DCERPC events, for DCE_EVENTS_MAX.  Both are
 * the session's, shared by all its endpoints.
 */
struct dce	*dce_new(struct conn *, const char *pipe, uint32_t *seen,
		    uint32_t *nevents);
void		 dce_free(struct dce *);
/*
 * Bytes the client wrote, starting at offset at of the session's input.
 * Returns 0, or -1 if they are not DCERPC (the session then ends with
 * protocol_error, counted and logged by the core).
 */
int		 dce_write(struct dce *, const uint8_t *, size_t, size_t at);
/* Answer bytes waiting for the client. */
size_t		 dce_pending(const struct dce *);
/* Takes up to cap of them (a pipe read: one PDU at most, or its rest). */
size_t		 dce_read(struct dce *, uint8_t *, size_t cap);
/* The bytes the sensor's endpoints hold now, of DCE_BUDGET. */
size_t		 dce_mem_used(void);

/* DCERPC over TCP: the endpoint mapper (135, 1025), MSMQ, MSDTC. */
extern const struct service	service_dcerpc;

#endif
