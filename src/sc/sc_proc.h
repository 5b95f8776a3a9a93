/* The analyser process (DESIGN.md section 3). */
#ifndef SUNDEW_SC_PROC_H
#define SUNDEW_SC_PROC_H

struct config;
struct sandbox;

struct sc_proc_args {
	const struct config	*conf;
	int			 ctl;		/* control channel to the parent */
	const struct sandbox	*sandbox;
};

void	sc_proc_main(const struct sc_proc_args *) __attribute__((noreturn));

#endif
