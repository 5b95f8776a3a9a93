/*
 * The emulation layer: runs each candidate offset of a payload on Unicorn
 * (x86-32) inside the fake Windows process of sc_win32.c, and handles
 * Linux int 0x80 system calls itself.  Hooks record intent; at the end of
 * a candidate the intent becomes actions (sc_emu_conclude).  Every run
 * stops at the step budget, the time budget, an invalid access or an
 * invalid instruction.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sc_emu_int.h"

/* Linux i386 system call numbers. */
#define SC_EMU_NR_EXIT		1
#define SC_EMU_NR_EXECVE	11
#define SC_EMU_NR_DUP2		63
#define SC_EMU_NR_SOCKETCALL	102
#define SC_EMU_NR_EXIT_GROUP	252
#define SC_EMU_NR_SOCKET	359
#define SC_EMU_NR_BIND		361
#define SC_EMU_NR_CONNECT	362
#define SC_EMU_NR_LISTEN	363
#define SC_EMU_NR_ACCEPT4	364

/* socketcall(2) sub-calls. */
#define SC_EMU_SYS_SOCKET	1
#define SC_EMU_SYS_BIND		2
#define SC_EMU_SYS_CONNECT	3
#define SC_EMU_SYS_LISTEN	4
#define SC_EMU_SYS_ACCEPT	5
#define SC_EMU_SYS_RECV		10
#define SC_EMU_SYS_RECVFROM	12

int
sc_emu_read32(struct sc_emu *e, uint32_t addr, uint32_t *v)
{
	uint8_t	b[4];

	if (uc_mem_read(e->uc, addr, b, sizeof(b)) != UC_ERR_OK)
		return -1;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
	return 0;
}

size_t
sc_emu_read_str(struct sc_emu *e, uint32_t addr, char *out, size_t size)
{
	uint8_t	chunk[64];
	size_t	n = 0, i;

	out[0] = '\0';
	while (n + 1 < size) {
		size_t	want = sizeof(chunk);

		/* Stay inside the page, so a string at its end still reads. */
		if (want > 0x1000 - ((addr + n) & 0xfff))
			want = 0x1000 - ((addr + n) & 0xfff);
		if (uc_mem_read(e->uc, addr + n, chunk, want) != UC_ERR_OK)
			break;
		for (i = 0; i < want && n + 1 < size; i++, n++) {
			if (chunk[i] == 0) {
				out[n] = '\0';
				return n;
			}
			out[n] = (chunk[i] >= 0x20 && chunk[i] < 0x7f) ?
			    (char)chunk[i] : '?';
		}
	}
	out[n] = '\0';
	return n;
}

size_t
sc_emu_read_wstr(struct sc_emu *e, uint32_t addr, char *out, size_t size)
{
	uint8_t	c[2];
	size_t	n = 0;

	out[0] = '\0';
	while (n + 1 < size) {
		if (uc_mem_read(e->uc, addr + 2 * (uint32_t)n, c, 2) != UC_ERR_OK)
			break;
		if (c[0] == 0 && c[1] == 0)
			break;
		out[n++] = (c[1] == 0 && c[0] >= 0x20 && c[0] < 0x7f) ?
		    (char)c[0] : '?';
	}
	out[n] = '\0';
	return n;
}

int
sc_emu_sockaddr(struct sc_emu *e, uint32_t addr, char *host,
    size_t hostsize, uint16_t *port)
{
	uint8_t	sa[8];

	if (uc_mem_read(e->uc, addr, sa, sizeof(sa)) != UC_ERR_OK)
		return -1;
	*port = (uint16_t)(sa[2] << 8 | sa[3]);
	snprintf(host, hostsize, "%u.%u.%u.%u", sa[4], sa[5], sa[6], sa[7]);
	return 0;
}

uint32_t
sc_emu_alloc(struct sc_emu *e, uint32_t size)
{
	uint32_t	p;

	if (size == 0)
		size = 1;
	size = (size + 15) & ~15u;
	if (size > SC_EMU_HEAP_BASE + SC_EMU_HEAP_SIZE - e->heap_next)
		return 0;
	p = e->heap_next;
	e->heap_next += size;
	return p;
}

void
sc_emu_add(struct sc_emu *e, const struct sc_action *a)
{
	struct sc_action	act = *a;

	/* Whatever a hook records, code that ran asked for it. */
	act.evidence = SC_EV_EMULATED;
	if (sc_result_add(e->res, &act) == 0)
		e->nadded++;
}

static uint32_t
sc_emu_reg(struct sc_emu *e, int reg)
{
	uint32_t	v = 0;

	uc_reg_read(e->uc, reg, &v);
	return v;
}

static const int sc_emu_keyregs[SC_EMU_NKEYREGS] = { UC_X86_REG_EBX,
    UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_ESI, UC_X86_REG_EDI,
    UC_X86_REG_EBP };

uint32_t
sc_emu_recv(struct sc_emu *e, uint32_t buf, uint32_t len)
{
	uint8_t		fill[256];
	uint32_t	n, done, k;
	size_t		i;

	if (e->flags & SC_EMU_RECV) {
		uc_emu_stop(e->uc);
		return 0;
	}
	e->flags |= SC_EMU_RECV;
	e->recv_buf = buf;
	e->recv_len = len;
	for (i = 0; i < SC_EMU_NKEYREGS; i++)
		e->recv_regs[i] = sc_emu_reg(e, sc_emu_keyregs[i]);
	n = len < SC_EMU_RECV_FILL ? len : SC_EMU_RECV_FILL;
	memset(fill, 0xcc, sizeof(fill));
	for (done = 0; done < n; done += k) {
		k = n - done < sizeof(fill) ? n - done : sizeof(fill);
		if (uc_mem_write(e->uc, buf + done, fill, k) != UC_ERR_OK) {
			uc_emu_stop(e->uc);
			return 0;
		}
	}
	return n;
}

/* Whether addr is in the int3 bytes of the first recv(). */
static int
sc_emu_in_recv(const struct sc_emu *e, uint32_t addr)
{
	return (e->flags & SC_EMU_RECV) && addr >= e->recv_buf &&
	    addr - e->recv_buf < e->recv_len &&
	    addr - e->recv_buf < SC_EMU_RECV_FILL;
}

/*
 * The code jumped into the bytes of its first recv(): a stager.  What
 * stage 1 hands stage 2 is the one register it set since the recv()
 * that does not point into the received bytes, as the linkbot's
 * `mov edi, key; jmp ebp`: stage 2 sends that key back to the attacker,
 * who then sends the file.  Recorded as hex, in memory order (what
 * stage 2 sends).
 */
static void
sc_emu_stage(struct sc_emu *e)
{
	uint32_t	v, key = 0;
	size_t		i, nchanged = 0;

	e->flags |= SC_EMU_STAGE;
	for (i = 0; i < SC_EMU_NKEYREGS; i++) {
		v = sc_emu_reg(e, sc_emu_keyregs[i]);
		if (v == e->recv_regs[i] ||
		    (v >= e->recv_buf && v - e->recv_buf <= e->recv_len))
			continue;
		key = v;
		nchanged++;
	}
	if (nchanged == 1)
		snprintf(e->key, sizeof(e->key), "%02x%02x%02x%02x",
		    key & 0xff, key >> 8 & 0xff, key >> 16 & 0xff, key >> 24);
}

/* One Linux network call: records intent, returns the value for EAX. */
static uint32_t
sc_emu_linux_net(struct sc_emu *e, int call, const uint32_t *a)
{
	char		host[SC_HOST_MAX];
	uint16_t	port;

	switch (call) {
	case SC_EMU_SYS_SOCKET:
		e->flags |= SC_EMU_SOCKET;
		return 3;
	case SC_EMU_SYS_BIND:
		if (sc_emu_sockaddr(e, a[1], host, sizeof(host), &port) == 0) {
			e->flags |= SC_EMU_BIND;
			e->bind_port = port;
		}
		return 0;
	case SC_EMU_SYS_CONNECT:
		if (sc_emu_sockaddr(e, a[1], host, sizeof(host), &port) == 0) {
			e->flags |= SC_EMU_CONNECT;
			e->connect_port = port;
			snprintf(e->connect_host, sizeof(e->connect_host),
			    "%s", host);
		}
		return 0;
	case SC_EMU_SYS_LISTEN:
		e->flags |= SC_EMU_LISTEN;
		return 0;
	case SC_EMU_SYS_ACCEPT:
		e->flags |= SC_EMU_ACCEPT;
		return 4;
	case SC_EMU_SYS_RECV:
	case SC_EMU_SYS_RECVFROM:
		return sc_emu_recv(e, a[1], a[2]);
	}
	return (uint32_t)-38;	/* ENOSYS */
}

/*
 * Interrupts: int 0x80 is a Linux system call, handled and continued;
 * anything else (int3, faults, int 0x2e) ends the candidate.
 */
static void
sc_emu_hook_intr(uc_engine *uc, uint32_t intno, void *arg)
{
	struct sc_emu	*e = arg;
	uint32_t	 nr, ret = 0, a[3] = { 0, 0, 0 };
	int		 i;

	if (intno == 3 && sc_emu_in_recv(e, sc_emu_reg(e, UC_X86_REG_EIP) -
	    1)) {
		sc_emu_stage(e);
		uc_emu_stop(uc);
		return;
	}
	if (intno != 0x80) {
		/* divide error, int3, and the rest as access violations */
		e->fault = intno == 0 ? 0xc0000094u : intno == 3 ?
		    0x80000003u : 0xc0000005u;
		uc_emu_stop(uc);
		return;
	}
	e->napi++;
	nr = sc_emu_reg(e, UC_X86_REG_EAX);
	switch (nr) {
	case SC_EMU_NR_SOCKETCALL:
		for (i = 0; i < 3; i++)
			if (sc_emu_read32(e, sc_emu_reg(e, UC_X86_REG_ECX) +
			    4u * (uint32_t)i, &a[i]) == -1)
				break;
		ret = sc_emu_linux_net(e, (int)sc_emu_reg(e, UC_X86_REG_EBX),
		    a);
		break;
	case SC_EMU_NR_SOCKET:
	case SC_EMU_NR_BIND:
	case SC_EMU_NR_CONNECT:
	case SC_EMU_NR_LISTEN:
	case SC_EMU_NR_ACCEPT4:
		a[0] = sc_emu_reg(e, UC_X86_REG_EBX);
		a[1] = sc_emu_reg(e, UC_X86_REG_ECX);
		a[2] = sc_emu_reg(e, UC_X86_REG_EDX);
		ret = sc_emu_linux_net(e, nr == SC_EMU_NR_SOCKET ?
		    SC_EMU_SYS_SOCKET : nr == SC_EMU_NR_BIND ? SC_EMU_SYS_BIND :
		    nr == SC_EMU_NR_CONNECT ? SC_EMU_SYS_CONNECT :
		    nr == SC_EMU_NR_LISTEN ? SC_EMU_SYS_LISTEN :
		    SC_EMU_SYS_ACCEPT, a);
		break;
	case SC_EMU_NR_DUP2:
		ret = sc_emu_reg(e, UC_X86_REG_ECX);
		break;
	case SC_EMU_NR_EXECVE:
		e->flags |= SC_EMU_EXEC;
		sc_emu_read_str(e, sc_emu_reg(e, UC_X86_REG_EBX), e->exec_cmd,
		    sizeof(e->exec_cmd));
		uc_emu_stop(uc);
		break;
	case SC_EMU_NR_EXIT:
	case SC_EMU_NR_EXIT_GROUP:
		uc_emu_stop(uc);
		break;
	default:
		ret = (uint32_t)-38;
		break;
	}
	uc_reg_write(uc, UC_X86_REG_EAX, &ret);
}

/*
 * A socket the code reads from, as Nepenthes named the dialogues: with a
 * key handed to a second stage, link (connect) or blink (bind); without,
 * csend or creceive.  A first recv() of exactly 4 bytes that is not run
 * is the length of the file (halle's csend, as Nepenthes' csend URL
 * with offset 4).
 */
static void
sc_emu_transfer(struct sc_emu *e, struct sc_action *a, const char *mode)
{
	int	connect = strcmp(mode, "connect") == 0;

	a->kind = SC_RECEIVE_FILE;
	a->evidence = SC_EV_EMULATED;
	snprintf(a->mode, sizeof(a->mode), "%s", mode);
	if ((e->flags & SC_EMU_STAGE) && e->key[0] != '\0') {
		snprintf(a->key, sizeof(a->key), "%s", e->key);
		snprintf(a->proto, sizeof(a->proto), "%s",
		    connect ? "link" : "blink");
		return;
	}
	snprintf(a->proto, sizeof(a->proto), "%s",
	    connect ? "csend" : "creceive");
	if (e->recv_len == 4 && !(e->flags & SC_EMU_STAGE))
		a->length_prefix = 4;
}

/* The intent of one candidate as actions; returns how many it added. */
static unsigned
sc_emu_conclude(struct sc_emu *e)
{
	struct sc_action	a;
	unsigned		f = e->flags;

	memset(&a, 0, sizeof(a));
	if (f & SC_EMU_CONNECT) {
		a.port = e->connect_port;
		snprintf(a.host, sizeof(a.host), "%s", e->connect_host);
		if (f & SC_EMU_RECV)
			sc_emu_transfer(e, &a, "connect");
		else
			a.kind = SC_CONNECT_SHELL;
		sc_emu_add(e, &a);
	} else if ((f & SC_EMU_BIND) && (f & (SC_EMU_LISTEN | SC_EMU_ACCEPT))) {
		a.port = e->bind_port;
		if (f & SC_EMU_RECV)
			sc_emu_transfer(e, &a, "bind");
		else
			a.kind = SC_BIND_SHELL;
		sc_emu_add(e, &a);
	} else if ((f & SC_EMU_EXEC) && !(f & (SC_EMU_DOWNLOAD |
	    SC_EMU_SOCKET)) && e->exec_cmd[0] != '\0') {
		a.kind = SC_EXEC;
		snprintf(a.command, sizeof(a.command), "%s", e->exec_cmd);
		sc_emu_add(e, &a);
	}
	return e->nadded;
}

/*
 * The CPU time this thread has used, in usec: the budget of an analysis.
 * Wall time would make the verdict depend on what else the machine runs:
 * under load, a real shellcode's emulation ran out of time before its
 * bind() and the action was left with the evidence of a signature in
 * clear, which is not carried out.  The analyser's alarm (wall time)
 * still bounds a whole analysis.
 */
static uint64_t
sc_emu_now_usec(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * The engine outlives an analysis: creating one and mapping the process
 * costs more than most analyses.  The analyser is single-threaded.
 */
static struct sc_emu	 sc_emu_cache;
static size_t		 sc_emu_codesize;	/* mapped at SC_EMU_CODE_BASE */
static uint8_t		*sc_emu_code;		/* its host memory */
static uint8_t		 sc_emu_zero[0x1000];

/* Port I/O ends the candidate (Unicorn aborts on it without a hook). */
static uint32_t
sc_emu_hook_in(uc_engine *uc, uint32_t port, int size, void *arg)
{
	(void)port;
	(void)size;
	(void)arg;
	uc_emu_stop(uc);
	return 0;
}

static void
sc_emu_hook_out(uc_engine *uc, uint32_t port, int size, uint32_t value,
    void *arg)
{
	(void)port;
	(void)size;
	(void)value;
	(void)arg;
	uc_emu_stop(uc);
}

/*
 * Unicorn 2.0.1 does not record fnop (d9 d0) as the last FPU
 * instruction, as the CPU does: after fnop; fnstenv [esp-0xc] (one of
 * the FPU forms shikata_ga_nai draws for its GetPC) the stored address
 * was that of an older FPU instruction, or 0, and the decoder then
 * XORed the wrong bytes.  Records it here, before fnop runs.
 */
static void
sc_emu_hook_fnop(uc_engine *uc, uint64_t addr, uint32_t size, void *arg)
{
	const uint8_t	*p;
	uint8_t		 b[2];
	uint32_t	 fip = (uint32_t)addr;

	(void)arg;
	if (size != 2)
		return;
	/*
	 * This runs before every instruction: the payload's bytes are read
	 * in place, uc_mem_read is kept for code run elsewhere (heap, stack).
	 */
	if (addr >= SC_EMU_CODE_BASE && addr - SC_EMU_CODE_BASE + 2 <=
	    sc_emu_codesize)
		p = sc_emu_code + (addr - SC_EMU_CODE_BASE);
	else if (uc_mem_read(uc, addr, b, sizeof(b)) == UC_ERR_OK)
		p = b;
	else
		return;
	if (p[0] == 0xd9 && p[1] == 0xd0)
		uc_reg_write(uc, UC_X86_REG_FIP, &fip);
}

/* Checks the CPU-time deadline every 256 blocks. */
static void
sc_emu_hook_block(uc_engine *uc, uint64_t addr, uint32_t size, void *arg)
{
	struct sc_emu	*e = arg;

	(void)addr;
	(void)size;
	if ((++e->blocks & 0xff) == 0 && sc_emu_now_usec() >= e->deadline)
		uc_emu_stop(uc);
}

static void
sc_emu_close(void)
{
	/* Its CPU snapshot goes first, while the engine still exists. */
	sc_win32_free(&sc_emu_cache);
	if (sc_emu_cache.uc != NULL)
		uc_close(sc_emu_cache.uc);
	memset(&sc_emu_cache, 0, sizeof(sc_emu_cache));
	free(sc_emu_code);	/* Unicorn does not own it */
	sc_emu_code = NULL;
	sc_emu_codesize = 0;
}

/* The cached engine, with at least codesize bytes at the code base. */
static struct sc_emu *
sc_emu_engine(size_t codesize)
{
	struct sc_emu	*e = &sc_emu_cache;
	uc_hook		 h;

	if (e->uc == NULL) {
		if (uc_open(UC_ARCH_X86, UC_MODE_32, &e->uc) != UC_ERR_OK) {
			e->uc = NULL;
			return NULL;
		}
		if (uc_mem_map(e->uc, SC_EMU_STACK_BASE, SC_EMU_STACK_SIZE,
		    UC_PROT_READ | UC_PROT_WRITE) != UC_ERR_OK ||
		    uc_mem_map(e->uc, SC_EMU_HEAP_BASE, SC_EMU_HEAP_SIZE,
		    UC_PROT_ALL) != UC_ERR_OK || sc_win32_setup(e) == -1 ||
		    uc_hook_add(e->uc, &h, UC_HOOK_INTR,
		    (void *)sc_emu_hook_intr, e, 1, 0) != UC_ERR_OK ||
		    uc_hook_add(e->uc, &h, UC_HOOK_INSN, (void *)sc_emu_hook_in,
		    e, 1, 0, UC_X86_INS_IN) != UC_ERR_OK ||
		    uc_hook_add(e->uc, &h, UC_HOOK_INSN, (void *)sc_emu_hook_out,
		    e, 1, 0, UC_X86_INS_OUT) != UC_ERR_OK ||
		    uc_hook_add(e->uc, &h, UC_HOOK_BLOCK,
		    (void *)sc_emu_hook_block, e, 1, 0) != UC_ERR_OK ||
		    uc_hook_add(e->uc, &h, UC_HOOK_CODE,
		    (void *)sc_emu_hook_fnop, e, 1, 0) != UC_ERR_OK) {
			sc_emu_close();
			return NULL;
		}
		e->heap_next = SC_EMU_HEAP_BASE + SC_EMU_HEAP_SIZE;
	}
	if (codesize > sc_emu_codesize) {
		if (sc_emu_codesize > 0 && uc_mem_unmap(e->uc,
		    SC_EMU_CODE_BASE, sc_emu_codesize) != UC_ERR_OK) {
			sc_emu_close();
			return NULL;
		}
		free(sc_emu_code);
		sc_emu_code = NULL;
		sc_emu_codesize = 0;
		/* Host memory, so that sc_emu_hook_fnop reads it in place. */
		if (posix_memalign((void **)&sc_emu_code, 0x1000,
		    codesize) != 0) {
			sc_emu_code = NULL;
			sc_emu_close();
			return NULL;
		}
		if (uc_mem_map_ptr(e->uc, SC_EMU_CODE_BASE, codesize,
		    UC_PROT_ALL, sc_emu_code) != UC_ERR_OK) {
			sc_emu_close();
			return NULL;
		}
		sc_emu_codesize = codesize;
	}
	return e;
}

static sigjmp_buf		sc_emu_abort_jmp;

/*
 * Runs from begin; a fault goes to the shellcode's SEH handler if it
 * installed one (SEH GetPC, exception-driven decoders), a few times.
 */
static void
sc_emu_run_seh(struct sc_emu *e, uint64_t begin, uint64_t steps)
{
	uint32_t	eip;
	uc_err		err;

	for (;;) {
		e->fault = 0;
		err = uc_emu_start(e->uc, begin, 0, 0, steps);
		if (err == UC_ERR_READ_UNMAPPED || err == UC_ERR_WRITE_UNMAPPED ||
		    err == UC_ERR_FETCH_UNMAPPED || err == UC_ERR_READ_PROT ||
		    err == UC_ERR_WRITE_PROT || err == UC_ERR_FETCH_PROT ||
		    err == UC_ERR_INSN_INVALID)
			e->fault = err == UC_ERR_INSN_INVALID ? 0xc000001du :
			    0xc0000005u;
		eip = 0;
		uc_reg_read(e->uc, UC_X86_REG_EIP, &eip);
		/* Received bytes on the stack or in data: not executable. */
		if ((err == UC_ERR_FETCH_PROT || err == UC_ERR_FETCH_UNMAPPED) &&
		    sc_emu_in_recv(e, eip)) {
			sc_emu_stage(e);
			return;
		}
		if (e->fault == 0 || sc_emu_now_usec() >= e->deadline ||
		    sc_win32_seh(e, e->fault) == -1)
			return;
		eip = 0;
		uc_reg_read(e->uc, UC_X86_REG_EIP, &eip);
		begin = eip;
	}
}

static volatile sig_atomic_t	sc_emu_in_start;

static void
sc_emu_on_abort(int sig)
{
	(void)sig;
	if (sc_emu_in_start)
		siglongjmp(sc_emu_abort_jmp, 1);
}

/*
 * Runs the engine from begin.  Unicorn 2.0.1 calls abort() when it
 * translates some invalid encodings (ff /3 and ff /5 with a register
 * operand, lock with cmp or cmpxchg486): such an abort is caught here
 * and -1 returned.  The engine cannot run again (it crashes), but
 * uc_close frees it cleanly (checked under valgrind), so the caller
 * closes it and the next candidate gets a fresh one.
 */
static int
sc_emu_start_guarded(struct sc_emu *e, uint64_t begin, uint64_t steps)
{
	struct sigaction	sa, old;
	int			aborted = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sc_emu_on_abort;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGABRT, &sa, &old) == -1) {
		sc_emu_run_seh(e, begin, steps);	/* unguarded */
		return 0;
	}
	if (sigsetjmp(sc_emu_abort_jmp, 1) == 0) {
		sc_emu_in_start = 1;
		sc_emu_run_seh(e, begin, steps);
	} else
		aborted = 1;
	sc_emu_in_start = 0;
	sigaction(SIGABRT, &old, NULL);
	return aborted ? -1 : 0;
}

/* Writes zeros over [addr, addr + len); 0 or -1. */
static int
sc_emu_clear(struct sc_emu *e, uint32_t addr, size_t len)
{
	size_t	k;

	while (len > 0) {
		k = len < sizeof(sc_emu_zero) ? len : sizeof(sc_emu_zero);
		if (uc_mem_write(e->uc, addr, sc_emu_zero, k) != UC_ERR_OK)
			return -1;
		addr += (uint32_t)k;
		len -= k;
	}
	return 0;
}

/* Fresh state, payload and process for the next candidate; 0 or -1. */
static int
sc_emu_prepare(struct sc_emu *e, const uint8_t *buf, size_t len,
    size_t codesize)
{
	static const int regs[] = { UC_X86_REG_EAX, UC_X86_REG_EBX,
	    UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_ESI, UC_X86_REG_EDI };
	uint32_t	v = 0, eflags = 0x202;
	size_t		i;

	/* What earlier runs left in the heap must not reach this one. */
	if (sc_emu_clear(e, SC_EMU_HEAP_BASE,
	    e->heap_next - SC_EMU_HEAP_BASE) == -1)
		return -1;
	e->flags = 0;
	e->napi = 0;
	e->nadded = 0;
	e->bind_port = e->connect_port = 0;
	e->connect_host[0] = '\0';
	e->exec_cmd[0] = '\0';
	e->resolved[0] = '\0';
	e->recv_buf = e->recv_len = 0;
	e->key[0] = '\0';
	e->heap_next = SC_EMU_HEAP_BASE;
	e->fault = 0;
	e->nseh = 0;
	if (uc_mem_write(e->uc, SC_EMU_CODE_BASE, buf, len) != UC_ERR_OK ||
	    sc_emu_clear(e, SC_EMU_CODE_BASE + (uint32_t)len,
	    codesize - len) == -1 ||
	    sc_emu_clear(e, SC_EMU_STACK_TOP - SC_EMU_CODE_SLACK,
	    SC_EMU_CODE_SLACK) == -1 || sc_win32_reset(e) == -1)
		return -1;
	/* Translations of the previous candidate's (decoded) code go. */
	uc_ctl_remove_cache(e->uc, SC_EMU_CODE_BASE,
	    SC_EMU_CODE_BASE + codesize);
	for (i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		uc_reg_write(e->uc, regs[i], &v);
	v = SC_EMU_ESP;
	uc_reg_write(e->uc, UC_X86_REG_ESP, &v);
	uc_reg_write(e->uc, UC_X86_REG_EBP, &v);
	uc_reg_write(e->uc, UC_X86_REG_EFLAGS, &eflags);
	return 0;
}

int
sc_emu_run(const uint8_t *buf, size_t len, const long *offsets, size_t n,
    const struct sc_limits *lim, struct sc_result *res)
{
	struct sc_emu	*e;
	size_t		 codesize, i, tried = 0;
	uint64_t	 deadline;

	if (len == 0 || n == 0 || len > SC_EMU_CODE_MAX ||
	    lim->max_steps == 0)	/* 0 would mean "no limit" to Unicorn */
		return 0;
	codesize = (len + SC_EMU_CODE_SLACK + 0xfff) & ~(size_t)0xfff;
	deadline = sc_emu_now_usec() + lim->max_usec;
	for (i = 0; i < n && tried < lim->max_candidates; i++) {
		long	off = offsets[i];

		if (off < 0 || (size_t)off >= len)
			continue;
		if (sc_emu_now_usec() >= deadline)
			break;
		tried++;
		if ((e = sc_emu_engine(codesize)) == NULL)
			return -1;
		e->res = res;
		e->deadline = deadline;
		if (sc_emu_prepare(e, buf, len, codesize) == -1) {
			sc_emu_close();
			return -1;
		}
		if (sc_emu_start_guarded(e, SC_EMU_CODE_BASE + (uint64_t)off,
		    lim->max_steps) == -1) {
			sc_emu_close();
			continue;
		}
		if (sc_emu_conclude(e) > 0 || (e->napi > 0 &&
		    !res->shellcode)) {
			res->shellcode = 1;
			res->offset = off;
		}
		e->res = NULL;
		if (e->nadded > 0)
			break;
	}
	return 0;
}
