/*
 * SMB2 files (MS-SMB2 2.2.13 to 2.2.38): CREATE of named pipes on IPC$
 * and of files on the disk shares (smb.c keeps them), CLOSE, READ and
 * WRITE (a pipe's bytes are DCERPC for its endpoint), IOCTL (pipe
 * transceive, validate negotiate, DFS referrals), the minimal QUERY_INFO
 * and QUERY_DIRECTORY a client lists shares with, and a WRITE larger
 * than SMB_FRAME_MAX taken in pieces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "dcerpc.h"
#include "event.h"
#include "host.h"
#include "smb2_int.h"
#include "smb_int.h"

#define FSCTL_DFS_GET_REFERRALS		0x00060194
#define FSCTL_DFS_GET_REFERRALS_EX	0x000601b0
#define FSCTL_PIPE_WAIT			0x00110018
#define FSCTL_PIPE_TRANSCEIVE		0x0011c017
#define FSCTL_VALIDATE_NEGOTIATE_INFO	0x00140204

#define SMB2_INFO_FILE		1
#define SMB2_INFO_FILESYSTEM	2
#define SMB2_INFO_LENGTH_MISMATCH	0xc0000004

/* smb2_state's dirs and listed have a bit per slot of sc->files. */
_Static_assert(SMB_MAX_FILES <= 16, "a uint16_t mask per file slot");

#define FILE_ATTRIBUTE_DIRECTORY	0x00000010
#define FILE_ATTRIBUTE_ARCHIVE		0x00000020
#define FILE_ATTRIBUTE_NORMAL		0x00000080

/*
 * The file of a FileId (2.2.14.1): both halves are the fid; all ones in a
 * related operation is the compound's last CREATE (NULL if it failed).
 * An unknown id is the last file opened, as smb_file_find() is lenient.
 */
static struct smb_file *
smb2_file(struct smb2_out *o, const uint8_t *id)
{
	uint64_t per = smb_get64(id), vol = smb_get64(id + 8);

	if (per == UINT64_MAX && vol == UINT64_MAX) {
		if (o->have_fid)
			return smb_file_find(o->sc, o->fid);
		if (o->create_status != SMB_OK)
			return NULL;
	}
	return smb_file_find(o->sc, (uint16_t)per);
}

/*
 * The status for a request whose file is not there: in a compound after
 * a CREATE that failed, that CREATE's (3.3.5.2.7.2, as Windows answers).
 */
static uint32_t
smb2_no_file(const struct smb2_out *o)
{
	return o->create_status != SMB_OK ? o->create_status :
	    SMB2_FILE_CLOSED;
}

static void
smb2_put_fid(uint8_t *p, const struct smb_file *f)
{
	smb_put64(p, f->fid);
	smb_put64(p + 8, f->fid);
}

/* The CREATE response (2.2.14) for f, opened with disposition disp. */
static int
smb2_create_answer(struct smb2_out *o, const struct smb2_req *r,
    const struct smb_file *f, uint32_t disp, int dir)
{
	uint64_t now = host_filetime(event_now_usec());
	uint8_t	*b;

	if ((b = smb2_body(o, 88)) == NULL)
		return -1;
	smb_put16(b, 89);
	if (f->dce != NULL) {
		smb_put32(b + 4, 1);			/* FILE_OPENED */
		smb_put64(b + 40, 4096);
		smb_put32(b + 56, FILE_ATTRIBUTE_NORMAL);
	} else {
		/* FILE_OPEN (1) of a file that is not there creates it here. */
		smb_put32(b + 4, disp == 1 || disp == 3 || dir ? 1 : 2);
		smb_put64(b + 8, now);
		smb_put64(b + 16, now);
		smb_put64(b + 24, now);
		smb_put64(b + 32, now);
		smb_put64(b + 48, f->len);
		smb_put32(b + 56, dir ? FILE_ATTRIBUTE_DIRECTORY :
		    FILE_ATTRIBUTE_ARCHIVE);
	}
	smb2_put_fid(b + 64, f);
	smb2_done(o, r, SMB_OK, 88);
	return 0;
}

/* CREATE (2.2.13): create contexts are ignored. */
int
smb2_create(struct smb2_out *o, const struct smb2_req *r)
{
	struct smb_file	*f;
	const uint8_t	*name, *ctx;
	char		 ascii[256];
	size_t		 nlen, n;
	uint32_t	 status = SMB_OK;
	uint16_t	 bit;

	if (r->bodylen < 56)
		return -1;
	nlen = smb_get16(r->body + 46);
	if (smb2_buf(r, smb_get16(r->body + 44), nlen, &name) == -1 ||
	    smb2_buf(r, smb_get32(r->body + 48), smb_get32(r->body + 52),
	    &ctx) == -1)
		return -1;
	o->have_fid = 0;
	f = smb_file_open(o->sc, (uint16_t)r->tid, name, nlen, 1, &status);
	/* The name as SMB1 says it: as opened, else as the client gave it. */
	if (f != NULL)
		smb_request_event(o->sc, "create", "name",
		    (const uint8_t *)f->name, strlen(f->name));
	else {
		n = smb_utf16_ascii(name, nlen, ascii, sizeof(ascii));
		smb_request_event(o->sc, "create", "name",
		    (const uint8_t *)ascii, n);
		o->create_status = status != SMB_OK ? status :
		    SMB_OBJECT_NAME_NOT_FOUND;
		return smb2_error(o, r, o->create_status);
	}
	o->create_status = SMB_OK;
	o->fid = f->fid;
	o->have_fid = 1;
	/* The share's root or FILE_DIRECTORY_FILE: a directory. */
	bit = (uint16_t)(1u << (f - o->sc->files));
	o->s->listed &= (uint16_t)~bit;
	if (f->dce == NULL && (nlen == 0 || (smb_get32(r->body + 40) & 1)))
		o->s->dirs |= bit;
	else
		o->s->dirs &= (uint16_t)~bit;
	return smb2_create_answer(o, r, f, smb_get32(r->body + 36),
	    (o->s->dirs & bit) != 0);
}

/* CLOSE (2.2.15, 2.2.16). */
int
smb2_close(struct smb2_out *o, const struct smb2_req *r)
{
	struct smb_file	*f;
	uint16_t	 flags;
	uint8_t		*b;

	if (r->bodylen < 24)
		return -1;
	flags = smb_get16(r->body + 2);
	if ((f = smb2_file(o, r->body + 8)) == NULL)
		return smb2_error(o, r, smb2_no_file(o));
	if ((b = smb2_body(o, 60)) == NULL)
		return -1;
	smb_put16(b, 60);
	if (flags & 1) {		/* SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB */
		smb_put16(b + 2, 1);
		smb_put64(b + 48, f->len);
		smb_put32(b + 56, f->dce != NULL ? FILE_ATTRIBUTE_NORMAL :
		    FILE_ATTRIBUTE_ARCHIVE);
	}
	smb_file_close(o->sc, f);
	smb2_done(o, r, SMB_OK, 60);
	return 0;
}

/*
 * Up to cap bytes a pipe's endpoint answered into p: *status is
 * STATUS_BUFFER_OVERFLOW when the message goes on, STATUS_PIPE_EMPTY when
 * there was none (a non-blocking read, where Windows would wait).
 */
static size_t
smb2_pipe_read(struct smb2_out *o, struct smb_file *f, uint8_t *p,
    size_t cap, uint32_t *status)
{
	size_t	n = cap > 0 ? smb_file_read(o->sc, f, p, cap) : 0;

	*status = SMB_OK;
	if (n == 0)
		*status = SMB_PIPE_EMPTY;
	else if (n == cap && dce_pending(f->dce) > 0)
		*status = SMB_BUFFER_OVERFLOW;
	return n;
}

/* READ (2.2.19, 2.2.20): a pipe's answer, or what a file holds. */
int
smb2_read(struct smb2_out *o, const struct smb2_req *r)
{
	struct smb_file	*f;
	size_t		 want, n;
	uint64_t	 off;
	uint32_t	 status = SMB_OK;
	uint8_t		*b;

	if (r->bodylen < 48)
		return -1;
	want = smb_get32(r->body + 4);
	off = smb_get64(r->body + 8);
	if ((f = smb2_file(o, r->body + 16)) == NULL)
		return smb2_error(o, r, smb2_no_file(o));
	if (want > SMB2_DATA_MAX)
		want = SMB2_DATA_MAX;
	if ((b = smb2_body(o, 16 + want)) == NULL)
		return -1;
	if (f->dce != NULL) {
		n = smb2_pipe_read(o, f, b + 16, want, &status);
		if (n == 0)
			return smb2_error(o, r, status);
	} else {
		if (off >= f->len && want > 0)
			return smb2_error(o, r, SMB_END_OF_FILE);
		n = smb_file_pread(f, b + 16, want, off);
	}
	smb_put16(b, 17);
	b[2] = SMB2_HDR + 16;
	smb_put32(b + 4, (uint32_t)n);
	smb2_done(o, r, status, 16 + n);
	return 0;
}

/* The WRITE response (2.2.22). */
static int
smb2_write_answer(struct smb2_out *o, const struct smb2_req *r,
    uint32_t count)
{
	uint8_t	*b;

	if ((b = smb2_body(o, 16)) == NULL)
		return -1;
	smb_put16(b, 17);
	smb_put32(b + 4, count);
	smb2_done(o, r, SMB_OK, 16);
	return 0;
}

/* WRITE (2.2.21): to the pipe's endpoint or into the file. */
int
smb2_write(struct smb2_out *o, const struct smb2_req *r)
{
	struct smb_file	*f;
	const uint8_t	*data;
	size_t		 off, len;

	if (r->bodylen < 48)
		return -1;
	off = smb_get16(r->body + 2);
	len = smb_get32(r->body + 4);
	if (smb2_buf(r, off, len, &data) == -1)
		return -1;
	if ((f = smb2_file(o, r->body + 16)) == NULL)
		return smb2_error(o, r, smb2_no_file(o));
	/* A pipe's bytes are a message; a file's go where the client says. */
	if (f->dce != NULL) {
		if (len > 0 && smb_file_write(o->sc, f, data, len,
		    r->at + off) == -1)
			return -1;
	} else if (smb_file_pwrite(o->sc, f, data, len,
	    smb_get64(r->body + 8)) == -1)
		return -1;
	return smb2_write_answer(o, r, (uint32_t)len);
}

/*
 * The IOCTL response (2.2.32) around out bytes already written at
 * b + 48: no input echoed.
 */
static void
smb2_ioctl_done(struct smb2_out *o, const struct smb2_req *r, uint8_t *b,
    uint32_t status, size_t out)
{
	smb_put16(b, 49);
	smb_put32(b + 4, smb_get32(r->body + 4));
	memcpy(b + 8, r->body + 8, 16);
	smb_put32(b + 24, SMB2_HDR + 48);
	smb_put32(b + 32, SMB2_HDR + 48);
	smb_put32(b + 36, (uint32_t)out);
	smb2_done(o, r, status, 48 + out);
}

/* FSCTL_PIPE_TRANSCEIVE: the request to the endpoint, its answer back. */
static int
smb2_transceive(struct smb2_out *o, const struct smb2_req *r,
    const uint8_t *in, size_t inlen, size_t inoff, size_t maxout)
{
	struct smb_file	*f;
	uint32_t	 status;
	size_t		 n;
	uint8_t		*b;

	if ((f = smb2_file(o, r->body + 8)) == NULL)
		return smb2_error(o, r, smb2_no_file(o));
	if (f->dce == NULL)
		return smb2_error(o, r, SMB2_INVALID_DEVICE_REQUEST);
	if (inlen > 0 && smb_file_write(o->sc, f, in, inlen, r->at + inoff) ==
	    -1)
		return -1;
	if (maxout > SMB2_DATA_MAX)
		maxout = SMB2_DATA_MAX;
	if ((b = smb2_body(o, 48 + maxout)) == NULL)
		return -1;
	if ((n = smb2_pipe_read(o, f, b + 48, maxout, &status)) == 0)
		return smb2_error(o, r, status);
	smb2_ioctl_done(o, r, b, status, n);
	return 0;
}

/*
 * FSCTL_VALIDATE_NEGOTIATE_INFO (3.3.5.15.12): what the negotiate said.
 * A 3.1.1 connection, or a response that would not fit, is dropped.
 */
static int
smb2_validate(struct smb2_out *o, const struct smb2_req *r, size_t maxout)
{
	uint16_t d = (uint16_t)o->sc->dialect;
	uint8_t	*b;

	if (host_get()->smb2_max < SMB2_DIALECT_300)
		return smb2_error(o, r, SMB2_INVALID_DEVICE_REQUEST);
	if (d == SMB2_DIALECT_311 || maxout < 24) {
		conn_close(o->sc->c, "validate_negotiate");
		return 0;
	}
	if ((b = smb2_body(o, 48 + 24)) == NULL)
		return -1;
	smb_put32(b + 48, smb2_caps(d, o->s->client_caps));
	memcpy(b + 52, host_get()->guid, 16);
	smb_put16(b + 68, 0x0001);	/* signing enabled */
	smb_put16(b + 70, d);
	smb2_ioctl_done(o, r, b, SMB_OK, 24);
	return 0;
}

/* IOCTL (2.2.31): the FSCTLs a client of pipes and shares sends. */
int
smb2_ioctl(struct smb2_out *o, const struct smb2_req *r)
{
	const uint8_t	*in, *out;
	uint32_t	 ctl;
	size_t		 inoff, inlen, maxout;
	char		 hex[16];
	uint8_t		*b;

	if (r->bodylen < 56)
		return -1;
	ctl = smb_get32(r->body + 4);
	inoff = smb_get32(r->body + 24);
	inlen = smb_get32(r->body + 28);
	maxout = smb_get32(r->body + 44);
	if (smb2_buf(r, inoff, inlen, &in) == -1 ||
	    smb2_buf(r, smb_get32(r->body + 36), smb_get32(r->body + 40),
	    &out) == -1)
		return -1;
	snprintf(hex, sizeof(hex), "0x%08x", ctl);
	smb_request_event(o->sc, "ioctl", "fsctl", (const uint8_t *)hex,
	    strlen(hex));
	switch (ctl) {
	case FSCTL_PIPE_TRANSCEIVE:
		return smb2_transceive(o, r, in, inlen, inoff, maxout);
	case FSCTL_VALIDATE_NEGOTIATE_INFO:
		return smb2_validate(o, r, maxout);
	case FSCTL_DFS_GET_REFERRALS:
	case FSCTL_DFS_GET_REFERRALS_EX:
		return smb2_error(o, r, SMB2_NOT_FOUND);
	case FSCTL_PIPE_WAIT:
		if ((b = smb2_body(o, 48)) == NULL)
			return -1;
		smb2_ioctl_done(o, r, b, SMB_OK, 0);
		return 0;
	}
	return smb2_error(o, r, SMB2_INVALID_DEVICE_REQUEST);
}

/* A file information class (MS-FSCC 2.4) into b; its size, 0: unknown. */
static size_t
smb2_file_info(const struct smb_file *f, int dir, uint8_t cls, uint8_t *b)
{
	uint64_t now = host_filetime(event_now_usec());
	uint32_t attr = f->dce != NULL ? FILE_ATTRIBUTE_NORMAL : dir ?
	    FILE_ATTRIBUTE_DIRECTORY : FILE_ATTRIBUTE_ARCHIVE;

	switch (cls) {
	case 4:		/* FileBasicInformation */
		smb_put64(b, now);
		smb_put64(b + 8, now);
		smb_put64(b + 16, now);
		smb_put64(b + 24, now);
		smb_put32(b + 32, attr);
		return 40;
	case 5:		/* FileStandardInformation */
		smb_put64(b, f->dce != NULL ? 4096 : (f->len + 4095) & ~4095ull);
		smb_put64(b + 8, f->len);
		smb_put32(b + 16, 1);
		b[20] = f->dce != NULL;		/* a pipe: delete pending */
		b[21] = (uint8_t)dir;
		return 24;
	case 6:		/* FileInternalInformation */
		smb_put64(b, f->fid);
		return 8;
	case 34:	/* FileNetworkOpenInformation */
		smb_put64(b, now);
		smb_put64(b + 8, now);
		smb_put64(b + 16, now);
		smb_put64(b + 24, now);
		smb_put64(b + 32, (f->len + 4095) & ~4095ull);
		smb_put64(b + 40, f->len);
		smb_put32(b + 48, attr);
		return 56;
	}
	return 0;
}

/* A file system information class (MS-FSCC 2.5) into b; its size. */
static size_t
smb2_fs_info(uint8_t cls, uint8_t *b)
{
	const struct host *h = host_get();
	/* A 40 GB system disk, half used: believable, and always the same. */
	const uint64_t total = 10485760, avail = 5242880;

	switch (cls) {
	case 1:		/* FileFsVolumeInformation: no label */
		smb_put64(b, host_filetime(h->boot_us));
		memcpy(b + 8, h->guid, 4);	/* serial number */
		return 18;
	case 3:		/* FileFsSizeInformation */
		smb_put64(b, total);
		smb_put64(b + 8, avail);
		smb_put32(b + 16, 8);
		smb_put32(b + 20, 512);
		return 24;
	case 4:		/* FileFsDeviceInformation: a disk */
		smb_put32(b, 7);
		smb_put32(b + 4, 0x20);		/* FILE_DEVICE_IS_MOUNTED */
		return 8;
	case 5:		/* FileFsAttributeInformation: NTFS */
		smb_put32(b, 0x000700ff);
		smb_put32(b + 4, 255);
		smb_put32(b + 8, 8);
		memcpy(b + 12, "N\0T\0F\0S\0", 8);
		return 20;
	case 7:		/* FileFsFullSizeInformation */
		smb_put64(b, total);
		smb_put64(b + 8, avail);
		smb_put64(b + 16, avail);
		smb_put32(b + 24, 8);
		smb_put32(b + 28, 512);
		return 32;
	}
	return 0;
}

/* QUERY_INFO (2.2.37, 2.2.38): the basic classes; others are refused. */
int
smb2_query_info(struct smb2_out *o, const struct smb2_req *r)
{
	struct smb_file	*f;
	uint8_t		 type, cls, *b;
	size_t		 n = 0;

	if (r->bodylen < 40)
		return -1;
	type = r->body[2];
	cls = r->body[3];
	if ((f = smb2_file(o, r->body + 24)) == NULL)
		return smb2_error(o, r, smb2_no_file(o));
	if (type != SMB2_INFO_FILE && type != SMB2_INFO_FILESYSTEM)
		return smb2_error(o, r, SMB_ACCESS_DENIED);
	if ((b = smb2_body(o, 8 + 64)) == NULL)
		return -1;
	n = type == SMB2_INFO_FILE ? smb2_file_info(f, (o->s->dirs >>
	    (f - o->sc->files)) & 1, cls, b + 8) : smb2_fs_info(cls, b + 8);
	if (n == 0)
		return smb2_error(o, r, SMB2_INVALID_INFO_CLASS);
	if (n > smb_get32(r->body + 4))
		return smb2_error(o, r, SMB2_INFO_LENGTH_MISMATCH);
	smb_put16(b, 9);
	smb_put16(b + 2, SMB2_HDR + 8);
	smb_put32(b + 4, (uint32_t)n);
	smb2_done(o, r, SMB_OK, 8 + n);
	return 0;
}

/* Where a directory entry's name starts, per class (MS-FSCC 2.4); 0: none. */
static size_t
smb2_dirent_head(uint8_t cls)
{
	switch (cls) {
	case 1:		return 64;	/* FileDirectoryInformation */
	case 2:		return 68;	/* FileFullDirectoryInformation */
	case 3:		return 94;	/* FileBothDirectoryInformation */
	case 12:	return 12;	/* FileNamesInformation */
	case 37:	return 104;	/* FileIdBothDirectoryInformation */
	case 38:	return 80;	/* FileIdFullDirectoryInformation */
	}
	return 0;
}

/* One entry, a directory named name, at b; its length (8-aligned if more). */
static size_t
smb2_dirent(uint8_t cls, uint8_t *b, const char *name, int last)
{
	size_t	 head = smb2_dirent_head(cls), n;
	uint64_t t = host_filetime(host_get()->boot_us);

	n = smb_ascii_utf16(name, b + head, 8);
	if (cls == 12)
		smb_put32(b + 8, (uint32_t)n);
	else {
		smb_put64(b + 8, t);
		smb_put64(b + 16, t);
		smb_put64(b + 24, t);
		smb_put64(b + 32, t);
		smb_put32(b + 56, FILE_ATTRIBUTE_DIRECTORY);
		smb_put32(b + 60, (uint32_t)n);
	}
	n = head + n;
	if (!last) {
		n = (n + 7) & ~(size_t)7;
		smb_put32(b, (uint32_t)n);
	}
	return n;
}

/*
 * QUERY_DIRECTORY (2.2.33): what the client wrote to a share is taken
 * away as it is closed, so a directory holds "." and "..", then no more.
 */
int
smb2_query_directory(struct smb2_out *o, const struct smb2_req *r)
{
	struct smb_file	*f;
	uint8_t		 cls, *b;
	uint16_t	 bit;
	size_t		 n;

	if (r->bodylen < 32)
		return -1;
	cls = r->body[2];
	if ((f = smb2_file(o, r->body + 8)) == NULL)
		return smb2_error(o, r, smb2_no_file(o));
	if (smb2_dirent_head(cls) == 0)
		return smb2_error(o, r, SMB2_INVALID_INFO_CLASS);
	bit = (uint16_t)(1u << (f - o->sc->files));
	if (r->body[3] & 0x03)		/* RESTART_SCANS, RETURN_SINGLE_ENTRY */
		o->s->listed &= (uint16_t)~bit;
	if (f->dce != NULL || (o->s->listed & bit))
		return smb2_error(o, r, SMB_NO_MORE_FILES);
	if (smb_get32(r->body + 28) < 2 * 128)
		return smb2_error(o, r, SMB_BUFFER_OVERFLOW);
	if ((b = smb2_body(o, 8 + 2 * 128)) == NULL)
		return -1;
	o->s->listed |= bit;
	n = smb2_dirent(cls, b + 8, ".", 0);
	n += smb2_dirent(cls, b + 8 + n, "..", 1);
	smb_put16(b, 9);
	smb_put16(b + 2, SMB2_HDR + 8);
	smb_put32(b + 4, (uint32_t)n);
	smb2_done(o, r, SMB_OK, 8 + n);
	return 0;
}

int
smb2_large_begin(struct smb_conn *sc, const uint8_t *p, size_t framelen,
    size_t at)
{
	struct smb2_state *s;
	struct smb2_large *lg;
	struct smb_file	*f;
	size_t		 off, len;

	if ((s = smb2_state(sc)) == NULL)
		return -1;
	lg = &s->large;
	if (memcmp(p, "\xfeSMB", 4) != 0 || smb_get16(p + 4) != SMB2_HDR ||
	    smb_get16(p + 12) != SMB2_WRITE || smb_get32(p + 20) != 0 ||
	    smb_get16(p + SMB2_HDR) != 49)
		return -1;
	off = smb_get16(p + SMB2_HDR + 2);
	len = smb_get32(p + SMB2_HDR + 4);
	if (off < SMB2_LARGE_HEAD || off > framelen || len > framelen - off)
		return -1;
	memset(lg, 0, sizeof(*lg));
	lg->active = 1;
	memcpy(lg->hdr, p, SMB2_HDR);
	lg->skip = off - SMB2_LARGE_HEAD;
	lg->left = len;
	lg->count = (uint32_t)len;
	lg->off = smb_get64(p + SMB2_HDR + 8);
	f = smb_file_find(sc, (uint16_t)smb_get64(p + SMB2_HDR + 16));
	if (f == NULL)
		lg->status = SMB2_FILE_CLOSED;
	else if (f->dce != NULL)
		lg->status = SMB_INVALID_PARAMETER;	/* no such pipe message */
	else
		lg->file = f;
	(void)at;
	return 0;
}

int
smb2_large_data(struct smb_conn *sc, const uint8_t *p, size_t n, size_t at)
{
	struct smb2_large *lg;
	size_t		 k;

	(void)at;	/* a file's bytes are stored at close, not analysed */
	if (sc->s2 == NULL || !sc->s2->large.active)
		return -1;
	lg = &sc->s2->large;
	k = n < lg->skip ? n : lg->skip;
	lg->skip -= k;
	p += k;
	n -= k;
	k = n < lg->left ? n : lg->left;
	if (k > 0 && lg->file != NULL &&
	    smb_file_pwrite(sc, lg->file, p, k, lg->off) == -1)
		return -1;
	lg->left -= k;
	lg->off += k;
	return 0;
}

void
smb2_large_cut(struct smb_conn *sc)
{
	if (sc->s2 != NULL && sc->s2->large.active &&
	    sc->s2->large.file != NULL)
		sc->s2->large.file->cut = 1;
}

int
smb2_large_end(struct smb_conn *sc)
{
	struct smb2_large *lg;
	struct smb2_out	 o;
	struct smb2_req	 r;
	int		 rc;

	if (sc->s2 == NULL || !sc->s2->large.active)
		return -1;
	lg = &sc->s2->large;
	lg->active = 0;
	if (lg->left != 0 || lg->skip != 0)
		return -1;
	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	o.sc = sc;
	o.s = sc->s2;
	r.cmd = SMB2_WRITE;
	r.charge = smb_get16(lg->hdr + 6);
	r.credits = smb_get16(lg->hdr + 14);
	r.flags = smb_get32(lg->hdr + 16);
	r.mid = smb_get64(lg->hdr + 24);
	r.tid = smb_get32(lg->hdr + 36);
	r.sid = smb_get64(lg->hdr + 40);
	rc = lg->status != SMB_OK ? smb2_error(&o, &r, lg->status) :
	    smb2_write_answer(&o, &r, lg->count);
	if (rc == 0)
		rc = smb2_send(&o);
	free(o.buf);
	return rc;
}
