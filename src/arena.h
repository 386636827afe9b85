/* arena.h: per-compile bump allocator (libpcap's newchunk, grown up).
 *
 * Everything the front end builds (AST nodes, interned names, types, diagnostics
 * text) lives in one Arena and is freed by a single arena_free(). Allocation
 * failure aborts through the one funnel, xmalloc(), so callers never check. */
#ifndef PCR_ARENA_H
#define PCR_ARENA_H

#include <stddef.h>

typedef struct ArenaChunk ArenaChunk;

typedef struct Arena {
    ArenaChunk *head; /* newest chunk first; each chunk is one malloc */
    size_t total;     /* bytes handed out so far, for limits and stats */
} Arena;

/* The allocation funnel: malloc/realloc/calloc that abort with a message on
 * out-of-memory, and never return NULL, even for a size of 0. Every heap
 * allocation in libpcr goes through these. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrndup(const char *s, size_t n);
/* xmalloc of memory aligned to align (a power of two, a multiple of
 * sizeof(void *)), freed with free(). */
void *xaligned(size_t align, size_t n);

void arena_init(Arena *a);
/* Returns zeroed, 16-byte aligned memory owned by the arena; never NULL,
 * even for n == 0 (so an empty table is still a valid base pointer). */
void *arena_alloc(Arena *a, size_t n);
/* Copies n bytes of s into the arena and NUL-terminates the copy. */
char *arena_strndup(Arena *a, const char *s, size_t n);
/* Frees every chunk; the arena may be reused after arena_init(). */
void arena_free(Arena *a);

#endif
