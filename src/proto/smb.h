/*
 * SMB on 445 (direct TCP) and 139 (NetBIOS session service, RFC 1002):
 * SMB1 and SMB2/3, named pipes carrying DCERPC, the worm exploits that
 * come through them and the DoublePulsar implant.
 */
#ifndef SUNDEW_SMB_H
#define SUNDEW_SMB_H

#include "proto.h"

extern const struct service	service_smb;		/* 445 */
extern const struct service	service_netbios;	/* 139 */

#endif
