/* stdlib_dir.c: where the tools find the standard library
 * (pcr_find_stdlib_dir; the rule is in pcr.h and docs/language.md). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pcr/pcr.h"

/* True when dir/std/request.pcr is a regular file. */
static bool holds_std(const char *dir)
{
    static const char tail[] = "/std/request.pcr";
    char p[PATH_MAX + sizeof tail];
    size_t n = strlen(dir);
    if (n >= PATH_MAX) return false;
    memcpy(p, dir, n);
    memcpy(p + n, tail, sizeof tail);
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *pcr_find_stdlib_dir(char *buf, size_t cap)
{
    if (!buf || cap == 0) return NULL;
    const char *env = getenv("PCR_STDLIB");
    if (env) {
        if (!*env || strlen(env) >= cap) return NULL;
        snprintf(buf, cap, "%s", env);
        return buf;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return NULL;
    *slash = '\0';
    static const char *const rel[] = {"/../share/pcr", "/../policies"};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        char cand[PATH_MAX + 32];
        size_t n1 = strlen(exe), n2 = strlen(rel[i]);
        if (n1 + n2 >= sizeof cand) continue;
        memcpy(cand, exe, n1);
        memcpy(cand + n1, rel[i], n2 + 1);
        char real[PATH_MAX];
        if (holds_std(cand) && realpath(cand, real) && strlen(real) < cap) {
            snprintf(buf, cap, "%s", real);
            return buf;
        }
    }
    return NULL;
}
