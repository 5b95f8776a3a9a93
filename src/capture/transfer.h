/*
 * Nepenthes' file transfers as small dialogues: receive_file mode
 * "connect" (connect out, send the key, read until close: link; csend
 * with its 4-byte length prefix) and mode "bind" (listen on the port and
 * take what arrives: blink, creceive, bind file transfer).  What arrives
 * goes to the store as a file with its origin.
 */
#ifndef SUNDEW_TRANSFER_H
#define SUNDEW_TRANSFER_H

struct capture_origin;
struct config;
struct event_base;
struct sc_action;

void	transfer_init(const struct config *, struct event_base *);
void	transfer_stop(void);

/* A receive_file action (sc.h). */
void	transfer_start(const struct capture_origin *, const struct sc_action *);

#endif
