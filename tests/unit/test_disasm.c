/* test_disasm.c: golden disassembly. Each tests/golden/disasm/NAME.pcr has
 * its expected listing in NAME.disasm; every NAME.alias-K.pcr spells the
 * same policy differently and must compile to the very same listing (libpcap
 * style "aliases"). The `hash` line, a hash of the source text, is left out
 * of the comparison. Regenerate with PCR_UPDATE_GOLDEN=1 and review. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* The listing of a source without its hash line (malloc'ed). */
static char *listing(const char *src)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s/pcrc -I '%s/policies' --disasm '%s' | grep -v '^  hash '",
             th_bin(), th_root(), src);
    int st;
    char *out = th_run(cmd, &st);
    cr_assert_not_null(out);
    cr_assert_eq(st, 0, "pcrc --disasm %s failed", src);
    return out;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

Test(disasm, golden_listings_and_aliases)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/golden/disasm", th_root());
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "no %s", dir);
    char *names[256];
    size_t nnames = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nnames < 256) {
        size_t n = strlen(e->d_name);
        if (n >= 5 && strcmp(e->d_name + n - 4, ".pcr") == 0) names[nnames++] = strdup(e->d_name);
    }
    closedir(d);
    /* Sorted for a stable order; bases (pass 0) before their aliases. */
    qsort(names, nnames, sizeof *names, by_name);
    bool update = getenv("PCR_UPDATE_GOLDEN") != NULL;
    int checked = 0, aliases = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < nnames; i++) {
            bool alias = strstr(names[i], ".alias-") != NULL;
            if (alias != (pass == 1)) continue;
            char base[256], src[2048], golden[2048];
            snprintf(base, sizeof base, "%.*s", (int)strcspn(names[i], "."), names[i]);
            snprintf(src, sizeof src, "%s/%s", dir, names[i]);
            snprintf(golden, sizeof golden, "%s/%s.disasm", dir, base);
            char *got = listing(src);
            if (update && !alias) {
                FILE *f = fopen(golden, "w");
                cr_assert_not_null(f);
                fputs(got, f);
                fclose(f);
            }
            char *want = th_read_file(golden, NULL);
            cr_assert_not_null(want, "missing %s (PCR_UPDATE_GOLDEN=1 writes it)", golden);
            cr_expect_str_eq(got, want, "%s does not compile to %s.disasm", names[i], base);
            free(got);
            free(want);
            checked++;
            aliases += alias;
        }
    }
    for (size_t i = 0; i < nnames; i++) free(names[i]);
    cr_assert_geq(checked, 3, "found only %d sources", checked);
    cr_assert_geq(aliases, 2, "found only %d aliases", aliases);
}
