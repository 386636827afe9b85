/* test_harden.c: the tools against a careless or hostile user, through the
 * real pcrc and pcrvm binaries and real files: outputs that must not be
 * destroyed, inputs that are not files, streams that must not wait,
 * modules that must stay inside their roots, signals, long lines and the
 * exact messages of docs/reliability.md. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* A fresh scratch directory per test (tests run in separate processes). */
static const char *tmpdir(void)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/pcr-harden-%ld", (long)getpid());
        char cmd[200];
        snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
        cr_assert_eq(system(cmd), 0);
    }
    return dir;
}

/* The binaries and the repository as absolute paths: tests cd elsewhere. */
static const char *root(void)
{
    static char r[4096];
    if (!r[0]) cr_assert_not_null(realpath(th_root(), r));
    return r;
}
static const char *bin(void)
{
    static char b[4096 + 300];
    if (!b[0]) {
        char rel[4096 + 300];
        if (th_bin()[0] == '/') snprintf(rel, sizeof rel, "%s", th_bin());
        else snprintf(rel, sizeof rel, "%s/%s", root(), th_bin());
        cr_assert_not_null(realpath(rel, b));
    }
    return b;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path)
{
    char *s = th_read_file(path, NULL);
    cr_assert_not_null(s, "cannot read %s", path);
    return s;
}

static const char good_src[] = "use std.request\n"
                               "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\n"
                               "rule r \"r\" { when true require prior_auth }\n";
static const char bad_src[] = "use std.request\n"
                              "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\n"
                              "rule r \"r\" { when nosuchfield require prior_auth }\n";

/* ---- 1. pcrc -o never destroys what it names ------------------------------ */

Test(harden_output, compile_error_leaves_a_non_bytecode_output_alone)
{
    char src[300], notes[300];
    snprintf(src, sizeof src, "%s/bad.pcr", tmpdir());
    snprintf(notes, sizeof notes, "%s/notes.txt", tmpdir());
    write_file(src, bad_src);
    write_file(notes, "my notes\n");
    int st;
    char *err = th_runf(&st, "%s/pcrc %s -o %s 2>&1", bin(), src, notes);
    cr_assert_eq(st, 1, "output: %s", err);
    cr_assert_null(strstr(err, "removed"), "output: %s", err);
    char *kept = slurp(notes);
    cr_assert_str_eq(kept, "my notes\n");
    free(kept);
    free(err);
    /* A FIFO, a symlink and an empty directory survive too. */
    err = th_runf(&st, "cd %s && mkfifo fifo && ln -s notes.txt link && mkdir emptydir && "
                  "for o in fifo link emptydir; do %s/pcrc bad.pcr -o $o 2>/dev/null; done; "
                  "ls -ld fifo link emptydir | cut -c1 | tr -d '\\n'; cat notes.txt",
                  tmpdir(), bin());
    cr_assert_str_eq(err, "dplmy notes\n");
    free(err);
    free(kept = NULL);
}

Test(harden_output, success_refuses_to_replace_what_is_not_bytecode)
{
    int st;
    char *out = th_runf(&st, "cd %s && echo 'my notes' > notes.txt && mkfifo fifo && ln -s notes.txt link && "
                        "mkdir dir && for o in notes.txt fifo link dir; do "
                        "%s/pcrc %s/policies/examples/demo.pcr -o $o 2>&1; echo \"status $?\"; done; "
                        "ls -ld fifo link dir | cut -c1 | tr -d '\\n'; cat notes.txt",
                        tmpdir(), bin(), root());
    cr_assert_str_eq(out,
                     "pcrc: refusing to replace notes.txt: it is not PCR bytecode\nstatus 2\n"
                     "pcrc: refusing to replace fifo: not a regular file\nstatus 2\n"
                     "pcrc: refusing to replace link: it is a symbolic link\nstatus 2\n"
                     "pcrc: refusing to replace dir: it is a directory\nstatus 2\n"
                     "dplmy notes\n");
    free(out);
}

Test(harden_output, bytecode_and_empty_files_are_replaced_and_leave_no_temporary)
{
    int st;
    char *out = th_runf(&st, "cd %s && touch empty.pcrb && %s/pcrc %s/policies/examples/demo.pcr -o empty.pcrb && "
                        "%s/pcrc %s/policies/examples/demo.pcr -o empty.pcrb && ls -A",
                        tmpdir(), bin(), root(), bin(), root());
    cr_assert_eq(st, 0, "output: %s", out);
    cr_assert_str_eq(out, "empty.pcrb\n", "no temporary file may remain");
    free(out);
    char path[300];
    snprintf(path, sizeof path, "%s/empty.pcrb", tmpdir());
    size_t len;
    char *b = th_read_file(path, &len);
    cr_assert(len > 8 && memcmp(b, "\x89PCR\r\n\x1a\n", 8) == 0);
    free(b);
}

Test(harden_output, output_that_is_the_source_is_refused)
{
    char src[300];
    snprintf(src, sizeof src, "%s/keep.pcr", tmpdir());
    write_file(src, good_src);
    int st;
    /* Through another spelling and through a hard link: identity, not names. */
    char *err = th_runf(&st, "cd %s && ln keep.pcr hard.pcrb && %s/pcrc -I %s/policies keep.pcr -o ./../%s/hard.pcrb 2>&1",
                        tmpdir(), bin(), root(), strrchr(tmpdir(), '/') + 1);
    cr_assert_eq(st, 2, "output: %s", err);
    cr_assert_not_null(strstr(err, "names the source file itself"), "output: %s", err);
    free(err);
    char *kept = slurp(src);
    cr_assert_str_eq(kept, good_src);
    free(kept);
}

Test(harden_output, pcrvm_output_that_is_an_input_is_refused)
{
    int st;
    char *err = th_runf(&st, "cd %s && cp %s/policies/examples/demo-requests.jsonl in.jsonl && "
                        "%s/pcrc %s/policies/examples/demo.pcr -o d.pcrb && "
                        "%s/pcrvm d.pcrb in.jsonl -o ./in.jsonl 2>&1; echo \"status $?\"; "
                        "%s/pcrvm d.pcrb in.jsonl -o d.pcrb 2>&1; echo \"status $?\"; "
                        "cmp -s in.jsonl %s/policies/examples/demo-requests.jsonl && echo same",
                        tmpdir(), root(), bin(), root(), bin(), bin(), root());
    cr_assert_str_eq(err, "pcrvm: -o ./in.jsonl is the input file; write the decisions elsewhere\nstatus 2\n"
                          "pcrvm: -o d.pcrb is a policy file; write the decisions elsewhere\nstatus 2\n"
                          "same\n");
    free(err);
}

/* Readers loading the policy while pcrc rewrites it see the old file or the
 * new one, never a part (the write goes to a temporary and is renamed). */
Test(harden_output, concurrent_loads_never_see_a_half_file)
{
    int st;
    char *out = th_runf(&st, "cd %s && %s/pcrc %s/policies/examples/demo.pcr -o d.pcrb; "
                        "( for i in $(seq 1 40); do %s/pcrc %s/policies/examples/demo.pcr -o d.pcrb || echo FAILED; done ) & "
                        "bad=0; for i in $(seq 1 200); do echo '{}' | %s/pcrvm d.pcrb >/dev/null 2>&1 || bad=$((bad+1)); done; "
                        "wait; echo \"bad $bad\"",
                        tmpdir(), bin(), root(), bin(), root(), bin());
    cr_assert_str_eq(out, "bad 0\n");
    free(out);
}

/* ---- 6. policy files are sized and typed before they are read ------------- */

Test(harden_policy_files, devices_fifos_and_directories_are_refused_at_once)
{
    int st;
    char *err = th_runf(&st, "cd %s && ln -s /dev/zero z.pcrb && ln -s /dev/zero z.pcr && mkfifo f.pcrb && "
                        "mkfifo f.pcr && mkdir d.pcrb && "
                        "for p in z.pcrb f.pcrb d.pcrb; do echo '{}' | timeout 20 %s/pcrvm $p 2>&1; echo \"status $?\"; done; "
                        "for p in z.pcr f.pcr; do timeout 20 %s/pcrc --check $p 2>&1; echo \"status $?\"; done",
                        tmpdir(), bin(), bin());
    cr_assert_str_eq(err, "pcrvm: cannot read z.pcrb: not a regular file\nstatus 2\n"
                          "pcrvm: cannot read f.pcrb: not a regular file\nstatus 2\n"
                          "pcrvm: cannot read d.pcrb: Is a directory\nstatus 2\n"
                          "z.pcr:0:0: error[E104]: cannot read z.pcr: not a regular file\nstatus 2\n"
                          "f.pcr:0:0: error[E104]: cannot read f.pcr: not a regular file\nstatus 2\n");
    free(err);
}

Test(harden_policy_files, a_huge_file_with_a_wrong_start_is_rejected_by_its_magic)
{
    int st;
    /* 64 MiB of text: rejected after its first 8 bytes, with the one line. */
    char *err = th_runf(&st, "cd %s && truncate -s 64M big.pcrb && echo '{}' | %s/pcrvm big.pcrb 2>&1; echo \"status $?\"",
                        tmpdir(), bin());
    cr_assert_str_eq(err, "pcrvm: big.pcrb: not a PCR bytecode file (bad magic)\nstatus 2\n");
    free(err);
}
