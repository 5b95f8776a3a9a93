/*
 * `sundew replay PCAP --to ADDR`: plays the client side of a capture
 * against a sensor, in the original order, waiting where the original
 * client waited for an answer.
 */
#ifndef SUNDEW_REPLAY_H
#define SUNDEW_REPLAY_H

/* argv[0] is "replay".  Returns the process exit status. */
int	replay_main(int argc, char **argv);

#endif
