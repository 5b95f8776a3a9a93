/*
 * Nepenthes' file transfers as small dialogues: receive_file mode
 * "connect" (connect out; link: the peer speaks first, the sensor answers
 * the key, the file follows until close; csend: the file until close, or
 * after a 4-byte little-endian length) and mode "bind" (listen on the
 * port for one peer: blink, the link dialogue; creceive and amberg's bind
 * file transfer, what arrives until close).  What arrives goes to the
 * store as a file with its origin.  transfer_dlg.h has the framing.
 */
#ifndef SUNDEW_TRANSFER_H
#define SUNDEW_TRANSFER_H

struct capture_origin;
struct config;
struct event_base;
struct sc_action;

void	transfer_init(const struct config *, struct event_base *);
void	transfer_stop(void);

/*
 * Starts a receive_file action (sc.h: mode, proto, key, length_prefix)
 * for the session of origin; its host is already the one to reach (the
 * dispatcher applied egress_host()).  Its events tell how it ends.
 */
void	transfer_start(const struct capture_origin *, const struct sc_action *);

#endif
