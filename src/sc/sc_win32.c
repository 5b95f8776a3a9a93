/*
 * The fake 32-bit Windows process of the emulation layer: a TEB on FS
 * (through a GDT entry), a PEB whose loader data holds the three module
 * lists in the order of Windows XP, DLL images with a DOS/PE header and
 * an export directory of real API names, and one 8-byte stub per API.
 * A code hook on the stubs runs the C handler of the API (arguments from
 * the stack, intent recorded, EAX set); the stub itself is `ret n`, so
 * stdcall and cdecl return as they would.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_emu_int.h"

#define W32_STUB_BASE	0x7c7f0000u	/* 8 bytes per API */
#define W32_STUB_SIZE	0x1000u
/* After the APIs: the decoy export's int3, then where handlers return. */
#define W32_SEH_RETURN	(W32_STUB_BASE + 8u * (uint32_t)(W32_NAPI + 1))
#define W32_GDT_BASE	0x7ffc0000u
#define W32_RESOLVED	"\xc0\x00\x02\xfe"	/* 192.0.2.254: a name */
#define W32_RESOLVED_S	"192.0.2.254"
#define W32_PROC_BASE	0x7ffd0000u	/* loader data, names, TEB, PEB */
#define W32_PROC_SIZE	0x11000u	/* and KUSER_SHARED_DATA */
#define W32_LDR		(W32_PROC_BASE + 0x0000u)
#define W32_ENTRY(i)	(W32_PROC_BASE + 0x0100u + 0x60u * (uint32_t)(i))
#define W32_NAMES(i)	(W32_PROC_BASE + 0x1000u + 0x100u * (uint32_t)(i))
#define W32_SEH		(W32_PROC_BASE + 0x2000u)
#define W32_TEB		0x7ffde000u
#define W32_PEB		0x7ffdf000u
#define W32_IMG_SIZE	0x2000u		/* written per candidate */
#define W32_IMG_MAP	0x10000u
#define W32_FS_INDEX	7
#define W32_SS_INDEX	2

enum w32_mod { W32_EXE, W32_NTDLL, W32_KERNEL32, W32_WS2_32, W32_URLMON,
	W32_WININET, W32_MSVCRT, W32_SHELL32, W32_NMOD };

static const struct w32_module {
	const char	*name;		/* lower case, with .dll */
	uint32_t	 base;
	int		 init_order;	/* in InInitializationOrder */
} w32_modules[W32_NMOD] = {
	{ "svchost.exe",	0x01000000u, 0 },
	{ "ntdll.dll",		0x7c900000u, 1 },
	{ "kernel32.dll",	0x7c800000u, 1 },
	{ "ws2_32.dll",		0x71ab0000u, 1 },
	{ "urlmon.dll",		0x78130000u, 1 },
	{ "wininet.dll",	0x771b0000u, 1 },
	{ "msvcrt.dll",		0x77c10000u, 1 },
	{ "shell32.dll",	0x7c9c0000u, 1 },
};

struct w32_api;
typedef uint32_t (*w32_fn)(struct sc_emu *, const struct w32_api *,
    const uint32_t *);

struct w32_api {
	enum w32_mod	 mod;
	const char	*name;
	uint8_t		 nargs;
	uint8_t		 cdecl;		/* caller pops */
	w32_fn		 fn;		/* NULL: return ret */
	uint32_t	 ret;
};

static uint32_t w32_load_library(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_get_proc(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_sysdir(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_exec(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_create_process(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_exit(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_alloc(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_file(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_write(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_net(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_download(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_out_zero(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_mem(struct sc_emu *, const struct w32_api *,
    const uint32_t *);
static uint32_t w32_shell_execute(struct sc_emu *, const struct w32_api *,
    const uint32_t *);

/*
 * Every API the process exports.  Without a handler, `ret` is what the
 * API returns; with one, it is the handler's parameter: which argument
 * holds the size, count or URL (w32_alloc, w32_write, w32_download,
 * w32_out_zero), which call (w32_net, w32_sysdir, w32_mem), or the value
 * to return (w32_exec, w32_file, w32_shell_execute).
 */
static const struct w32_api w32_apis[] = {
	{ W32_NTDLL, "RtlExitUserThread", 1, 0, w32_exit, 0 },
	{ W32_NTDLL, "NtTerminateProcess", 2, 0, w32_exit, 0 },
	{ W32_NTDLL, "RtlAllocateHeap", 3, 0, w32_alloc, 2 },
	{ W32_KERNEL32, "LoadLibraryA", 1, 0, w32_load_library, 0 },
	{ W32_KERNEL32, "LoadLibraryExA", 3, 0, w32_load_library, 0 },
	{ W32_KERNEL32, "LoadLibraryW", 1, 0, w32_load_library, 0 },
	{ W32_KERNEL32, "GetModuleHandleA", 1, 0, w32_load_library, 1 },
	{ W32_KERNEL32, "GetProcAddress", 2, 0, w32_get_proc, 0 },
	{ W32_KERNEL32, "GetSystemDirectoryA", 2, 0, w32_sysdir, 0 },
	{ W32_KERNEL32, "GetWindowsDirectoryA", 2, 0, w32_sysdir, 1 },
	{ W32_KERNEL32, "GetTempPathA", 2, 0, w32_sysdir, 2 },
	{ W32_KERNEL32, "WinExec", 2, 0, w32_exec, 33 },
	{ W32_KERNEL32, "CreateProcessA", 10, 0, w32_create_process, 0 },
	{ W32_KERNEL32, "CreateProcessW", 10, 0, w32_create_process, 0 },
	{ W32_KERNEL32, "ExitProcess", 1, 0, w32_exit, 0 },
	{ W32_KERNEL32, "ExitThread", 1, 0, w32_exit, 0 },
	{ W32_KERNEL32, "TerminateProcess", 2, 0, w32_exit, 0 },
	{ W32_KERNEL32, "TerminateThread", 2, 0, w32_exit, 0 },
	{ W32_KERNEL32, "Sleep", 1, 0, NULL, 0 },
	{ W32_KERNEL32, "VirtualAlloc", 4, 0, w32_alloc, 1 },
	{ W32_KERNEL32, "GlobalAlloc", 2, 0, w32_alloc, 1 },
	{ W32_KERNEL32, "LocalAlloc", 2, 0, w32_alloc, 1 },
	{ W32_KERNEL32, "HeapAlloc", 3, 0, w32_alloc, 2 },
	{ W32_KERNEL32, "GetProcessHeap", 0, 0, NULL, SC_EMU_HEAP_BASE },
	{ W32_KERNEL32, "VirtualProtect", 4, 0, w32_out_zero, 3 },
	{ W32_KERNEL32, "_lcreat", 2, 0, w32_file, 0x200 },
	{ W32_KERNEL32, "_lopen", 2, 0, w32_file, 0x200 },
	{ W32_KERNEL32, "CreateFileA", 7, 0, w32_file, 0x200 },
	{ W32_KERNEL32, "_lwrite", 3, 0, w32_write, 2 },
	{ W32_KERNEL32, "_hwrite", 3, 0, w32_write, 2 },
	{ W32_KERNEL32, "WriteFile", 5, 0, w32_write, 2 },
	{ W32_KERNEL32, "_lclose", 1, 0, NULL, 0 },
	{ W32_KERNEL32, "CloseHandle", 1, 0, NULL, 1 },
	{ W32_KERNEL32, "DeleteFileA", 1, 0, NULL, 1 },
	{ W32_KERNEL32, "CopyFileA", 3, 0, NULL, 1 },
	{ W32_KERNEL32, "WaitForSingleObject", 2, 0, NULL, 0 },
	{ W32_KERNEL32, "SetUnhandledExceptionFilter", 1, 0, NULL, 0 },
	{ W32_KERNEL32, "GetVersion", 0, 0, NULL, 0x0a280105u },
	{ W32_KERNEL32, "GetTickCount", 0, 0, NULL, 0x00100000u },
	{ W32_KERNEL32, "GetLastError", 0, 0, NULL, 0 },
	{ W32_KERNEL32, "GetCurrentProcess", 0, 0, NULL, 0xffffffffu },
	{ W32_KERNEL32, "CreateThread", 6, 0, NULL, 0x120 },
	{ W32_KERNEL32, "FreeLibrary", 1, 0, NULL, 1 },
	{ W32_WS2_32, "WSAStartup", 2, 0, NULL, 0 },
	{ W32_WS2_32, "WSACleanup", 0, 0, NULL, 0 },
	{ W32_WS2_32, "WSASocketA", 6, 0, w32_net, 0 },
	{ W32_WS2_32, "socket", 3, 0, w32_net, 0 },
	{ W32_WS2_32, "bind", 3, 0, w32_net, 1 },
	{ W32_WS2_32, "listen", 2, 0, w32_net, 2 },
	{ W32_WS2_32, "accept", 3, 0, w32_net, 3 },
	{ W32_WS2_32, "connect", 3, 0, w32_net, 4 },
	{ W32_WS2_32, "recv", 4, 0, w32_net, 5 },
	{ W32_WS2_32, "recvfrom", 6, 0, w32_net, 5 },
	{ W32_WS2_32, "send", 4, 0, w32_net, 6 },
	{ W32_WS2_32, "sendto", 6, 0, w32_net, 6 },
	{ W32_WS2_32, "closesocket", 1, 0, NULL, 0 },
	{ W32_WS2_32, "ioctlsocket", 3, 0, NULL, 0 },
	{ W32_WS2_32, "gethostbyname", 1, 0, w32_net, 7 },
	{ W32_URLMON, "URLDownloadToFileA", 5, 0, w32_download, 1 },
	{ W32_URLMON, "URLDownloadToFileW", 5, 0, w32_download, 1 },
	{ W32_URLMON, "URLDownloadToCacheFileA", 6, 0, w32_download, 1 },
	{ W32_WININET, "InternetOpenA", 5, 0, NULL, 0x500 },
	{ W32_WININET, "InternetOpenUrlA", 6, 0, w32_download, 1 },
	{ W32_WININET, "InternetReadFile", 4, 0, w32_out_zero, 3 },
	{ W32_WININET, "InternetCloseHandle", 1, 0, NULL, 1 },
	{ W32_MSVCRT, "fopen", 2, 1, w32_file, 0 },
	{ W32_MSVCRT, "fwrite", 4, 1, w32_write, 2 },
	{ W32_MSVCRT, "fclose", 1, 1, NULL, 0 },
	{ W32_MSVCRT, "malloc", 1, 1, w32_alloc, 0 },
	{ W32_MSVCRT, "calloc", 2, 1, w32_alloc, 1 },
	{ W32_MSVCRT, "free", 1, 1, NULL, 0 },
	{ W32_MSVCRT, "memset", 3, 1, w32_mem, 0 },
	{ W32_MSVCRT, "memcpy", 3, 1, w32_mem, 1 },
	{ W32_KERNEL32, "RtlZeroMemory", 2, 0, w32_mem, 2 },
	{ W32_MSVCRT, "system", 1, 1, w32_exec, 0 },
	{ W32_MSVCRT, "exit", 1, 1, w32_exit, 0 },
	{ W32_SHELL32, "ShellExecuteA", 6, 0, w32_shell_execute, 42 },
};
#define W32_NAPI	(sizeof(w32_apis) / sizeof(w32_apis[0]))

/* The bytes written into guest memory for every candidate. */
struct w32_state {
	uint8_t		 img[W32_NMOD][W32_IMG_SIZE];
	uint8_t		 proc[W32_PROC_SIZE];
	uint8_t		 stubs[W32_STUB_SIZE];
	uint8_t		 gdt[0x100];
	uc_context	*cpu;		/* the CPU as set up, for each reset */
};

static void
w32_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
w32_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
w32_stub(size_t api)
{
	return W32_STUB_BASE + 8u * (uint32_t)api;
}

/*
 * The image of module m: DOS header, PE header with one data directory
 * (exports) and the export directory whose functions are the stubs of
 * the module's APIs (RVAs wrap modulo 2^32, as the loader's sums do).
 */
static void
w32_build_image(uint8_t *img, enum w32_mod m)
{
	const uint32_t	base = w32_modules[m].base;
	uint32_t	exp = 0x200, funcs = 0x400, names, ords, str, n = 0;
	size_t		i, len;

	memset(img, 0, W32_IMG_SIZE);
	img[0] = 'M';
	img[1] = 'Z';
	w32_put32(img + 0x3c, 0x80);
	memcpy(img + 0x80, "PE\0\0", 4);
	w32_put16(img + 0x84, 0x14c);		/* i386 */
	w32_put16(img + 0x94, 0xe0);		/* SizeOfOptionalHeader */
	w32_put16(img + 0x96, m == W32_EXE ? 0x0102 : 0x2102);
	w32_put16(img + 0x98, 0x10b);		/* PE32 */
	w32_put32(img + 0x98 + 0x1c, base);	/* ImageBase */
	w32_put32(img + 0x98 + 0x38, W32_IMG_MAP);
	w32_put32(img + 0x98 + 0x5c, 16);	/* NumberOfRvaAndSizes */
	for (i = 0; i < W32_NAPI; i++)
		if (w32_apis[i].mod == m)
			n++;
	if (n == 0)
		return;
	n++;		/* the decoy */
	names = funcs + 4 * n;
	ords = names + 4 * n;
	str = ords + 2 * n;
	w32_put32(img + 0x98 + 0x60, exp);
	w32_put32(img + 0x98 + 0x64, W32_IMG_SIZE - exp);
	len = strlen(w32_modules[m].name);
	memcpy(img + 0x240, w32_modules[m].name, len);
	w32_put32(img + exp + 0x0c, 0x240);
	w32_put32(img + exp + 0x10, 1);		/* ordinal base */
	w32_put32(img + exp + 0x14, n);
	w32_put32(img + exp + 0x18, n);
	w32_put32(img + exp + 0x1c, funcs);
	w32_put32(img + exp + 0x20, names);
	w32_put32(img + exp + 0x24, ords);
	/*
	 * Export 0 is a decoy whose stub is int3: some hash loops skip the
	 * first name, as it is never one they look for in a real DLL.
	 */
	w32_put32(img + funcs, w32_stub(W32_NAPI) - base);
	w32_put32(img + names, str);
	memcpy(img + str, "AddAtomA", sizeof("AddAtomA"));
	str += sizeof("AddAtomA");
	n = 1;
	for (i = 0; i < W32_NAPI; i++) {
		if (w32_apis[i].mod != m)
			continue;
		len = strlen(w32_apis[i].name) + 1;
		if (str + len > W32_IMG_SIZE)
			break;
		w32_put32(img + funcs + 4 * n, w32_stub(i) - base);
		w32_put32(img + names + 4 * n, str);
		w32_put16(img + ords + 2 * n, (uint16_t)n);
		memcpy(img + str, w32_apis[i].name, len);
		str += (uint32_t)len;
		n++;
	}
}

/* Writes a UNICODE_STRING at p for the ASCII s, its buffer at gaddr. */
static uint32_t
w32_unicode(uint8_t *proc, uint8_t *p, uint32_t gaddr, const char *s)
{
	size_t	i, len = strlen(s);

	w32_put16(p, (uint16_t)(2 * len));
	w32_put16(p + 2, (uint16_t)(2 * len + 2));
	w32_put32(p + 4, gaddr);
	for (i = 0; i < len; i++)
		w32_put16(proc + (gaddr - W32_PROC_BASE) + 2 * i,
		    (uint16_t)(unsigned char)s[i]);
	return gaddr + 2 * (uint32_t)len + 2;
}

/* Links the entries in order into the list at offset lo, head at ho. */
static void
w32_link(uint8_t *proc, const int *order, size_t n, uint32_t lo,
    uint32_t ho)
{
	uint32_t	head = W32_LDR + ho, prev = head, node;
	size_t		i;

	for (i = 0; i < n; i++) {
		node = W32_ENTRY(order[i]) + lo;
		w32_put32(proc + (prev - W32_PROC_BASE), node);	 /* Flink */
		w32_put32(proc + (node - W32_PROC_BASE) + 4, prev); /* Blink */
		prev = node;
	}
	w32_put32(proc + (prev - W32_PROC_BASE), head);
	w32_put32(proc + (head - W32_PROC_BASE) + 4, prev);
}

/* The TEB, PEB, loader data and SEH chain of the process. */
static void
w32_build_proc(uint8_t *proc)
{
	uint8_t		*teb = proc + (W32_TEB - W32_PROC_BASE);
	uint8_t		*peb = proc + (W32_PEB - W32_PROC_BASE);
	uint8_t		*ent;
	const uint32_t	 k32 = w32_modules[W32_KERNEL32].base;
	char		 full[96];
	int		 order[W32_NMOD], init[W32_NMOD];
	size_t		 i, ninit = 0;
	uint32_t	 s;

	memset(proc, 0, W32_PROC_SIZE);
	w32_put32(teb + 0x00, W32_SEH);
	w32_put32(teb + 0x04, SC_EMU_STACK_TOP);
	w32_put32(teb + 0x08, SC_EMU_STACK_BASE);
	w32_put32(teb + 0x18, W32_TEB);
	w32_put32(teb + 0x20, 0x0504);		/* process id */
	w32_put32(teb + 0x24, 0x0508);		/* thread id */
	w32_put32(teb + 0x30, W32_PEB);
	w32_put32(peb + 0x08, w32_modules[W32_EXE].base);
	w32_put32(peb + 0x0c, W32_LDR);
	w32_put32(peb + 0x18, SC_EMU_HEAP_BASE);
	w32_put32(peb + 0xa4, 5);		/* Windows XP */
	w32_put32(peb + 0xa8, 1);
	w32_put32(proc + 0x00, 0x28);		/* PEB_LDR_DATA */
	proc[0x04] = 1;
	/* The last SEH record's handler lies inside kernel32. */
	w32_put32(proc + (W32_SEH - W32_PROC_BASE), 0xffffffffu);
	w32_put32(proc + (W32_SEH - W32_PROC_BASE) + 4, k32 + 0x3000);
	for (i = 0; i < W32_NMOD; i++) {
		ent = proc + (W32_ENTRY(i) - W32_PROC_BASE);
		w32_put32(ent + 0x18, w32_modules[i].base);
		w32_put32(ent + 0x1c, w32_modules[i].base + 0x1000);
		w32_put32(ent + 0x20, W32_IMG_MAP);
		snprintf(full, sizeof(full), "C:\\WINDOWS\\system32\\%s",
		    w32_modules[i].name);
		s = w32_unicode(proc, ent + 0x24, W32_NAMES(i), full);
		w32_unicode(proc, ent + 0x2c, s, w32_modules[i].name);
		order[i] = (int)i;
		if (w32_modules[i].init_order)
			init[ninit++] = (int)i;
	}
	w32_link(proc, order, W32_NMOD, 0x00, 0x0c);
	w32_link(proc, order, W32_NMOD, 0x08, 0x14);
	w32_link(proc, init, ninit, 0x10, 0x1c);
}

/*
 * FS: a data segment based at the TEB.  SS: a flat 32-bit ring-0 stack
 * segment; loading any segment makes Unicorn recompute its flags, and the
 * initial SS would then turn into a 16-bit stack.
 */
static void
w32_build_gdt(uint8_t *gdt)
{
	uint8_t	*d = gdt + 8 * W32_FS_INDEX;
	uint8_t	*ss = gdt + 8 * W32_SS_INDEX;

	memset(gdt, 0, 0x100);
	ss[0] = 0xff;
	ss[1] = 0xff;
	ss[5] = 0x93;			/* present, DPL 0, data RW, accessed */
	ss[6] = 0xcf;
	d[0] = 0xff;			/* limit 0xfffff, 4K granular */
	d[1] = 0xff;
	d[2] = (uint8_t)W32_TEB;
	d[3] = (uint8_t)(W32_TEB >> 8);
	d[4] = (uint8_t)(W32_TEB >> 16);
	d[5] = 0xf3;			/* present, DPL 3, data RW, accessed */
	d[6] = 0xcf;			/* 4K granular, 32-bit */
	d[7] = (uint8_t)(W32_TEB >> 24);
}

/* A string argument of api: UTF-16 for the ...W functions. */
static size_t
w32_str(struct sc_emu *e, const struct w32_api *api, uint32_t addr,
    char *out, size_t size)
{
	size_t	n = strlen(api->name);

	if (n > 0 && api->name[n - 1] == 'W')
		return sc_emu_read_wstr(e, addr, out, size);
	return sc_emu_read_str(e, addr, out, size);
}

static int
w32_module_find(const char *name)
{
	const char	*p;
	size_t		 i, n;

	if ((p = strrchr(name, '\\')) != NULL)
		name = p + 1;
	n = strlen(name);
	for (i = 0; i < W32_NMOD; i++) {
		const char	*m = w32_modules[i].name;
		size_t		 ml = strcspn(m, ".");

		if (strcasecmp(name, m) == 0 || (n == ml &&
		    strncasecmp(name, m, ml) == 0))
			return (int)i;
	}
	return -1;
}

/* LoadLibraryA, LoadLibraryExA, GetModuleHandleA (ret 1: NULL is exe). */
static uint32_t
w32_load_library(struct sc_emu *e, const struct w32_api *api,
    const uint32_t *a)
{
	char	name[128];
	int	m;

	if (a[0] == 0 && api->ret == 1)
		return w32_modules[W32_EXE].base;
	if (w32_str(e, api, a[0], name, sizeof(name)) == 0)
		return 0;
	if ((m = w32_module_find(name)) == -1)
		return 0;
	return w32_modules[m].base;
}

static uint32_t
w32_get_proc(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	char	name[64];
	size_t	i;

	(void)api;
	if (a[1] < 0x10000 ||
	    sc_emu_read_str(e, a[1], name, sizeof(name)) == 0)
		return 0;
	for (i = 0; i < W32_NAPI; i++)
		if (strcmp(w32_apis[i].name, name) == 0)
			return w32_stub(i);
	return 0;
}

static uint32_t
w32_sysdir(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	static const char *dirs[] = { "c:\\WINDOWS\\system32", "c:\\WINDOWS",
	    "c:\\WINDOWS\\TEMP\\" };
	/* GetTempPathA has (size, buffer), the others (buffer, size). */
	uint32_t	buf = api->ret == 2 ? a[1] : a[0];
	uint32_t	size = api->ret == 2 ? a[0] : a[1];
	const char	*d = dirs[api->ret];
	uint32_t	len = (uint32_t)strlen(d);

	if (size <= len)
		return len + 1;
	if (uc_mem_write(e->uc, buf, d, len + 1) != UC_ERR_OK)
		return 0;
	return len;
}

static void
w32_record_exec(struct sc_emu *e, const struct w32_api *api, uint32_t addr)
{
	char	cmd[SC_CMD_MAX];

	if (w32_str(e, api, addr, cmd, sizeof(cmd)) == 0)
		return;
	e->flags |= SC_EMU_EXEC;
	if (e->exec_cmd[0] == '\0')
		snprintf(e->exec_cmd, sizeof(e->exec_cmd), "%s", cmd);
}

static uint32_t
w32_exec(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	w32_record_exec(e, api, a[0]);
	return api->ret;
}

/* ShellExecuteA(hwnd, verb, file, parameters, directory, show). */
static uint32_t
w32_shell_execute(struct sc_emu *e, const struct w32_api *api,
    const uint32_t *a)
{
	char	file[SC_CMD_MAX / 2], params[SC_CMD_MAX / 2];

	if (sc_emu_read_str(e, a[2], file, sizeof(file)) == 0)
		return 2;	/* ERROR_FILE_NOT_FOUND */
	params[0] = '\0';
	if (a[3] != 0)
		sc_emu_read_str(e, a[3], params, sizeof(params));
	e->flags |= SC_EMU_EXEC;
	if (e->exec_cmd[0] == '\0')
		snprintf(e->exec_cmd, sizeof(e->exec_cmd), "%s%s%s", file,
		    params[0] != '\0' ? " " : "", params);
	return api->ret;
}

static uint32_t
w32_create_process(struct sc_emu *e, const struct w32_api *api,
    const uint32_t *a)
{
	uint8_t	pi[16];

	(void)api;
	w32_record_exec(e, api, a[1] != 0 ? a[1] : a[0]);
	w32_put32(pi, 0x100);
	w32_put32(pi + 4, 0x104);
	w32_put32(pi + 8, 0x1000);
	w32_put32(pi + 12, 0x1004);
	uc_mem_write(e->uc, a[9], pi, sizeof(pi));
	return 1;
}

static uint32_t
w32_exit(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	(void)api;
	(void)a;
	uc_emu_stop(e->uc);
	return 0;
}

static uint32_t
w32_alloc(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	uint32_t	size = a[api->ret];

	/* calloc(n, size) */
	if (api->cdecl && api->ret == 1 && a[0] != 0 &&
	    a[1] <= SC_EMU_HEAP_SIZE / a[0])
		size = a[0] * a[1];
	return sc_emu_alloc(e, size);
}

static uint32_t
w32_file(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	(void)a;
	e->flags |= SC_EMU_FILE;
	/* fopen hands out a FILE *, which the code may read. */
	return api->ret != 0 ? api->ret : sc_emu_alloc(e, 64);
}

static uint32_t
w32_write(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	uint8_t	n[4];

	e->flags |= SC_EMU_FILE;
	if (strcmp(api->name, "WriteFile") == 0) {
		w32_put32(n, a[2]);
		if (a[3] != 0)
			uc_mem_write(e->uc, a[3], n, sizeof(n));
		return 1;
	}
	return a[api->ret];
}

/*
 * gethostbyname: a hostent whose one address is W32_RESOLVED; connect()
 * to that address reports the name instead.
 */
static uint32_t
w32_gethostbyname(struct sc_emu *e, uint32_t name)
{
	uint8_t		he[36];
	uint32_t	p;

	if (sc_emu_read_str(e, name, e->resolved, sizeof(e->resolved)) == 0 ||
	    (p = sc_emu_alloc(e, sizeof(he))) == 0)
		return 0;
	memset(he, 0, sizeof(he));
	w32_put32(he, name);			/* h_name */
	w32_put32(he + 4, p + 20);		/* h_aliases: empty */
	w32_put16(he + 8, 2);			/* AF_INET */
	w32_put16(he + 10, 4);
	w32_put32(he + 12, p + 24);		/* h_addr_list */
	w32_put32(he + 24, p + 32);		/* [0]; [1] is NULL */
	memcpy(he + 32, W32_RESOLVED, 4);
	if (uc_mem_write(e->uc, p, he, sizeof(he)) != UC_ERR_OK)
		return 0;
	return p;
}

/* Winsock; api->ret says which call. */
static uint32_t
w32_net(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	char		host[SC_HOST_MAX];
	uint16_t	port;

	switch (api->ret) {
	case 0:
		e->flags |= SC_EMU_SOCKET;
		return 0x44;
	case 1:
		if (sc_emu_sockaddr(e, a[1], host, sizeof(host), &port) == 0) {
			e->flags |= SC_EMU_BIND;
			e->bind_port = port;
		}
		return 0;
	case 2:
		e->flags |= SC_EMU_LISTEN;
		return 0;
	case 3:
		e->flags |= SC_EMU_ACCEPT;
		return 0x48;
	case 4:
		if (sc_emu_sockaddr(e, a[1], host, sizeof(host), &port) == 0) {
			e->flags |= SC_EMU_CONNECT;
			e->connect_port = port;
			snprintf(e->connect_host, sizeof(e->connect_host),
			    "%s", strcmp(host, W32_RESOLVED_S) == 0 &&
			    e->resolved[0] != '\0' ? e->resolved : host);
		}
		return 0;
	case 7:
		return w32_gethostbyname(e, a[0]);
	case 5:
		return sc_emu_recv(e, a[1], a[2]);
	}
	return a[2];	/* send: all of it */
}

static uint32_t
w32_download(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	struct sc_action	act;

	memset(&act, 0, sizeof(act));
	act.kind = SC_DOWNLOAD;
	if (w32_str(e, api, a[api->ret], act.url, sizeof(act.url)) > 0) {
		e->flags |= SC_EMU_DOWNLOAD;
		sc_emu_add(e, &act);
	}
	return strcmp(api->name, "InternetOpenUrlA") == 0 ? 0x504 : 0;
}

/* Writes 0 to the pointer argument a[api->ret]; returns 1. */
static uint32_t
w32_out_zero(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	uint8_t	z[4] = { 0, 0, 0, 0 };

	if (a[api->ret] != 0)
		uc_mem_write(e->uc, a[api->ret], z, sizeof(z));
	return 1;
}

/*
 * memset(d, c, n), memcpy(d, s, n) (ret 1), RtlZeroMemory(d, n) (ret 2),
 * at most SC_EMU_HEAP_SIZE bytes; a fault ends the candidate.
 */
static uint32_t
w32_mem(struct sc_emu *e, const struct w32_api *api, const uint32_t *a)
{
	uint8_t		chunk[256];
	uint32_t	n = api->ret == 2 ? a[1] : a[2], done = 0, k;

	if (n > SC_EMU_HEAP_SIZE) {
		uc_emu_stop(e->uc);
		return a[0];
	}
	memset(chunk, api->ret == 0 ? (int)(a[1] & 0xff) : 0, sizeof(chunk));
	while (done < n) {
		k = n - done < sizeof(chunk) ? n - done : sizeof(chunk);
		if ((api->ret == 1 && uc_mem_read(e->uc, a[1] + done, chunk,
		    k) != UC_ERR_OK) || uc_mem_write(e->uc, a[0] + done,
		    chunk, k) != UC_ERR_OK) {
			uc_emu_stop(e->uc);
			break;
		}
		done += k;
	}
	return a[0];
}

/* CONTEXT (i386) offsets of the registers, in w32_ctx_regs order. */
static const struct {
	int		reg;
	uint32_t	off;
} w32_ctx_regs[] = {
	{ UC_X86_REG_EDI, 0x9c }, { UC_X86_REG_ESI, 0xa0 },
	{ UC_X86_REG_EBX, 0xa4 }, { UC_X86_REG_EDX, 0xa8 },
	{ UC_X86_REG_ECX, 0xac }, { UC_X86_REG_EAX, 0xb0 },
	{ UC_X86_REG_EBP, 0xb4 }, { UC_X86_REG_EIP, 0xb8 },
	{ UC_X86_REG_EFLAGS, 0xc0 }, { UC_X86_REG_ESP, 0xc4 },
};
#define W32_NCTX	(sizeof(w32_ctx_regs) / sizeof(w32_ctx_regs[0]))
#define W32_CTX_SIZE	0x2cc
#define W32_SEH_MAX	4	/* dispatches per candidate */

/*
 * A handler returned to the dispatcher: ExceptionContinueExecution (0)
 * resumes at the CONTEXT it may have changed (SEH GetPC does); anything
 * else ends the candidate, as the process would die.
 */
static void
w32_seh_return(struct sc_emu *e)
{
	uint32_t	eax = 0, v;
	size_t		i;

	uc_reg_read(e->uc, UC_X86_REG_EAX, &eax);
	if (eax != 0) {
		uc_emu_stop(e->uc);
		return;
	}
	for (i = 0; i < W32_NCTX; i++) {
		if (sc_emu_read32(e, e->seh_ctx + w32_ctx_regs[i].off,
		    &v) == -1) {
			uc_emu_stop(e->uc);
			return;
		}
		uc_reg_write(e->uc, w32_ctx_regs[i].reg, &v);
	}
}

int
sc_win32_seh(struct sc_emu *e, uint32_t code)
{
	const uint32_t	k32 = w32_modules[W32_KERNEL32].base;
	uint8_t		ctx[W32_CTX_SIZE], rec[0x50], args[20];
	uint32_t	frame, handler, esp, eip = 0, v, sp;
	size_t		i;

	if (e->nseh >= W32_SEH_MAX ||
	    sc_emu_read32(e, W32_TEB, &frame) == -1 ||
	    frame == 0xffffffffu || sc_emu_read32(e, frame + 4, &handler) == -1)
		return -1;
	/* The default handler, in kernel32: the process dies. */
	if (handler >= k32 && handler < k32 + W32_IMG_MAP)
		return -1;
	e->nseh++;
	memset(ctx, 0, sizeof(ctx));
	memset(rec, 0, sizeof(rec));
	w32_put32(ctx, 0x10007);	/* CONTEXT_FULL */
	for (i = 0; i < W32_NCTX; i++) {
		v = 0;
		uc_reg_read(e->uc, w32_ctx_regs[i].reg, &v);
		w32_put32(ctx + w32_ctx_regs[i].off, v);
	}
	uc_reg_read(e->uc, UC_X86_REG_ESP, &esp);
	uc_reg_read(e->uc, UC_X86_REG_EIP, &eip);
	w32_put32(rec, code);
	w32_put32(rec + 0x0c, eip);
	sp = (esp - 0x400 - W32_CTX_SIZE - sizeof(rec)) & ~3u;
	e->seh_ctx = sp + (uint32_t)sizeof(rec);
	w32_put32(args, W32_SEH_RETURN);		/* return address */
	w32_put32(args + 4, sp);			/* EXCEPTION_RECORD */
	w32_put32(args + 8, frame);			/* establisher frame */
	w32_put32(args + 12, e->seh_ctx);		/* CONTEXT */
	w32_put32(args + 16, 0);			/* dispatcher context */
	v = sp - (uint32_t)sizeof(args);
	if (uc_mem_write(e->uc, sp, rec, sizeof(rec)) != UC_ERR_OK ||
	    uc_mem_write(e->uc, e->seh_ctx, ctx, sizeof(ctx)) != UC_ERR_OK ||
	    uc_mem_write(e->uc, v, args, sizeof(args)) != UC_ERR_OK)
		return -1;
	uc_reg_write(e->uc, UC_X86_REG_ESP, &v);
	uc_reg_write(e->uc, UC_X86_REG_EIP, &handler);
	return 0;
}

/* The stub hook: EIP is at the `ret n` of an API. */
static void
w32_hook_stub(uc_engine *uc, uint64_t addr, uint32_t size, void *arg)
{
	struct sc_emu		*e = arg;
	const struct w32_api	*api;
	uint32_t		 esp = 0, a[10], ret;
	size_t			 idx, i;

	(void)size;
	if (addr == W32_SEH_RETURN) {
		w32_seh_return(e);
		return;
	}
	idx = (size_t)(addr - W32_STUB_BASE) / 8;
	if (idx >= W32_NAPI || (addr - W32_STUB_BASE) % 8 != 0) {
		uc_emu_stop(uc);
		return;
	}
	api = &w32_apis[idx];
	e->napi++;
	uc_reg_read(uc, UC_X86_REG_ESP, &esp);
	memset(a, 0, sizeof(a));
	for (i = 0; i < api->nargs && i < 10; i++)
		if (sc_emu_read32(e, esp + 4 + 4 * (uint32_t)i, &a[i]) == -1) {
			uc_emu_stop(uc);
			return;
		}
	ret = api->fn != NULL ? api->fn(e, api, a) : api->ret;
	uc_reg_write(uc, UC_X86_REG_EAX, &ret);
}

int
sc_win32_setup(struct sc_emu *e)
{
	struct w32_state	*st;
	uc_x86_mmr		 gdtr;
	uc_hook			 h;
	size_t			 i;
	int			 fs = (W32_FS_INDEX << 3) | 3;
	int			 ss = W32_SS_INDEX << 3;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -1;
	e->win32 = st;
	for (i = 0; i < W32_NMOD; i++) {
		w32_build_image(st->img[i], (enum w32_mod)i);
		if (uc_mem_map(e->uc, w32_modules[i].base, W32_IMG_MAP,
		    UC_PROT_READ | UC_PROT_WRITE) != UC_ERR_OK)
			return -1;
	}
	w32_build_proc(st->proc);
	w32_build_gdt(st->gdt);
	memset(st->stubs, 0xcc, sizeof(st->stubs));
	for (i = 0; i < W32_NAPI; i++) {
		uint8_t		*s = st->stubs + 8 * i;
		uint16_t	 pop = w32_apis[i].cdecl ? 0 :
		    (uint16_t)(4 * w32_apis[i].nargs);

		if (pop == 0)
			s[0] = 0xc3;
		else {
			s[0] = 0xc2;
			w32_put16(s + 1, pop);
		}
	}
	if (uc_mem_map(e->uc, W32_STUB_BASE, W32_STUB_SIZE, UC_PROT_READ |
	    UC_PROT_EXEC) != UC_ERR_OK ||
	    uc_mem_map(e->uc, W32_PROC_BASE, W32_PROC_SIZE,
	    UC_PROT_READ | UC_PROT_WRITE) != UC_ERR_OK ||
	    uc_mem_map(e->uc, W32_GDT_BASE, 0x1000,
	    UC_PROT_READ | UC_PROT_WRITE) != UC_ERR_OK ||
	    uc_mem_write(e->uc, W32_STUB_BASE, st->stubs,
	    sizeof(st->stubs)) != UC_ERR_OK ||
	    uc_mem_write(e->uc, W32_GDT_BASE, st->gdt,
	    sizeof(st->gdt)) != UC_ERR_OK)
		return -1;
	memset(&gdtr, 0, sizeof(gdtr));
	gdtr.base = W32_GDT_BASE;
	gdtr.limit = sizeof(st->gdt) - 1;
	if (uc_reg_write(e->uc, UC_X86_REG_GDTR, &gdtr) != UC_ERR_OK ||
	    uc_reg_write(e->uc, UC_X86_REG_SS, &ss) != UC_ERR_OK ||
	    uc_reg_write(e->uc, UC_X86_REG_FS, &fs) != UC_ERR_OK)
		return -1;
	if (uc_hook_add(e->uc, &h, UC_HOOK_CODE, (void *)w32_hook_stub, e,
	    W32_STUB_BASE, W32_SEH_RETURN) != UC_ERR_OK)
		return -1;
	if (uc_context_alloc(e->uc, &st->cpu) != UC_ERR_OK) {
		st->cpu = NULL;
		return -1;
	}
	if (uc_context_save(e->uc, st->cpu) != UC_ERR_OK)
		return -1;
	return 0;
}

int
sc_win32_reset(struct sc_emu *e)
{
	struct w32_state	*st = e->win32;
	uint8_t			 k32[4];
	size_t			 i;

	for (i = 0; i < W32_NMOD; i++)
		if (uc_mem_write(e->uc, w32_modules[i].base, st->img[i],
		    W32_IMG_SIZE) != UC_ERR_OK)
			return -1;
	/* Old shellcode finds kernel32 at [StackBase - 0x1c]. */
	w32_put32(k32, w32_modules[W32_KERNEL32].base + 0x3000);
	if (uc_mem_write(e->uc, W32_PROC_BASE, st->proc,
	    W32_PROC_SIZE) != UC_ERR_OK ||
	    uc_mem_write(e->uc, SC_EMU_STACK_TOP - 0x1c, k32,
	    sizeof(k32)) != UC_ERR_OK ||
	    uc_mem_write(e->uc, W32_GDT_BASE, st->gdt,
	    sizeof(st->gdt)) != UC_ERR_OK)
		return -1;
	/*
	 * The whole CPU as sc_win32_setup left it: a candidate that ran
	 * into junk may have loaded SS, ES or FS (pop ss: SS becomes a
	 * 16-bit null segment and every later push faults), changed the
	 * GDTR or left the FPU's last instruction pointer behind.  Without
	 * this, one such payload would blind the engine for every later
	 * analysis of the process.
	 */
	if (uc_context_restore(e->uc, st->cpu) != UC_ERR_OK)
		return -1;
	return 0;
}

void
sc_win32_free(struct sc_emu *e)
{
	struct w32_state	*st = e->win32;

	if (st != NULL && st->cpu != NULL)
		uc_context_free(st->cpu);
	free(e->win32);
	e->win32 = NULL;
}
