/* compile.c: the compile driver: module loading, then check, emit, verify.
 *
 * Modules are loaded depth first, each once. A `use a.b` looks for a/b.pcr
 * in the using file's directory, each of its ancestors, then each include
 * directory. Files are identified by their real path, so one module reached
 * through two spellings is still loaded once, and a `use` that reaches a
 * file still being loaded is a cycle. */
#include "compile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bc.h"
#include "buf.h"
#include "emit.h"
#include "lint.h"
#include "syntax.h"
#include "sema.h"

enum {
    MAX_SOURCE = 8 << 20, /* bytes in one source file */
    MAX_ANCESTORS = 64,   /* directories walked up from a using file */
};

/* A file that has been read: its identity and its place in the load. */
typedef struct Loaded {
    char *key;       /* real path (or the path as given when it has none); owned */
    uint32_t file;   /* diagnostics file index */
    Node *decls;
    bool done;       /* its own `use`s are all loaded */
} Loaded;

typedef struct Loader {
    Arena *arena;
    Diags *d;
    const CompileOpts *opts;
    Loaded *v;       /* every file read, in load order */
    uint32_t n, cap;
    uint32_t *stack; /* indices into v of the files being loaded (the chain) */
    uint32_t depth, stackcap;
    SemFile *order;  /* files in dependency order (a module before its users) */
    uint32_t norder, ordercap;
} Loader;

static char *file_key(const char *path)
{
    char buf[PATH_MAX];
    if (realpath(path, buf)) return xstrndup(buf, strlen(buf));
    return xstrndup(path, strlen(path));
}

static uint32_t loader_add(Loader *L, char *key, uint32_t file, Node *decls)
{
    sema_reserve((void **)&L->v, &L->cap, L->n + 1, sizeof *L->v);
    L->v[L->n] = (Loaded){.key = key, .file = file, .decls = decls, .done = false};
    return L->n++;
}

static int32_t loader_find(const Loader *L, const char *key)
{
    for (uint32_t i = 0; i < L->n; i++)
        if (strcmp(L->v[i].key, key) == 0) return (int32_t)i;
    return -1;
}

/* The directory part of path: "a/b/c.pcr" -> "a/b", "c.pcr" -> ".",
 * "/c.pcr" -> "/". Owned by the caller. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return xstrndup(".", 1);
    if (slash == path) return xstrndup("/", 1);
    return xstrndup(path, (size_t)(slash - path));
}

/* The lexical parent of dir, or NULL at the root. Parents of "." and of
 * paths ending in ".." climb with "..", so relative spellings stay
 * relative in messages. */
static char *dir_parent(const char *dir)
{
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0) return NULL;
    if (strcmp(dir, ".") == 0) return xstrndup("..", 2);
    if ((n == 2 && strcmp(dir, "..") == 0) || (n > 2 && strcmp(dir + n - 3, "/..") == 0)) {
        char *p = xmalloc(n + 4);
        memcpy(p, dir, n);
        memcpy(p + n, "/..", 4);
        return p;
    }
    return dir_of(dir);
}

static bool is_fs_root(const char *dir)
{
    char buf[PATH_MAX];
    return realpath(dir, buf) && strcmp(buf, "/") == 0;
}

static char *path_join(const char *dir, const char *rel)
{
    Buf b = {0};
    if (strcmp(dir, ".") != 0) {
        buf_puts(&b, dir);
        if (b.n && b.p[b.n - 1] != '/') buf_putc(&b, '/');
    }
    buf_puts(&b, rel);
    buf_putc(&b, '\0');
    return b.p;
}

/* Searches for module `rel` ("std/request.pcr") on behalf of the file at
 * `from`. Returns the path found (owned) or NULL; `looked` receives where
 * it looked, in words that do not depend on where the tree sits on the
 * machine: "DIR and the directories above it", then the include
 * directories. */
static char *resolve(Loader *L, const char *from, const char *rel, Buf *looked)
{
    char *dir = dir_of(from);
    char *found = NULL;
    buf_puts(looked, dir);
    buf_puts(looked, " and the directories above it");
    for (int i = 0; dir && i < MAX_ANCESTORS && !found; i++) {
        char *cand = path_join(dir, rel);
        struct stat st;
        if (stat(cand, &st) == 0) found = cand;
        else free(cand);
        char *up = is_fs_root(dir) ? NULL : dir_parent(dir);
        free(dir);
        dir = up;
    }
    free(dir);
    for (size_t i = 0; L->opts && i < L->opts->n_include_dirs && !found; i++) {
        const char *inc = L->opts->include_dirs[i];
        char *cand = path_join(inc, rel);
        struct stat st;
        if (stat(cand, &st) == 0) found = cand;
        else free(cand);
        buf_puts(looked, i ? ", " : ", then -I ");
        buf_puts(looked, inc);
    }
    buf_putc(looked, '\0');
    return found;
}

/* Reads a module file whole; reports E103/E104 at `at`. Returns the text
 * (xmalloc'ed, NUL-terminated) or NULL. */
static char *read_source(Loader *L, const char *path, Loc at, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(L->d, "E104", at, "cannot read module file %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        diag_error(L->d, "E104", at, "cannot read module file %s: not a regular file", path);
        fclose(f);
        return NULL;
    }
    if (st.st_size > MAX_SOURCE) {
        diag_error(L->d, "E103", at, "module file %s is %lld bytes; sources are limited to 8 MiB",
                   path, (long long)st.st_size);
        fclose(f);
        return NULL;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0, got;
    char *text = xmalloc(cap);
    while ((got = fread(text + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n > MAX_SOURCE) break;
        if (n == cap) text = xrealloc(text, cap *= 2);
    }
    bool bad = ferror(f) != 0;
    int err = errno;
    fclose(f);
    if (bad) {
        diag_error(L->d, "E104", at, "cannot read module file %s: %s", path, strerror(err));
        free(text);
        return NULL;
    }
    if (n > MAX_SOURCE) {
        diag_error(L->d, "E103", at, "module file %s is over 8 MiB; sources are limited to 8 MiB",
                   path);
        free(text);
        return NULL;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

/* "std.request" -> "std/request.pcr" (owned). */
static char *module_rel(const char *name)
{
    Buf b = {0};
    for (const char *p = name; *p; p++) buf_putc(&b, *p == '.' ? '/' : *p);
    buf_puts(&b, ".pcr");
    buf_putc(&b, '\0');
    return b.p;
}

static void load_uses(Loader *L, uint32_t idx);

static void load_use(Loader *L, uint32_t from, const Node *use)
{
    const char *from_path = pcr_diags_file(L->d, L->v[from].file);
    char *rel = module_rel(use->name);
    Buf looked = {0};
    char *path = resolve(L, from_path, rel, &looked);
    if (!path) {
        /* Without -I, a file outside the PCR tree cannot see std/: say how. */
        bool hint = (!L->opts || L->opts->n_include_dirs == 0) && strncmp(use->name, "std.", 4) == 0;
        diag_error(L->d, "E101", use->loc, "cannot find module `%s`: looked for %s in %s%s",
                   use->name, rel, looked.p,
                   hint ? " (give -I DIR, DIR holding std/: policies/ in the PCR tree)" : "");
        goto out;
    }
    char *key = file_key(path);
    int32_t seen = loader_find(L, key);
    if (seen >= 0 && !L->v[seen].done) {
        /* The chain from the file that is being loaded back to itself. */
        Buf chain = {0};
        bool on = false;
        for (uint32_t i = 0; i < L->depth; i++) {
            if (L->stack[i] == (uint32_t)seen) on = true;
            if (!on) continue;
            buf_puts(&chain, pcr_diags_file(L->d, L->v[L->stack[i]].file));
            buf_puts(&chain, " -> ");
        }
        buf_puts(&chain, pcr_diags_file(L->d, L->v[seen].file));
        buf_putc(&chain, '\0');
        diag_error(L->d, "E102", use->loc, "`use` cycle: %s", chain.p);
        buf_free(&chain);
        free(key);
    } else if (seen >= 0) {
        free(key);
    } else {
        size_t len = 0;
        char *text = read_source(L, path, use->loc, &len);
        if (!text) {
            free(key);
        } else {
            uint32_t file = diags_add_file(L->d, path, text, len);
            Node *decls = parse_file(L->arena, L->d, file);
            load_uses(L, loader_add(L, key, file, decls));
        }
    }
    free(path);
out:
    free(rel);
    buf_free(&looked);
}

/* Loads every module file idx uses, then appends idx to the dependency
 * order. */
static void load_uses(Loader *L, uint32_t idx)
{
    sema_reserve((void **)&L->stack, &L->stackcap, L->depth + 1, sizeof *L->stack);
    L->stack[L->depth++] = idx;
    for (const Node *n = L->v[idx].decls; n; n = n->next)
        if (n->kind == N_USE && n->name) load_use(L, idx, n);
    L->depth--;
    L->v[idx].done = true;
    sema_reserve((void **)&L->order, &L->ordercap, L->norder + 1, sizeof *L->order);
    L->order[L->norder++] =
        (SemFile){.file = L->v[idx].file, .decls = L->v[idx].decls, .root = idx == 0};
}

/* FNV-1a 64 over every source, in the order the files were read. */
static uint64_t source_hash(const Diags *d, const Loader *L)
{
    uint64_t h = 14695981039346656037ull;
    for (uint32_t i = 0; i < L->n; i++) {
        const SrcFile *f = &d->files[L->v[i].file];
        for (size_t j = 0; j < f->len; j++) {
            h ^= (unsigned char)f->text[j];
            h *= 1099511628211ull;
        }
    }
    return h;
}

bool compile_program(Arena *arena, Diags *d, const char *path, char *text, size_t len,
                     const CompileOpts *opts, CompileOut *out)
{
    memset(out, 0, sizeof *out);
    size_t errors_before = d->nerrors;
    /* The text is ours now: make sure it is NUL-terminated for the lexer. */
    text = xrealloc(text, len + 1);
    text[len] = '\0';
    uint32_t root = diags_add_file(d, path, text, len);
    if (len > MAX_SOURCE) {
        diag_error(d, "E103", (Loc){root, 1, 1, 1, 1},
                   "source is %zu bytes; sources are limited to 8 MiB", len);
        return false;
    }

    Loader L = {.arena = arena, .d = d, .opts = opts};
    Node *decls = parse_file(arena, d, root);
    out->root_decls = decls;
    load_uses(&L, loader_add(&L, file_key(path), root, decls));

    Sema s;
    sema_init(&s, arena, d);
    s.m.source_hash = source_hash(d, &L);
    sema_run(&s, L.order, L.norder);
    out->tests = s.tests;
    out->ntests = s.ntests;

    if (d->nerrors == errors_before) {
        Prog *p = emit_prog(&s.m, d);
        if (p) {
            char err[256] = "";
            if (!bc_verify(p, err, sizeof err)) {
                diag_error(d, "E999", s.m.at,
                           "internal error: emitted code failed verification: %s", err);
                prog_free(p);
                p = NULL;
            }
        }
        if (d->nerrors == errors_before) out->prog = p;
        else prog_free(p);
        if (out->prog && opts && opts->lint) lint_run(&s, out->prog);
        if (out->prog && opts && opts->inspect) opts->inspect(&s, out->prog, opts->inspect_arg);
    }

    sema_free(&s);
    for (uint32_t i = 0; i < L.n; i++) free(L.v[i].key);
    free(L.v);
    free(L.stack);
    free(L.order);
    return d->nerrors == errors_before;
}
