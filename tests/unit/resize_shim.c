/* resize_shim.c: a file that changes size while pcrvm reads it, for
 * test_harden (harden_threads). Preloaded (LD_PRELOAD) into pcrvm, it
 * changes the file PCR_RESIZE_FILE once, before the process's first
 * read(2) or pread(2) of that file: it appends the bytes of
 * the file PCR_RESIZE_APPEND to it, or cuts it to PCR_RESIZE_TO bytes.
 * So the change falls after pcrvm has looked at the file (fstat) and
 * before it has read a byte of it, the same way on every run. Other
 * descriptors and later reads are untouched. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* Appends the file at `from` to the open descriptor `to`; false when a
 * step fails. */
static int append(int to, const char *from)
{
    ssize_t (*real_read)(int, void *, size_t) = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    int in = open(from, O_RDONLY);
    if (in < 0) return 0;
    char buf[65536];
    ssize_t k;
    int ok = 1;
    while (ok && (k = real_read(in, buf, sizeof buf)) > 0) ok = write(to, buf, (size_t)k) == k;
    close(in);
    return ok && k == 0;
}

/* The change, once, when fd is the file PCR_RESIZE_FILE. */
static void resize_once(int fd)
{
    static int done;
    const char *path = getenv("PCR_RESIZE_FILE");
    struct stat sb, want;
    if (!path || fstat(fd, &sb) != 0 || stat(path, &want) != 0 || sb.st_dev != want.st_dev ||
        sb.st_ino != want.st_ino)
        return;
    if (__atomic_exchange_n(&done, 1, __ATOMIC_SEQ_CST)) return;
    const char *more = getenv("PCR_RESIZE_APPEND"), *to = getenv("PCR_RESIZE_TO");
    int out = open(path, O_WRONLY | (more ? O_APPEND : 0));
    if (out < 0) abort(); /* the test would pass vacuously */
    if (more ? !append(out, more) : !to || ftruncate(out, (off_t)strtoll(to, NULL, 10)) != 0) abort();
    close(out);
}

ssize_t read(int fd, void *p, size_t n)
{
    static ssize_t (*real)(int, void *, size_t);
    if (!real) real = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    resize_once(fd);
    return real(fd, p, n);
}

static ssize_t pread_as(const char *name, int fd, void *p, size_t n, off_t off)
{
    ssize_t (*real)(int, void *, size_t, off_t) = (ssize_t(*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, name);
    resize_once(fd);
    return real(fd, p, n, off);
}

ssize_t pread(int fd, void *p, size_t n, off_t off) { return pread_as("pread", fd, p, n, off); }
ssize_t pread64(int fd, void *p, size_t n, off_t off) { return pread_as("pread64", fd, p, n, off); }
