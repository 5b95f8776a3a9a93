/*
 * Shared between sc_emu.c (the Unicorn driver, Linux int 0x80) and
 * sc_win32.c (the fake 32-bit Windows process and its API hooks).
 */
#ifndef SUNDEW_SC_EMU_INT_H
#define SUNDEW_SC_EMU_INT_H

#include <stddef.h>
#include <stdint.h>

#include <unicorn/unicorn.h>

#include "sc_int.h"

/* Guest memory layout. */
#define SC_EMU_CODE_BASE	0x00400000u	/* the payload */
#define SC_EMU_CODE_SLACK	0x10000u	/* writable room after it */
#define SC_EMU_CODE_MAX		(4u * 1024 * 1024)	/* longer: not run */
#define SC_EMU_STACK_BASE	0x00100000u
#define SC_EMU_STACK_SIZE	0x00030000u
#define SC_EMU_STACK_TOP	(SC_EMU_STACK_BASE + SC_EMU_STACK_SIZE)
#define SC_EMU_ESP		(SC_EMU_STACK_TOP - 0x1000u)
#define SC_EMU_HEAP_BASE	0x00900000u	/* VirtualAlloc, malloc */
#define SC_EMU_HEAP_SIZE	0x00100000u

/*
 * The longest payload, its slack and the page it ends in must stay below
 * the heap: with the heap at 0x800000 the code of a payload of over
 * 4 MiB - 64 KiB (limits.max_input is 4 MiB) could not be mapped, and
 * such a payload was not emulated at all.
 */
_Static_assert(SC_EMU_CODE_BASE + SC_EMU_CODE_MAX + SC_EMU_CODE_SLACK +
    0xfffu <= SC_EMU_HEAP_BASE, "the code would overlap the heap");

/* What a candidate has asked for so far (struct sc_emu.flags). */
#define SC_EMU_SOCKET		0x0001
#define SC_EMU_BIND		0x0002
#define SC_EMU_LISTEN		0x0004
#define SC_EMU_ACCEPT		0x0008
#define SC_EMU_CONNECT		0x0010
#define SC_EMU_RECV		0x0020
#define SC_EMU_EXEC		0x0040
#define SC_EMU_DOWNLOAD		0x0080
#define SC_EMU_FILE		0x0100	/* created or wrote a file */
#define SC_EMU_STAGE		0x0200	/* ran the bytes it received */

/* Bytes of int3 the first recv() hands the code (a second stage). */
#define SC_EMU_RECV_FILL	0x1000u
#define SC_EMU_NKEYREGS		6	/* ebx ecx edx esi edi ebp */

/* One analysis: one engine, reused for every candidate offset. */
struct sc_emu {
	uc_engine		*uc;
	struct sc_result	*res;
	uint32_t		 heap_next;	/* bump allocator */
	unsigned		 napi;		/* API calls / syscalls seen */
	unsigned		 flags;		/* SC_EMU_* */
	uint16_t		 bind_port;	/* host order */
	uint16_t		 connect_port;
	char			 connect_host[SC_HOST_MAX];
	char			 exec_cmd[SC_CMD_MAX];
	char			 resolved[SC_HOST_MAX];	/* gethostbyname */
	uint32_t		 recv_buf;	/* the first recv() */
	uint32_t		 recv_len;	/* what it asked for */
	uint32_t		 recv_regs[SC_EMU_NKEYREGS];	/* at that call */
	char			 key[SC_KEY_MAX];	/* hex, for stage 2 */
	unsigned		 nadded;	/* actions added by hooks */
	uint64_t		 deadline;	/* thread CPU time, usec */
	uint64_t		 blocks;	/* basic blocks run */
	uint32_t		 fault;		/* exception code, or 0 */
	unsigned		 nseh;		/* SEH dispatches */
	uint32_t		 seh_ctx;	/* guest CONTEXT being handled */
	void			*win32;		/* sc_win32.c's state */
};

/*
 * sc_win32.c: maps the fake process (TEB, PEB, loader lists, DLL images
 * with export tables, API stubs, GDT with FS on the TEB) and installs the
 * stub hook; once per engine.  0, or -1.
 */
int	sc_win32_setup(struct sc_emu *);
/* Rewrites everything a previous candidate may have changed; 0 or -1. */
int	sc_win32_reset(struct sc_emu *);
void	sc_win32_free(struct sc_emu *);
/*
 * An exception (code) at the current EIP: sets up the call of the
 * shellcode's own SEH handler as Windows would; 0, or -1 when nothing
 * handles it (the run ends).
 */
int	sc_win32_seh(struct sc_emu *, uint32_t code);

/* sc_emu.c helpers for the hooks. */
int	sc_emu_read32(struct sc_emu *, uint32_t addr, uint32_t *v);
/*
 * Copies the NUL-terminated guest string at addr into out (size > 0),
 * non-printable bytes as '?'; returns its length, 0 if unreadable.
 */
size_t	sc_emu_read_str(struct sc_emu *, uint32_t addr, char *out,
	    size_t size);
/* The same for a UTF-16LE string; non-ASCII characters become '?'. */
size_t	sc_emu_read_wstr(struct sc_emu *, uint32_t addr, char *out,
	    size_t size);
/* A guest sockaddr_in at addr: records host and port in host order. */
int	sc_emu_sockaddr(struct sc_emu *, uint32_t addr, char *host,
	    size_t hostsize, uint16_t *port);
/* Bump allocation in the guest heap; 0 when exhausted. */
uint32_t sc_emu_alloc(struct sc_emu *, uint32_t size);
/*
 * A recv() of len bytes into buf, for sc_win32.c and int 0x80: the first
 * gets int3 bytes (a second stage that the code may run: sc_emu.c then
 * learns what stage 1 hands it, a link transfer's key), any later one
 * ends the candidate (a loop that writes a file).  Returns the count.
 */
uint32_t sc_emu_recv(struct sc_emu *, uint32_t buf, uint32_t len);
/* Adds an action now (downloads) as SC_EV_EMULATED; counts it. */
void	sc_emu_add(struct sc_emu *, const struct sc_action *);

#endif
