/*
 * The emulated cmd.exe's file system (sc_cmd_int.h): a session's files
 * and directories over the few every host has, paths resolved as
 * cmd.exe resolves them, and the commands that read or change them:
 * type, dir, cd, del, md.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sc_cmd.h"
#include "sc_cmd_int.h"

/* --- the file system ---------------------------------------------- */

/*
 * The directories and files every host has, under C:\ or, with a
 * leading '%', under host.system_root.  Enough for dir and cd to look
 * like a Windows host's, not a copy of one.
 */
static const char *const sc_cmd_dirs[] = {
	"C:\\Documents and Settings", "C:\\Program Files", "%",
	"%\\system32", "%\\system32\\config", "%\\system32\\drivers",
	"%\\Temp",
};

static const struct {
	const char	*path;
	size_t		 size;
} sc_cmd_sysfiles[] = {
	{ "C:\\AUTOEXEC.BAT", 0 },
	{ "C:\\CONFIG.SYS", 0 },
	{ "%\\explorer.exe", 1033728 },
	{ "%\\notepad.exe", 69120 },
	{ "%\\regedit.exe", 146432 },
	{ "%\\system32\\cmd.exe", 388608 },
	{ "%\\system32\\ftp.exe", 42496 },
	{ "%\\system32\\hostname.exe", 8704 },
	{ "%\\system32\\net.exe", 42496 },
	{ "%\\system32\\tftp.exe", 16896 },
};

#define SC_CMD_NDIRS	(sizeof(sc_cmd_dirs) / sizeof(sc_cmd_dirs[0]))
#define SC_CMD_NSYS	(sizeof(sc_cmd_sysfiles) / sizeof(sc_cmd_sysfiles[0]))

/* Expands a table path ('%' for the system root) into out. */
static void
sc_cmd_sys_path(const struct sc_cmd *st, const char *p, char *out,
    size_t size)
{
	if (p[0] == '%')
		snprintf(out, size, "%s%s", st->root, p + 1);
	else
		snprintf(out, size, "%s", p);
}

/*
 * Resolves path against the current directory: "C:\A\B" (no trailing
 * backslash but for the root), "." and ".." applied, trailing dots and
 * blanks of a name dropped as Windows does.  -1 for another drive, a UNC
 * path or a result longer than MAX_PATH.
 */
int
sc_cmd_resolve(const struct sc_cmd *st, const char *path, char *out,
    size_t size)
{
	char		 buf[2 * SC_CMD_PATH + 2];
	const char	*rest = path, *c, *e;
	size_t		 n, len;

	if (size < 4)
		return -1;
	if (isalpha((unsigned char)path[0]) && path[1] == ':') {
		if (toupper((unsigned char)path[0]) != 'C')
			return -1;
		rest = path + 2;
	} else if ((path[0] == '\\' || path[0] == '/') &&
	    (path[1] == '\\' || path[1] == '/'))
		return -1;
	if (rest[0] == '\\' || rest[0] == '/')
		snprintf(buf, sizeof(buf), "C:");
	else
		sc_cmd_set(buf, sizeof(buf), strcmp(st->cwd, "C:\\") == 0 ?
		    "C:" : st->cwd);
	len = strlen(buf);
	for (c = rest; *c != '\0'; c = *e != '\0' ? e + 1 : e) {
		for (e = c; *e != '\0' && *e != '\\' && *e != '/'; e++)
			;
		n = (size_t)(e - c);
		while (n > 0 && (c[n - 1] == '.' || c[n - 1] == ' ') &&
		    !(n == 2 && c[0] == '.' && c[1] == '.'))
			n--;
		if (n == 0 || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			while (len > 2 && buf[len - 1] != '\\')
				len--;
			if (len > 2)
				len--;
			buf[len] = '\0';
			continue;
		}
		if (len + 1 + n >= sizeof(buf))
			return -1;
		buf[len++] = '\\';
		memcpy(buf + len, c, n);
		len += n;
		buf[len] = '\0';
	}
	if (len == 2) {
		buf[len++] = '\\';
		buf[len] = '\0';
	}
	if (len >= SC_CMD_PATH || len >= size)
		return -1;
	memcpy(out, buf, len + 1);
	return 0;
}

/* The directory part of a full path ("C:\" for a file in the root). */
static void
sc_cmd_parent(const char *path, char *out, size_t size)
{
	const char	*b = strrchr(path, '\\');
	size_t		 n = b != NULL ? (size_t)(b - path) : 0;

	if (n <= 2)
		n = 3;
	sc_cmd_copy(out, size, path, n);
}

const char *
sc_cmd_base(const char *path)
{
	const char	*b = strrchr(path, '\\');

	return b != NULL && b[1] != '\0' ? b + 1 : path;
}

struct sc_cmd_file *
sc_cmd_file(struct sc_cmd *st, const char *path)
{
	size_t	i;

	for (i = 0; i < st->nfiles; i++)
		if (strcasecmp(st->files[i].path, path) == 0)
			return &st->files[i];
	return NULL;
}

/*
 * Whether the full path is a directory; its name as the disk spells it
 * goes into canon when it is one.
 */
static int
sc_cmd_isdir(struct sc_cmd *st, const char *path, char *canon, size_t size)
{
	struct sc_cmd_file	*f;
	char			 p[SC_CMD_PATH];
	size_t			 i;

	if (strcmp(path, "C:\\") == 0) {
		sc_cmd_copy(canon, size, path, strlen(path));
		return 1;
	}
	for (i = 0; i < SC_CMD_NDIRS; i++) {
		sc_cmd_sys_path(st, sc_cmd_dirs[i], p, sizeof(p));
		if (strcasecmp(p, path) == 0) {
			sc_cmd_copy(canon, size, p, strlen(p));
			return 1;
		}
	}
	if ((f = sc_cmd_file(st, path)) != NULL && f->dir) {
		sc_cmd_copy(canon, size, f->path, strlen(f->path));
		return 1;
	}
	return 0;
}

/* The size of a file of the host's own, or -1. */
static long long
sc_cmd_sysfile(const struct sc_cmd *st, const char *path)
{
	char	p[SC_CMD_PATH];
	size_t	i;

	for (i = 0; i < SC_CMD_NSYS; i++) {
		sc_cmd_sys_path(st, sc_cmd_sysfiles[i].path, p, sizeof(p));
		if (strcasecmp(p, path) == 0)
			return (long long)sc_cmd_sysfiles[i].size;
	}
	return -1;
}

/*
 * Writes (or appends) len bytes to the file at the full path.  Returns
 * NULL, or the message cmd.exe gives.
 */
const char *
sc_cmd_fs_write(struct sc_cmd *st, const char *path, const char *data,
    size_t len, int append)
{
	struct sc_cmd_file	*f;
	char			 parent[SC_CMD_PATH], canon[SC_CMD_PATH];
	char			*nd;
	size_t			 old;

	if ((f = sc_cmd_file(st, path)) != NULL && f->dir)
		return SC_CMD_E_DENIED;
	if (f == NULL && (sc_cmd_isdir(st, path, canon, sizeof(canon)) ||
	    sc_cmd_sysfile(st, path) >= 0))
		return SC_CMD_E_DENIED;
	sc_cmd_parent(path, parent, sizeof(parent));
	if (f == NULL && !sc_cmd_isdir(st, parent, canon, sizeof(canon)))
		return SC_CMD_E_NO_PATH;
	old = f != NULL && append ? f->len : 0;
	if (st->fsused - (f != NULL ? f->len : 0) + old + len +
	    (f == NULL ? strlen(path) : 0) > SC_CMD_FS_MAX ||
	    (f == NULL && st->nfiles == SC_CMD_FILES))
		return SC_CMD_E_NO_SPACE;
	if (f == NULL) {
		f = &st->files[st->nfiles];
		memset(f, 0, sizeof(*f));
		if ((f->path = strdup(path)) == NULL)
			return SC_CMD_E_NO_SPACE;
		st->nfiles++;
		st->fsused += strlen(path);
	}
	if ((nd = realloc(f->data, old + len + 1)) == NULL)
		return SC_CMD_E_NO_SPACE;
	memcpy(nd + old, data, len);
	st->fsused = st->fsused - f->len + old + len;
	f->data = nd;
	f->len = old + len;
	f->mtime = time(NULL);
	return NULL;
}

/* Removes the file (or empty directory) f. */
static void
sc_cmd_fs_remove(struct sc_cmd *st, struct sc_cmd_file *f)
{
	st->fsused -= strlen(f->path) + f->len;
	free(f->path);
	free(f->data);
	*f = st->files[--st->nfiles];
}

int
sc_cmd_file_put(struct sc_cmd *st, const char *path, const char *data,
    size_t len)
{
	char	full[SC_CMD_PATH];

	if (sc_cmd_resolve(st, path, full, sizeof(full)) == -1)
		return -1;
	return sc_cmd_fs_write(st, full, data, len, 0) == NULL ? 0 : -1;
}

int
sc_cmd_type(struct sc_cmd *st, const char *args)
{
	char			 argv[SC_CMD_ARGS][SC_CMD_ARG], full[SC_CMD_PATH];
	char			 canon[SC_CMD_PATH];
	struct sc_cmd_file	*f;
	int			 argc, i, rc = 0;

	if ((argc = sc_cmd_argv(args, argv)) == 0) {
		sc_cmd_puts(st, 2, SC_CMD_E_SYNTAX);
		return 1;
	}
	for (i = 0; i < argc; i++) {
		if (sc_cmd_resolve(st, argv[i], full, sizeof(full)) == -1) {
			sc_cmd_puts(st, 2, SC_CMD_E_NO_PATH);
			rc = 1;
		} else if ((f = sc_cmd_file(st, full)) != NULL && !f->dir)
			sc_cmd_out(st, 1, f->data, f->len);
		else if (f != NULL || sc_cmd_isdir(st, full, canon,
		    sizeof(canon))) {
			sc_cmd_puts(st, 2, SC_CMD_E_DENIED);
			rc = 1;
		} else if (sc_cmd_sysfile(st, full) < 0) {
			sc_cmd_puts(st, 2, SC_CMD_E_NOT_FOUND);
			rc = 1;
		}
	}
	return rc;
}

/* 1234567 as "1,234,567". */
static void
sc_cmd_thousands(char *out, size_t size, unsigned long long v)
{
	char	tmp[32];
	size_t	n, i, o = 0;

	n = (size_t)snprintf(tmp, sizeof(tmp), "%llu", v);
	for (i = 0; i < n && o + 2 < size; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = tmp[i];
	}
	out[o] = '\0';
}

/* An entry of a dir listing. */
struct sc_cmd_dirent {
	char		name[SC_CMD_PATH];
	long long	size;		/* -1: a directory */
	time_t		mtime;
};

static int
sc_cmd_dirent_cmp(const void *a, const void *b)
{
	const struct sc_cmd_dirent	*x = a, *y = b;

	return strcasecmp(x->name, y->name);
}

/* The host's files and directories were written with Service Pack 2. */
#define SC_CMD_SYSTIME	1091595600	/* 2004-08-04 05:00 UTC */

static void
sc_cmd_dir_line(struct sc_cmd *st, const struct sc_cmd_dirent *d)
{
	struct tm	tm;
	char		when[64], size[32];
	int		h;

	gmtime_r(&d->mtime, &tm);
	h = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
	snprintf(when, sizeof(when), "%02d/%02d/%04d  %02d:%02d %s",
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_year + 1900, h, tm.tm_min,
	    tm.tm_hour < 12 ? "AM" : "PM");
	if (d->size < 0)
		sc_cmd_printf(st, 1, "%s    <DIR>          %s\r\n", when,
		    d->name);
	else {
		sc_cmd_thousands(size, sizeof(size),
		    (unsigned long long)d->size);
		sc_cmd_printf(st, 1, "%s %17s %s\r\n", when, size, d->name);
	}
}

/* Adds to ents the entries whose parent is dir. */
static size_t
sc_cmd_dir_collect(struct sc_cmd *st, const char *dir,
    struct sc_cmd_dirent *ents, size_t max)
{
	char	p[SC_CMD_PATH], parent[SC_CMD_PATH];
	size_t	i, n = 0;

	for (i = 0; i < SC_CMD_NDIRS + SC_CMD_NSYS + st->nfiles && n < max;
	    i++) {
		if (i < SC_CMD_NDIRS) {
			sc_cmd_sys_path(st, sc_cmd_dirs[i], p, sizeof(p));
			ents[n].size = -1;
			ents[n].mtime = SC_CMD_SYSTIME;
		} else if (i < SC_CMD_NDIRS + SC_CMD_NSYS) {
			sc_cmd_sys_path(st, sc_cmd_sysfiles[i -
			    SC_CMD_NDIRS].path, p, sizeof(p));
			ents[n].size = (long long)sc_cmd_sysfiles[i -
			    SC_CMD_NDIRS].size;
			ents[n].mtime = SC_CMD_SYSTIME;
		} else {
			const struct sc_cmd_file *f = &st->files[i -
			    SC_CMD_NDIRS - SC_CMD_NSYS];

			sc_cmd_set(p, sizeof(p), f->path);
			ents[n].size = f->dir ? -1 : (long long)f->len;
			ents[n].mtime = f->mtime;
		}
		sc_cmd_parent(p, parent, sizeof(parent));
		if (strcasecmp(parent, dir) != 0 || strcasecmp(p, dir) == 0)
			continue;
		snprintf(ents[n].name, sizeof(ents[n].name), "%s",
		    sc_cmd_base(p));
		n++;
	}
	return n;
}

/*
 * The volume's serial number, made from the host name: the same host
 * always shows the same one.
 */
static unsigned long
sc_cmd_serial(const struct sc_cmd *st)
{
	unsigned long	h = 2166136261u;
	const char	*p;

	for (p = st->name; *p != '\0'; p++)
		h = ((h ^ (unsigned char)*p) * 16777619u) & 0xffffffffu;
	return h;
}

/* dir [PATH]: the listing of a directory, or of one file. */
int
sc_cmd_dir(struct sc_cmd *st, const char *args)
{
	struct sc_cmd_dirent	 ents[SC_CMD_NDIRS + SC_CMD_NSYS +
				    SC_CMD_FILES + 2];
	char			 argv[SC_CMD_ARGS][SC_CMD_ARG];
	char			 full[SC_CMD_PATH], dir[SC_CMD_PATH];
	char			 tot[32], fr[32];
	const char		*arg = NULL;
	struct sc_cmd_file	*f;
	unsigned long long	 bytes = 0;
	long long		 sz;
	size_t			 n = 0, i, nf = 0, nd = 0;
	int			 argc, k;

	argc = sc_cmd_argv(args, argv);
	for (k = 0; k < argc; k++)
		if (argv[k][0] != '/')
			arg = argv[k];
	if (sc_cmd_resolve(st, arg != NULL ? arg : ".", full,
	    sizeof(full)) == -1) {
		sc_cmd_puts(st, 2, SC_CMD_E_NO_PATH);
		return 1;
	}
	sc_cmd_printf(st, 1, " Volume in drive C has no label.\r\n"
	    " Volume Serial Number is %04lX-%04lX\r\n\r\n",
	    sc_cmd_serial(st) >> 16, sc_cmd_serial(st) & 0xffff);
	if (sc_cmd_isdir(st, full, dir, sizeof(dir))) {
		if (strcmp(dir, "C:\\") != 0) {
			snprintf(ents[0].name, sizeof(ents[0].name), ".");
			snprintf(ents[1].name, sizeof(ents[1].name), "..");
			ents[0].size = ents[1].size = -1;
			ents[0].mtime = ents[1].mtime = SC_CMD_SYSTIME;
			n = 2;
		}
		i = sc_cmd_dir_collect(st, dir, ents + n,
		    sizeof(ents) / sizeof(ents[0]) - n);
		qsort(ents + n, i, sizeof(ents[0]), sc_cmd_dirent_cmp);
		n += i;
	} else {
		sc_cmd_parent(full, dir, sizeof(dir));
		if ((f = sc_cmd_file(st, full)) != NULL) {
			snprintf(ents[0].name, sizeof(ents[0].name), "%s",
			    sc_cmd_base(f->path));
			ents[0].size = (long long)f->len;
			ents[0].mtime = f->mtime;
			n = 1;
		} else if ((sz = sc_cmd_sysfile(st, full)) >= 0) {
			snprintf(ents[0].name, sizeof(ents[0].name), "%s",
			    sc_cmd_base(full));
			ents[0].size = sz;
			ents[0].mtime = SC_CMD_SYSTIME;
			n = 1;
		}
	}
	if (n == 0) {
		sc_cmd_printf(st, 1, " Directory of %s\r\n\r\n", dir);
		sc_cmd_puts(st, 2, "File Not Found\r\n");
		return 1;
	}
	sc_cmd_printf(st, 1, " Directory of %s\r\n\r\n", dir);
	for (i = 0; i < n; i++) {
		sc_cmd_dir_line(st, &ents[i]);
		if (ents[i].size < 0)
			nd++;
		else {
			nf++;
			bytes += (unsigned long long)ents[i].size;
		}
	}
	sc_cmd_thousands(tot, sizeof(tot), bytes);
	sc_cmd_thousands(fr, sizeof(fr), 12386504704ULL - st->fsused);
	sc_cmd_printf(st, 1, "%16zu File(s) %14s bytes\r\n", nf, tot);
	sc_cmd_printf(st, 1, "%16zu Dir(s) %15s bytes free\r\n", nd, fr);
	return 0;
}

/* cd, chdir [/d] [PATH]: blanks may be part of the path. */
int
sc_cmd_cd(struct sc_cmd *st, const char *args)
{
	char	path[SC_CMD_PATH], full[SC_CMD_PATH], canon[SC_CMD_PATH];

	args = sc_cmd_skip_blanks(args);
	if (strncasecmp(args, "/d", 2) == 0 &&
	    (args[2] == '\0' || sc_cmd_blank(args[2])))
		args += 2;
	sc_cmd_trim(path, sizeof(path), args);
	if (path[0] == '\0') {
		sc_cmd_printf(st, 1, "%s\r\n", st->cwd);
		return 0;
	}
	if (isalpha((unsigned char)path[0]) && path[1] == ':' &&
	    path[2] == '\0') {
		if (toupper((unsigned char)path[0]) != 'C') {
			sc_cmd_puts(st, 2, "The system cannot find the drive "
			    "specified.\r\n");
			return 1;
		}
		sc_cmd_printf(st, 1, "%s\r\n", st->cwd);
		return 0;
	}
	if (sc_cmd_resolve(st, path, full, sizeof(full)) == -1 ||
	    !sc_cmd_isdir(st, full, canon, sizeof(canon))) {
		sc_cmd_puts(st, 2, SC_CMD_E_NO_PATH);
		return 1;
	}
	sc_cmd_set(st->cwd, sizeof(st->cwd), canon);
	return 0;
}

/* del, erase [/F /Q /S /A] NAMES */
int
sc_cmd_del(struct sc_cmd *st, const char *args)
{
	char			 argv[SC_CMD_ARGS][SC_CMD_ARG], full[SC_CMD_PATH];
	char			 canon[SC_CMD_PATH];
	struct sc_cmd_file	*f;
	int			 argc, i, any = 0, rc = 0;

	argc = sc_cmd_argv(args, argv);
	for (i = 0; i < argc; i++) {
		if (argv[i][0] == '/')
			continue;
		any = 1;
		if (sc_cmd_resolve(st, argv[i], full, sizeof(full)) == -1) {
			sc_cmd_puts(st, 2, SC_CMD_E_NO_PATH);
			rc = 1;
		} else if ((f = sc_cmd_file(st, full)) != NULL && !f->dir)
			sc_cmd_fs_remove(st, f);
		else if (f != NULL || sc_cmd_sysfile(st, full) >= 0 ||
		    sc_cmd_isdir(st, full, canon, sizeof(canon))) {
			sc_cmd_puts(st, 2, SC_CMD_E_DENIED);
			rc = 1;
		} else {
			sc_cmd_printf(st, 2, "Could Not Find %s\r\n", full);
			rc = 1;
		}
	}
	if (!any) {
		sc_cmd_puts(st, 2, SC_CMD_E_SYNTAX);
		return 1;
	}
	return rc;
}

/* md, mkdir PATH */
int
sc_cmd_md(struct sc_cmd *st, const char *args)
{
	char			 path[SC_CMD_PATH], full[SC_CMD_PATH];
	char			 canon[SC_CMD_PATH];
	struct sc_cmd_file	*f;

	sc_cmd_trim(path, sizeof(path), args);
	if (path[0] == '\0') {
		sc_cmd_puts(st, 2, SC_CMD_E_SYNTAX);
		return 1;
	}
	if (sc_cmd_resolve(st, path, full, sizeof(full)) == -1) {
		sc_cmd_puts(st, 2, SC_CMD_E_NO_PATH);
		return 1;
	}
	if (sc_cmd_file(st, full) != NULL || sc_cmd_sysfile(st, full) >= 0 ||
	    sc_cmd_isdir(st, full, canon, sizeof(canon))) {
		sc_cmd_printf(st, 2, "A subdirectory or file %s already "
		    "exists.\r\n", path);
		return 1;
	}
	if (sc_cmd_fs_write(st, full, "", 0, 0) != NULL) {
		sc_cmd_puts(st, 2, SC_CMD_E_NO_PATH);
		return 1;
	}
	if ((f = sc_cmd_file(st, full)) != NULL)
		f->dir = 1;
	return 0;
}
