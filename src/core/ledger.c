#include <sys/mman.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger.h"
#include "log.h"

/* The shared part: a high-water mark, then the slots. */
struct ledger_shm {
	_Atomic uint64_t	hwm;		/* slots ever used */
	char			pad[56];
	struct ledger_entry	slot[];
};

struct ledger {
	struct ledger_shm	*shm;
	size_t			 slots;
	size_t			 maplen;
	/* Sensor-local: the free slots below hwm, a stack. */
	uint32_t		*free;
	size_t			 nfree, cap;
};

struct ledger *
ledger_create(size_t slots)
{
	struct ledger	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		fatal("calloc");
	l->slots = slots;
	l->maplen = sizeof(struct ledger_shm) +
	    slots * sizeof(struct ledger_entry);
	l->shm = mmap(NULL, l->maplen, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (l->shm == MAP_FAILED) {
		log_warn("mmap of a ledger of %zu sessions", slots);
		free(l);
		return NULL;
	}
	return l;
}

void
ledger_unmap(struct ledger *l)
{
	if (l == NULL || l->shm == NULL)
		return;
	munmap(l->shm, l->maplen);
	l->shm = NULL;
}

void
ledger_free(struct ledger *l)
{
	if (l == NULL)
		return;
	ledger_unmap(l);
	free(l->free);
	free(l);
}

int
ledger_take(struct ledger *l, const struct ledger_entry *e)
{
	uint64_t		 hwm;
	size_t			 i;
	struct ledger_entry	*s;

	if (l == NULL || l->shm == NULL)
		return -1;
	if (l->nfree > 0)
		i = l->free[--l->nfree];
	else {
		hwm = atomic_load_explicit(&l->shm->hwm,
		    memory_order_relaxed);
		if (hwm >= l->slots)
			return -1;
		i = (size_t)hwm;
		atomic_store_explicit(&l->shm->hwm, hwm + 1,
		    memory_order_relaxed);
	}
	s = &l->shm->slot[i];
	memcpy(s, e, sizeof(*s));
	s->used = 1;
	return (int)i;
}

void
ledger_bytes(struct ledger *l, int slot, uint64_t in, uint64_t out)
{
	if (slot < 0)
		return;
	l->shm->slot[slot].bytes_in = in;
	l->shm->slot[slot].bytes_out = out;
}

void
ledger_closing(struct ledger *l, int slot, uint64_t id)
{
	if (slot >= 0)
		l->shm->slot[slot].close_id = id;
}

void
ledger_release(struct ledger *l, int slot)
{
	uint32_t	*n;

	if (slot < 0)
		return;
	l->shm->slot[slot].used = 0;
	if (l->nfree == l->cap) {
		n = reallocarray(l->free, l->cap ? l->cap * 2 : 64, sizeof(*n));
		if (n == NULL)
			return;	/* the slot is lost until the next sensor */
		l->free = n;
		l->cap = l->cap ? l->cap * 2 : 64;
	}
	l->free[l->nfree++] = (uint32_t)slot;
}

size_t
ledger_orphans(struct ledger *l,
    void (*cb)(const struct ledger_entry *, void *), void *arg)
{
	struct ledger_entry	 e;
	uint64_t		 hwm, i;
	size_t			 n = 0;

	if (l == NULL || l->shm == NULL)
		return 0;
	hwm = atomic_load_explicit(&l->shm->hwm, memory_order_relaxed);
	if (hwm > l->slots)
		hwm = l->slots;
	for (i = 0; i < hwm; i++) {
		if (!l->shm->slot[i].used)
			continue;
		/* A copy: the check and the use see the same bytes. */
		memcpy(&e, &l->shm->slot[i], sizeof(e));
		e.session[sizeof(e.session) - 1] = '\0';
		cb(&e, arg);
		n++;
	}
	/* Empty again; the pages go back to the system. */
	madvise(l->shm, l->maplen, MADV_REMOVE);
	atomic_store_explicit(&l->shm->hwm, 0, memory_order_relaxed);
	free(l->free);
	l->free = NULL;
	l->nfree = l->cap = 0;
	return n;
}
