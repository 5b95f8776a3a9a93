/* The analyser process (DESIGN.md section 3). */
#ifndef SUNDEW_SC_PROC_H
#define SUNDEW_SC_PROC_H

struct analysis_now;
struct config;
struct sandbox;

/* An analysis that has not ended after this long kills the process. */
#define SC_PROC_ALARM_SECS	5
/* Address space of the process: Unicorn's code cache fits in it. */
#define SC_PROC_MAX_AS		(4ull * 1024 * 1024 * 1024)

struct sc_proc_args {
	const struct config	*conf;
	int			 ctl;		/* control channel to the parent */
	const struct sandbox	*sandbox;
	struct analysis_now	*now;		/* what it analyses, shared */
};

void	sc_proc_main(const struct sc_proc_args *) __attribute__((noreturn));
/*
 * The analyser's confinement, for the daemon's analyser and for each
 * child of `sundew analyze`: the address space limit, then the sandbox
 * (chroot into root, the user, the SANDBOX_ANALYSER filter).  The caller
 * arms alarm(SC_PROC_ALARM_SECS) around each analysis.
 */
void	sc_proc_confine(const struct sandbox *sb, const char *root);

#endif
