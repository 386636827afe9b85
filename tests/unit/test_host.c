/* test_host.c: the policy facts a host keeps beside the bytecode
 * (pcr_policy_window), through the public API, on compiled and reloaded
 * policies. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "pcr/pcr.h"

static pcr_policy *compile(const char *src)
{
    pcr_policy *p = th_compile("host.pcr", src);
    cr_assert_not_null(p);
    return p;
}

/* Saves and loads p again: what a host that stores bytecode sees. */
static pcr_policy *reload(const pcr_policy *p)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    cr_assert_eq(pcr_policy_save(p, &buf, &len), PCR_OK);
    pcr_policy *q = NULL;
    char err[256];
    cr_assert_eq(pcr_policy_load(buf, len, &q, err, sizeof err), PCR_OK, "%s", err);
    free(buf);
    return q;
}

#define POLICY(window)                                                                     \
    "use std.request\n"                                                                     \
    "policy host { payer \"h\" title \"Host\" version \"1\" " window " reviewer \"Plan\" }\n" \
    "codeset mri \"MRI\" { CPT 70551..70553 }\n"                                              \
    "rule mri_pa \"MRI\" { when code in mri require prior_auth }\n"

Test(host, window_with_both_ends)
{
    pcr_policy *p = compile(POLICY("effective 2022-01-01 through 2022-12-31"));
    pcr_policy *q = reload(p);
    char from[11], through[11];
    pcr_policy_window(p, from, through);
    cr_assert_str_eq(from, "2022-01-01");
    cr_assert_str_eq(through, "2022-12-31");
    pcr_policy_window(q, from, through);
    cr_assert_str_eq(from, "2022-01-01");
    cr_assert_str_eq(through, "2022-12-31");
    pcr_policy_free(p);
    pcr_policy_free(q);
}

Test(host, window_open_at_the_end_is_empty)
{
    pcr_policy *c = compile(POLICY("effective 2009-05-15"));
    pcr_policy *p = reload(c);
    pcr_policy_free(c);
    char from[11] = "x", through[11] = "x";
    pcr_policy_window(p, from, through);
    cr_assert_str_eq(from, "2009-05-15");
    cr_assert_str_eq(through, "");
    pcr_policy_free(p);
}

/* ---- checksums ------------------------------------------------------------ */

#include "sha256.h"

/* sha256sum's digest of path (a real process), or "" when it fails. */
static void sha256sum(const char *path, char out[65])
{
    int status;
    char *o = th_runf(&status, "sha256sum '%s'", path);
    out[0] = '\0';
    if (o && status == 0 && strlen(o) >= 64) {
        memcpy(out, o, 64);
        out[64] = '\0';
    }
    free(o);
}

Test(host, sha256_matches_sha256sum_at_every_block_boundary)
{
    char path[] = "/tmp/pcr-sha-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    uint8_t buf[200];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 37 + 11);
    /* 0..130 bytes crosses the one- and two-block tails; 200 is 3 blocks. */
    static const size_t lens[] = {0, 1, 3, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 130, 200};
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(buf, 1, lens[k], f), lens[k]);
        fclose(f);
        char want[65], got[65];
        sha256sum(path, want);
        cr_assert_str_neq(want, "", "sha256sum failed");
        sha256_hex(buf, lens[k], got);
        cr_assert_str_eq(got, want, "length %zu", lens[k]);
    }
    unlink(path);
    char abc[65];
    sha256_hex((const uint8_t *)"abc", 3, abc);
    cr_assert_str_eq(abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* sha256_digest (by the processor's SHA instructions where it has them)
 * against the portable code at every length to 300 bytes and at a few
 * of megabytes, from odd starts; and a file of 1 MiB and 3 bytes against
 * sha256sum. */
Test(host, sha256_instructions_and_portable_code_agree)
{
    size_t cap = (2u << 20) + 301;
    uint8_t *buf = th_noise(cap, 99);
    cr_assert_not_null(buf);
    cr_log_info("sha256: %s", sha256_hw() ? "SHA instructions" : "portable code only");
    uint8_t a[SHA256_BYTES], b[SHA256_BYTES];
    for (size_t n = 0; n <= 300; n++) {
        sha256_digest(buf + n % 7, n, a);
        sha256_digest_portable(buf + n % 7, n, b);
        cr_assert_arr_eq(a, b, SHA256_BYTES, "length %zu", n);
    }
    static const size_t big[] = {(1u << 20) - 1, 1u << 20, (2u << 20) + 3};
    for (size_t k = 0; k < sizeof big / sizeof *big; k++) {
        sha256_digest(buf + 5, big[k], a);
        sha256_digest_portable(buf + 5, big[k], b);
        cr_assert_arr_eq(a, b, SHA256_BYTES, "length %zu", big[k]);
    }
    char path[] = "/tmp/pcr-sha-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    size_t n = (1u << 20) + 3;
    cr_assert_eq(write(fd, buf, n), (ssize_t)n);
    close(fd);
    char want[65], got[65];
    sha256sum(path, want);
    unlink(path);
    cr_assert_str_neq(want, "", "sha256sum failed");
    sha256_hex(buf, n, got);
    cr_assert_str_eq(got, want);
    free(buf);
}

Test(host, policy_sha256_is_the_bytecode_files_digest)
{
    pcr_policy *p = compile(POLICY("effective 2022-01-01"));
    char path[] = "/tmp/pcr-pcrb-XXXXXX.pcrb";
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    close(fd);
    char err[256];
    cr_assert_eq(pcr_policy_save_file(p, path, err, sizeof err), PCR_OK, "%s", err);
    pcr_policy *q = NULL;
    cr_assert_eq(pcr_policy_load_file(path, &q, err, sizeof err), PCR_OK, "%s", err);
    char want[65], compiled[65], loaded[65];
    sha256sum(path, want);
    pcr_policy_sha256(p, compiled);
    pcr_policy_sha256(q, loaded);
    cr_assert_str_eq(loaded, want);
    cr_assert_str_eq(compiled, want);
    /* pcrvm --stats prints it for every policy loaded. */
    int status;
    char *out = th_runf(&status, "echo '{}' | %s/pcrvm --stats '%s' 2>&1 >/dev/null", th_bin(), path);
    char line[200];
    snprintf(line, sizeof line, "policy host@1 sha256 %s\n", want);
    cr_assert_not_null(strstr(out, line), "pcrvm --stats printed:\n%s", out);
    free(out);
    unlink(path);
    pcr_policy_free(p);
    pcr_policy_free(q);
}
