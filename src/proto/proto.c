#include <string.h>

#include "dcerpc.h"
#include "proto.h"
#include "smb.h"

/*
 * The ports of a stock Nepenthes install (DESIGN.md section 2).  The last
 * column names the emulator; NULL means the generic service records what
 * arrives until the port has one of its own.
 */
const struct service_def proto_table[] = {
	{ "ftp",	 SERVICE_TCP, { 21 },			NULL },
	{ "smtp",	 SERVICE_TCP, { 25, 220, 465 },		NULL },
	{ "wins",	 SERVICE_TCP, { 42 },			NULL },
	{ "http",	 SERVICE_TCP, { 80 },			NULL },
	{ "pop3",	 SERVICE_TCP, { 110, 995 },		NULL },
	{ "dcerpc",	 SERVICE_TCP, { 135, 1025 },		&service_dcerpc },
	{ "netbios-ssn", SERVICE_TCP, { 139 },			&service_netbios },
	{ "imap",	 SERVICE_TCP, { 143, 993 },		NULL },
	{ "https",	 SERVICE_TCP, { 443 },			NULL },
	{ "smb",	 SERVICE_TCP, { 445 },			&service_smb },
	{ "sasser-ftpd", SERVICE_TCP, { 1023, 5554 },		NULL },
	{ "msmq",	 SERVICE_TCP, { 2103, 2105, 2107 },	&service_dcerpc },
	{ "bagle",	 SERVICE_TCP, { 2745 },			NULL },
	{ "mydoom",	 SERVICE_TCP, { 3127 },			NULL },
	{ "optix",	 SERVICE_TCP, { 3140 },			NULL },
	{ "msdtc",	 SERVICE_TCP, { 3372 },			&service_dcerpc },
	{ "upnp",	 SERVICE_TCP, { 5000 },			NULL },
	{ "dameware",	 SERVICE_TCP, { 6129 },			NULL },
	{ "veritas",	 SERVICE_TCP, { 10000 },		NULL },
	{ "kuang2",	 SERVICE_TCP, { 17300 },		NULL },
	{ "sub7",	 SERVICE_TCP, { 27347 },		NULL },
	{ "mssql",	 SERVICE_UDP, { 1434 },			NULL },
	{ "tftp",	 SERVICE_UDP, { 69 },			NULL },
};
const size_t proto_table_len = sizeof(proto_table) / sizeof(proto_table[0]);

const struct service_def *
proto_find(const char *name)
{
	size_t	i;

	for (i = 0; i < proto_table_len; i++)
		if (strcmp(proto_table[i].name, name) == 0)
			return &proto_table[i];
	return NULL;
}

const struct service *
proto_emulator(const struct service_def *def)
{
	if (def->emulator != NULL)
		return def->emulator;
	return def->transport == SERVICE_UDP ?
	    &service_generic_udp : &service_generic_tcp;
}
