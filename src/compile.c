/* compile.c: the compile driver: module loading, then check, emit, verify.
 *
 * Modules are loaded depth first, each once. A `use a.b` names the file
 * a/b.pcr under one of the module roots: the root policy file's own
 * directory, each include directory (-I) and the standard library
 * directory. `use std.x` is looked for under the include directories, then
 * the standard library, never beside the policy (a planted std/ there must
 * not replace the real schema); any other module under the policy's
 * directory, then the include directories. After resolving symlinks a
 * module file must lie inside the root it was found under. Files are
 * identified by their real path, so one module reached through two
 * spellings is still loaded once, and a `use` that reaches a file still
 * being loaded is a cycle.
 *
 * `policy x extends a.b` names its base policy's file the way `use a.b`
 * names a module, and it is found, loaded (once) and refused outside the
 * roots the same way; the file is marked as a base, so the checker takes
 * its policy header and rules (sema_inherit.c). A base that extends, in
 * turn, one of the files being loaded is an `extends` cycle. */
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
#include "facts.h"
#include "fileio.h"
#include "lint.h"
#include "syntax.h"
#include "sema.h"

enum {
    MAX_SOURCE = 8 << 20, /* bytes in one source file */
};

/* A file that has been read: its identity and its place in the load. */
typedef struct Loaded {
    char *key;       /* real path (or the path as given when it has none); owned */
    uint32_t file;   /* diagnostics file index */
    Node *decls;
    bool done;       /* its own `use`s are all loaded */
    bool base;       /* reached through `extends`: a base policy */
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
    const Node *failed_use; /* the first `use` whose module could not be read */
    bool failed_base;       /*   it is an `extends` */
    char *policy_dir; /* the root policy file's directory (owned) */
} Loader;

static char *file_key(const char *path)
{
    char buf[PATH_MAX];
    if (realpath(path, buf)) return xstrndup(buf, strlen(buf));
    return xstrndup(path, strlen(path));
}

static uint32_t loader_add(Loader *L, char *key, uint32_t file, Node *decls, bool base)
{
    sema_reserve((void **)&L->v, &L->cap, L->n + 1, sizeof *L->v);
    L->v[L->n] = (Loaded){.key = key, .file = file, .decls = decls, .done = false, .base = base};
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

/* True when the real path `real` lies inside the directory `root` (after
 * resolving root's symlinks too). */
static bool inside_root(const char *root, const char *real)
{
    char r[PATH_MAX];
    if (!realpath(root, r)) return false;
    size_t n = strlen(r);
    if (n == 1 && r[0] == '/') return true;
    return strncmp(real, r, n) == 0 && real[n] == '/';
}

/* Looks for rel under root. Returns the candidate path (owned) when a file
 * is there, else NULL. *escapes is set when it is there but resolves
 * outside root (through a symlink). */
static char *try_root(const char *root, const char *rel, bool *escapes)
{
    char *cand = path_join(root, rel);
    struct stat st;
    if (stat(cand, &st) != 0) {
        free(cand);
        return NULL;
    }
    char real[PATH_MAX];
    if (!realpath(cand, real) || !inside_root(root, real)) {
        *escapes = true;
        free(cand);
        return NULL;
    }
    return cand;
}

/* Searches for module `rel` ("std/request.pcr", std when it is under the
 * std. prefix). Returns the path found (owned) or NULL; `looked` receives
 * where it looked, in words that do not depend on where the tree sits on
 * the machine, and *escaped the first candidate refused for leaving its
 * root (owned; NULL if none). */
static char *resolve(Loader *L, const char *rel, bool std, Buf *looked, char **escaped)
{
    char *found = NULL;
    bool esc = false;
    *escaped = NULL;
    if (!std) {
        buf_puts(looked, L->policy_dir);
        buf_puts(looked, " (the policy's directory)");
        found = try_root(L->policy_dir, rel, &esc);
        if (esc && !*escaped) *escaped = path_join(L->policy_dir, rel);
    }
    for (size_t i = 0; L->opts && i < L->opts->n_include_dirs && !found; i++) {
        const char *inc = L->opts->include_dirs[i];
        esc = false;
        found = try_root(inc, rel, &esc);
        if (esc && !*escaped) *escaped = path_join(inc, rel);
        if (looked->n) buf_puts(looked, i ? ", " : ", then ");
        buf_puts(looked, i ? "" : "-I ");
        buf_puts(looked, inc);
    }
    if (std && !found) {
        const char *lib = L->opts ? L->opts->stdlib_dir : NULL;
        if (looked->n) buf_puts(looked, ", then ");
        if (!lib && (!L->opts || L->opts->n_include_dirs == 0)) {
            buf_puts(looked, "no -I directory and no standard library");
        } else if (lib) {
            esc = false;
            found = try_root(lib, rel, &esc);
            if (esc && !*escaped) *escaped = path_join(lib, rel);
            buf_puts(looked, "the standard library");
        } else {
            buf_puts(looked, "no standard library");
        }
    }
    buf_putc(looked, '\0');
    return found;
}

/* True when text (len bytes) is plausibly PCR source: no NUL byte and
 * valid UTF-8. A module that is not is refused before it is parsed, so
 * none of its lines is ever echoed in a diagnostic. */
static bool looks_like_source(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c == 0) return false;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
        if (n == 0 || (size_t)(end - p) < n) return false;
        for (size_t k = 1; k < n; k++)
            if ((p[k] & 0xC0) != 0x80) return false;
        p += n;
    }
    return true;
}

/* Reads a module file whole; reports E103/E104 at `at`. Returns the text
 * (xmalloc'ed, NUL-terminated) or NULL. */
static char *read_source(Loader *L, const char *path, Loc at, size_t *len)
{
    FioError why;
    char *text = fio_read(path, MAX_SOURCE, NULL, 0, len, &why);
    if (!text && why == FIO_TOO_BIG) {
        diag_error(L->d, "E103", at, "module file %s is over 8 MiB; sources are limited to 8 MiB", path);
        return NULL;
    }
    if (!text) {
        diag_error(L->d, "E104", at, "cannot read module file %s: %s", path, fio_error_text(why, errno));
        return NULL;
    }
    if (!looks_like_source(text, *len)) {
        diag_error(L->d, "E104", at,
                   "module file %s is not PCR source (it holds NUL bytes or is not UTF-8)", path);
        free(text);
        return NULL;
    }
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

/* A module that failed to parse may not be PCR at all: its diagnostics
 * quote only the line of its first error (those kept from index `from`). */
static void quote_first_error_only(Diags *d, uint32_t file, size_t from)
{
    for (size_t i = from; i < d->n; i++)
        if (d->v[i].span.file == file && d->v[i].span.line) {
            d->files[file].quote_only_line = d->v[i].span.line;
            return;
        }
    d->files[file].quote_only_line = UINT32_MAX; /* none kept: quote nothing */
}

/* Loads the module a `use` names, or with base set the base policy an
 * `extends` names (use is then the N_USE of the policy's `b`). */
static void load_use(Loader *L, uint32_t from, const Node *use, bool base)
{
    (void)from;
    char *rel = module_rel(use->name);
    bool std = strncmp(use->name, "std.", 4) == 0;
    Buf looked = {0};
    char *escaped = NULL;
    char *path = resolve(L, rel, std, &looked, &escaped);
    if (!path && escaped) {
        diag_error(L->d, "E101", use->loc,
                   "module `%s`: %s leads outside the module roots (through a symbolic link); "
                   "a module must lie inside the directory it is found in",
                   use->name, escaped);
        goto out;
    }
    if (!path) {
        /* Without -I or a standard library, std/ cannot be found: say how. */
        bool hint = std && (!L->opts || (L->opts->n_include_dirs == 0 && !L->opts->stdlib_dir));
        diag_error(L->d, "E101", use->loc, "cannot find module `%s`: looked for %s in %s%s",
                   use->name, rel, looked.p,
                   hint ? " (give -I DIR, DIR holding std/: policies/ in the PCR tree)" : "");
        if (!L->failed_use) {
            L->failed_use = use;
            L->failed_base = base;
        }
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
        if (base)
            diag_error(L->d, "E102", use->loc,
                       "`extends` cycle: %s (a policy cannot extend itself, even through "
                       "its bases)",
                       chain.p);
        else
            diag_error(L->d, "E102", use->loc, "`use` cycle: %s", chain.p);
        buf_free(&chain);
        free(key);
    } else if (seen >= 0) {
        free(key);
    } else {
        size_t len = 0;
        char *text = read_source(L, path, use->loc, &len);
        if (!text) {
            if (!L->failed_use) {
                L->failed_use = use;
                L->failed_base = base;
            }
            free(key);
        } else {
            uint32_t file = diags_add_file(L->d, path, text, len);
            size_t kept_before = L->d->n, errors_before = L->d->nerrors;
            Node *decls = parse_file(L->arena, L->d, file);
            if (L->d->nerrors > errors_before) quote_first_error_only(L->d, file, kept_before);
            load_uses(L, loader_add(L, key, file, decls, base));
        }
    }
    free(path);
out:
    free(escaped);
    free(rel);
    buf_free(&looked);
}

/* Loads every module file idx uses, then appends idx to the dependency
 * order. */
static void load_uses(Loader *L, uint32_t idx)
{
    sema_reserve((void **)&L->stack, &L->stackcap, L->depth + 1, sizeof *L->stack);
    L->stack[L->depth++] = idx;
    for (const Node *n = L->v[idx].decls; n; n = n->next) {
        if (n->kind == N_USE && n->name) load_use(L, idx, n, false);
        if (n->kind == N_POLICY && n->b && n->b->name) load_use(L, idx, n->b, true);
    }
    L->depth--;
    L->v[idx].done = true;
    sema_reserve((void **)&L->order, &L->ordercap, L->norder + 1, sizeof *L->order);
    L->order[L->norder++] =
        (SemFile){.file = L->v[idx].file, .decls = L->v[idx].decls, .root = idx == 0,
                  .base = L->v[idx].base};
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

    Loader L = {.arena = arena, .d = d, .opts = opts, .policy_dir = dir_of(path)};
    Node *decls = parse_file(arena, d, root);
    out->root_decls = decls;
    load_uses(&L, loader_add(&L, file_key(path), root, decls, false));

    Sema s;
    sema_init(&s, arena, d);
    s.m.source_hash = source_hash(d, &L);
    if (L.failed_use) {
        s.failed_module = L.failed_use->name;
        s.failed_use_at = L.failed_use->loc;
        s.failed_base = L.failed_base;
    }
    sema_run(&s, L.order, L.norder);
    if (L.n > 1) {
        out->module_decls = arena_alloc(arena, (L.n - 1) * sizeof *out->module_decls);
        for (uint32_t i = 1; i < L.n; i++) out->module_decls[out->nmodules++] = L.v[i].decls;
    }
    if (s.unreported > 0)
        diag_report(d, PCR_SEV_NOTE, "E101", s.failed_use_at,
                    "not reporting %zu more error%s about unknown names: module `%s` could not be "
                    "loaded and may declare them; fix this `use` first",
                    s.unreported, s.unreported == 1 ? "" : "s", s.failed_module);
    out->tests = s.tests;
    out->ntests = s.ntests;
    out->merged = sema_merged(&s);

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
        if (out->prog) out->facts = facts_keep(&s, arena);
        if (out->prog && opts && opts->lint) lint_run(&s, out->prog);
        if (out->prog && opts && opts->inspect) opts->inspect(&s, out->prog, opts->inspect_arg);
    }

    sema_free(&s);
    for (uint32_t i = 0; i < L.n; i++) free(L.v[i].key);
    free(L.v);
    free(L.stack);
    free(L.order);
    free(L.policy_dir);
    return d->nerrors == errors_before;
}
