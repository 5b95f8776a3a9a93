/*
 * NDR (C706 chapter 14, little-endian, 32-bit NDR transfer syntax):
 * readers that never read past their buffer (an error sticks and every
 * later read gives 0) and writers with a fixed cap (likewise).
 */
#ifndef SUNDEW_NDR_H
#define SUNDEW_NDR_H

#include <stddef.h>
#include <stdint.h>

struct ndr_r {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	int		 err;		/* a read ran past len */
};

void		ndr_r_init(struct ndr_r *, const uint8_t *, size_t);
void		ndr_r_align(struct ndr_r *, size_t);	/* 2, 4, 8 */
uint8_t		ndr_r_u8(struct ndr_r *);
uint16_t	ndr_r_u16(struct ndr_r *);
uint32_t	ndr_r_u32(struct ndr_r *);
uint64_t	ndr_r_u64(struct ndr_r *);
/* A unique or full pointer's referent id (0: NULL). */
uint32_t	ndr_r_ptr(struct ndr_r *);
/* n raw bytes: a pointer into the buffer, NULL past its end. */
const uint8_t  *ndr_r_bytes(struct ndr_r *, size_t n);
/*
 * A conformant varying UTF-16 string (max count, offset, actual count,
 * then the characters, aligned after): *s points at the characters,
 * *nchars is the actual count.  The counts are checked against each
 * other and the buffer: a count beyond max or the buffer is an error.
 * Returns 0, -1 on error.
 */
int		ndr_r_wstr(struct ndr_r *, const uint8_t **s, uint32_t *nchars);
/* The same counts, but also max count: (*max, *nchars) for checks. */
int		ndr_r_wstr_max(struct ndr_r *, const uint8_t **s,
		    uint32_t *max, uint32_t *nchars);

struct ndr_w {
	uint8_t		*buf;
	size_t		 len;
	size_t		 cap;
	uint32_t	 ref;		/* the next referent id */
	int		 err;		/* a write did not fit */
};

void		ndr_w_init(struct ndr_w *, uint8_t *, size_t cap);
void		ndr_w_align(struct ndr_w *, size_t);
void		ndr_w_u8(struct ndr_w *, uint8_t);
void		ndr_w_u16(struct ndr_w *, uint16_t);
void		ndr_w_u32(struct ndr_w *, uint32_t);
void		ndr_w_u64(struct ndr_w *, uint64_t);
void		ndr_w_bytes(struct ndr_w *, const void *, size_t);
/* A new non-NULL referent id (0x00020000, 0x00020004, ...). */
void		ndr_w_ptr(struct ndr_w *);
/*
 * An ASCII string as a conformant varying UTF-16 string with its
 * terminating NUL (max = offset 0 = actual = strlen + 1).
 */
void		ndr_w_wstr(struct ndr_w *, const char *);
/* Writes a u32 at an earlier offset (a count known only later). */
void		ndr_w_put_u32(struct ndr_w *, size_t at, uint32_t);

#endif
