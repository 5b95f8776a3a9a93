/* The store process (DESIGN.md section 3). */
#ifndef SUNDEW_STORE_PROC_H
#define SUNDEW_STORE_PROC_H

struct config;
struct ring;
struct sandbox;

struct store_args {
	const struct config	*conf;
	int			 ctl;		/* control channel to the parent */
	const struct sandbox	*sandbox;
	struct ring		**rings;	/* one per sensor */
	int			 nrings;
	struct ring		*own;		/* the store's event ids */
};

void	store_main(const struct store_args *) __attribute__((noreturn));

#endif
