/*
 * Little helpers that every part of the SMB emulator uses: little-endian
 * fields and the UTF-16LE of names.
 */
#include <string.h>

#include "smb_int.h"

size_t
smb_utf16_ascii(const uint8_t *p, size_t nbytes, char *dst, size_t cap)
{
	size_t	i, n = 0;
	unsigned c;

	if (cap == 0)
		return 0;
	for (i = 0; i + 1 < nbytes && n + 1 < cap; i += 2) {
		c = p[i] | (unsigned)p[i + 1] << 8;
		if (c == 0)
			break;
		dst[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[n] = '\0';
	return n;
}

size_t
smb_str_ascii(const uint8_t *p, size_t n, int unicode, char *dst, size_t cap)
{
	size_t	i;

	if (unicode)
		return smb_utf16_ascii(p, n, dst, cap);
	if (cap == 0)
		return 0;
	for (i = 0; i < n && i + 1 < cap && p[i] != 0; i++)
		dst[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	dst[i] = '\0';
	return i;
}

size_t
smb_ascii_utf16(const char *s, uint8_t *dst, size_t cap)
{
	size_t	i, n = strlen(s);

	if (n * 2 > cap)
		return 0;
	for (i = 0; i < n; i++) {
		dst[2 * i] = (uint8_t)s[i];
		dst[2 * i + 1] = 0;
	}
	return n * 2;
}

uint16_t
smb_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t
smb_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

uint64_t
smb_get64(const uint8_t *p)
{
	return (uint64_t)smb_get32(p) | (uint64_t)smb_get32(p + 4) << 32;
}

void
smb_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void
smb_put32(uint8_t *p, uint32_t v)
{
	smb_put16(p, (uint16_t)v);
	smb_put16(p + 2, (uint16_t)(v >> 16));
}

void
smb_put64(uint8_t *p, uint64_t v)
{
	smb_put32(p, (uint32_t)v);
	smb_put32(p + 4, (uint32_t)(v >> 32));
}
