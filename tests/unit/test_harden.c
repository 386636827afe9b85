/* test_harden.c: the tools against a careless or hostile user, through the
 * real pcrc and pcrvm binaries and real files: outputs that must not be
 * destroyed, inputs that are not files, streams that must not wait,
 * modules that must stay inside their roots, signals, long lines and the
 * exact messages of docs/reliability.md. */
#define _GNU_SOURCE /* F_GETPIPE_SZ (Linux) */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static const char *tmpdir(void) { return th_tmpdir("harden"); }

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

/* ---- 3, 7. streams: decisions do not wait; signals leave whole lines ------ */

typedef struct Child {
    pid_t pid;
    int in, out, err; /* our ends: its stdin, stdout, stderr */
} Child;

/* Starts bin/pcrvm with argv (NULL-terminated, without argv[0]), its three
 * standard streams on pipes. */
static Child spawn_pcrvm(const char *const *args)
{
    int pin[2], pout[2], perr[2];
    cr_assert(pipe(pin) == 0 && pipe(pout) == 0 && pipe(perr) == 0);
    Child c = {0};
    c.pid = fork();
    cr_assert(c.pid >= 0);
    if (c.pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(perr[1], 2);
        close(pin[1]);
        close(pout[0]);
        close(perr[0]);
        char path[8800];
        snprintf(path, sizeof path, "%s/pcrvm", bin());
        const char *argv[16] = {path};
        for (int i = 0; args[i] && i < 14; i++) argv[i + 1] = args[i];
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    c.in = pin[1];
    c.out = pout[0];
    c.err = perr[0];
    return c;
}

/* Reads from fd into buf (NUL-terminated) until it holds `lines` newlines,
 * the stream ends, or nothing came for `patience_ms`. Returns the newlines
 * read. The patience is a bound on a hang, not a speed requirement. */
static size_t read_lines(int fd, char *buf, size_t cap, size_t lines, int patience_ms)
{
    size_t n = 0, nl = 0;
    while (nl < lines && n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, patience_ms) <= 0) break;
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k <= 0) break;
        for (ssize_t i = 0; i < k; i++) nl += buf[n + (size_t)i] == '\n';
        n += (size_t)k;
    }
    buf[n] = '\0';
    return nl;
}

static int wait_status(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Writes s[0..n) to fd; false when a write fails. Usable in a forked
 * child, where no assertion may fail. */
static bool write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, s, n);
        if (k <= 0) return false;
        s += k;
        n -= (size_t)k;
    }
    return true;
}

static void write_all_fd(int fd, const char *s, size_t n) { cr_assert(write_all(fd, s, n)); }

static const char record1[] = "{\"id\":\"s-1\",\"payer\":\"demo\",\"code\":\"70551\",\"setting\":\"outpatient\","
                              "\"service_date\":\"2026-03-02\"}\n";

Test(harden_stream, a_decision_comes_out_before_the_pipe_closes)
{
    char pol[4400];
    snprintf(pol, sizeof pol, "%s/policies/examples/demo.pcr", root());
    const char *args[] = {pol, NULL};
    Child c = spawn_pcrvm(args);
    write_all_fd(c.in, record1, strlen(record1));
    char buf[4096];
    /* The pipe stays open: the old loop waited for 1 MiB or the end. */
    size_t got = read_lines(c.out, buf, sizeof buf, 1, 30000);
    cr_assert_eq(got, 1, "no decision while the input stayed open: '%s'", buf);
    cr_assert(strncmp(buf, "{\"id\":\"s-1\",\"decision\":\"prior_auth\"", 35) == 0, "got %s", buf);
    write_all_fd(c.in, record1, strlen(record1));
    got = read_lines(c.out, buf, sizeof buf, 1, 30000);
    cr_assert_eq(got, 1, "the second decision too: '%s'", buf);
    close(c.in);
    cr_assert_eq(wait_status(c.pid), 0);
    close(c.out);
    close(c.err);
}

Test(harden_stream, sigterm_while_waiting_reports_the_count_and_exits_143)
{
    char pol[4400];
    snprintf(pol, sizeof pol, "%s/policies/examples/demo.pcr", root());
    const char *args[] = {pol, NULL};
    Child c = spawn_pcrvm(args);
    write_all_fd(c.in, record1, strlen(record1));
    write_all_fd(c.in, record1, strlen(record1));
    char buf[4096];
    cr_assert_eq(read_lines(c.out, buf, sizeof buf, 2, 30000), 2, "got '%s'", buf);
    /* A partial third line is in the pipe: it is dropped, not half-decided. */
    write_all_fd(c.in, "{\"id\":\"s-3\",", 12);
    kill(c.pid, SIGTERM);
    cr_assert_eq(wait_status(c.pid), 143);
    char err[4096];
    read_lines(c.err, err, sizeof err, 1, 30000);
    cr_assert_str_eq(err, "pcrvm: stopped by SIGTERM after 2 records decided\n");
    cr_assert_eq(read_lines(c.out, buf, sizeof buf, 1, 1000), 0, "nothing more: '%s'", buf);
    close(c.in);
    close(c.out);
    close(c.err);
}

/* Stopped in the middle of a large file: the output is whole lines, as
 * many as stderr says (or the run ended first: then all of them). */
Test(harden_stream, sigint_mid_run_leaves_only_whole_lines)
{
    int st;
    char *out = th_runf(&st, "cd %s && yes \"$(cat %s/policies/examples/demo-requests.jsonl)\" | head -n 400000 > big.jsonl; "
                        "%s/pcrvm %s/policies/examples/demo.pcr big.jsonl > out.jsonl 2> err.txt & "
                        "sleep 0.3; kill -INT $!; wait $!; s=$?; "
                        "echo \"status $s\"; cat err.txt; wc -l < out.jsonl; wc -l < big.jsonl; tail -c 1 out.jsonl | od -An -c",
                        tmpdir(), root(), bin(), root());
    unsigned status = 0;
    unsigned long long said = 0, lines = 0, total = 0;
    char tail[16] = "";
    const char *p = strstr(out, "status ");
    cr_assert_not_null(p, "%s", out);
    sscanf(p, "status %u", &status);
    if (status == 130) {
        const char *m = strstr(out, "pcrvm: stopped by SIGINT after ");
        cr_assert_not_null(m, "%s", out);
        cr_assert_eq(sscanf(m, "pcrvm: stopped by SIGINT after %llu records decided\n%llu\n%llu\n %15s", &said,
                            &lines, &total, tail), 4, "%s", out);
        cr_assert_eq(said, lines, "stderr's count is the output's: %s", out);
        cr_assert(lines < total);
    } else {
        cr_assert_eq(status, 0, "%s", out);
        cr_assert_eq(sscanf(strchr(p, '\n') + 1, "%llu\n%llu\n %15s", &lines, &total, tail), 3, "%s", out);
        cr_assert_eq(lines, total);
    }
    cr_assert_str_eq(tail, "\\n", "the last byte is a newline: %s", out);
    free(out);
}

/* ---- 8. one message for an over-long line, wherever it falls -------------- */

Test(harden_stream, long_lines_get_one_message_in_every_position)
{
    /* Lines: a record; 1.1 MB; a record; padding so the next long line
     * straddles the 1 MiB read boundary; 1.1 MB; 2.5 MB; a record without
     * its newline. Through a file and through a pipe. */
    int st;
    char *out = th_runf(&st, "cd %s && python3 -c \"\n"
                        "import sys\n"
                        "r='{\\\"id\\\":\\\"k\\\",\\\"payer\\\":\\\"demo\\\",\\\"service_date\\\":\\\"2026-03-02\\\"}'\n"
                        "def big(n, i): return '{\\\"id\\\":\\\"' + i + '\\\",\\\"x\\\":\\\"' + 'a'*n + '\\\"}'\n"
                        "out=[r, big(1100000,'L2'), r, 'x'*700000, big(1100000,'L5'), big(2500000,'L6'), r]\n"
                        "sys.stdout.write('\\n'.join(out))\n"
                        "\" > long.jsonl && %s/pcrvm %s/policies/examples/demo.pcr long.jsonl > a.txt && "
                        "cat long.jsonl | %s/pcrvm %s/policies/examples/demo.pcr > b.txt && cmp a.txt b.txt && "
                        "cut -c1-400 a.txt",
                        tmpdir(), bin(), root(), bin(), root());
    cr_assert_eq(st, 0, "%s", out);
    const char *want_err = "{\"id\":null,\"decision\":\"error\",\"policy\":null,\"reviewer\":null,\"deadline\":null,"
                           "\"timely\":null,\"rules\":[],\"reasons\":[],\"obligations\":[],\"possible\":[],\"missing\":[],\"error\":\"record %d: line longer than 1048576 bytes\"}";
    char line[7][1024];
    char *s = out;
    for (int i = 0; i < 7; i++) {
        char *nl = strchr(s, '\n');
        cr_assert_not_null(nl, "7 lines: %s", out);
        snprintf(line[i], sizeof line[i], "%.*s", (int)(nl - s), s);
        s = nl + 1;
    }
    cr_assert_eq(*s, '\0', "exactly 7 lines: %s", out);
    int longs[] = {2, 5, 6};
    for (int k = 0; k < 3; k++) {
        char want[1024];
        snprintf(want, sizeof want, want_err, longs[k]);
        cr_assert_str_eq(line[longs[k] - 1], want);
    }
    cr_assert(strncmp(line[0], "{\"id\":\"k\",\"decision\":\"", 22) == 0 && !strstr(line[0], "\"error\""));
    cr_assert(strncmp(line[6], "{\"id\":\"k\",\"decision\":\"", 22) == 0 && !strstr(line[6], "\"error\""));
    free(out);
}

/* ---- 9. the messages table of docs/reliability.md is what the tools say --- */

/* Copies the text between the first two backticks of cell into out. */
static bool cell_code(const char *cell, size_t n, char *out, size_t cap)
{
    const char *a = memchr(cell, '`', n);
    if (!a) return false;
    const char *b = memchr(a + 1, '`', n - (size_t)(a + 1 - cell));
    if (!b || (size_t)(b - a - 1) >= cap) return false;
    snprintf(out, cap, "%.*s", (int)(b - a - 1), a + 1);
    return true;
}

Test(harden_messages, tool_messages_match_the_table)
{
    char doc[4400];
    snprintf(doc, sizeof doc, "%s/docs/reliability.md", root());
    char *text = slurp(doc);
    const char *sec = strstr(text, "\n## Tool messages\n");
    cr_assert_not_null(sec, "docs/reliability.md has no Tool messages section");
    const char *end = strstr(sec + 1, "\n## ");
    int st;
    char *setup = th_runf(&st, "cd %s && cp %s/policies/examples/demo.pcr demo.pcr && "
                          "cp %s/policies/examples/demo-requests.jsonl in.jsonl && "
                          "%s/pcrc -I %s/policies demo.pcr -o d.pcrb && echo 'my notes' > notes.txt && "
                          "cp notes.txt notes.pcrb && mkfifo fifo fifo.pcr fifo.pcrb && mkdir dir && "
                          "ln -s /dev/zero z.pcrb && ln -s %s/policies policies 2>&1",
                          tmpdir(), root(), root(), bin(), root(), root());
    cr_assert_eq(st, 0, "setup: %s", setup);
    free(setup);
    size_t rows = 0;
    for (const char *line = strstr(sec, "\n| "); line && (!end || line < end); line = strstr(line + 1, "\n| ")) {
        const char *eol = strchr(line + 1, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);
        /* cells: | case | command | message | exit | */
        const char *c[5];
        int k = 0;
        for (const char *p = line + 1; p < line + n && k < 5; p++)
            if (*p == '|' && (p == line + 1 || p[-1] == ' ')) c[k++] = p;
        if (k < 5) continue; /* not a row */
        char cmd[512], want[512];
        if (!cell_code(c[1], (size_t)(c[2] - c[1]), cmd, sizeof cmd)) continue; /* the header */
        cr_assert(cell_code(c[2], (size_t)(c[3] - c[2]), want, sizeof want), "row without a message");
        int want_status = atoi(c[3] + 1);
        char *got = th_runf(&st, "cd %s && PATH=%s:$PATH timeout 20 %s 2>&1 >/dev/null </dev/null | head -1",
                            tmpdir(), bin(), cmd);
        char *nl = strchr(got, '\n');
        if (nl) *nl = '\0';
        cr_expect_str_eq(got, want, "`%s` printed `%s`, the table says `%s`", cmd, got, want);
        free(got);
        free(th_runf(&st, "cd %s && PATH=%s:$PATH timeout 20 %s >/dev/null 2>&1 </dev/null", tmpdir(), bin(), cmd));
        cr_expect_eq(st, want_status, "`%s` exited %d, the table says %d", cmd, st, want_status);
        rows++;
    }
    cr_assert_geq(rows, 10, "the table has its rows (%zu read)", rows);
    free(text);
}

/* ---- 4. modules stay inside their roots ----------------------------------- */

Test(harden_modules, a_planted_std_beside_or_above_the_policy_is_ignored)
{
    int st;
    /* A fake std/request.pcr with a one-field schema, beside the policy and
     * in its parent: the real schema must still be the one used. */
    char *out = th_runf(&st, "cd %s && mkdir -p up/pol/std up/std && "
                        "printf 'schema { id: string required }\\n' > up/std/request.pcr && "
                        "cp up/std/request.pcr up/pol/std/request.pcr && "
                        "cp %s/policies/examples/demo.pcr up/pol/demo.pcr && "
                        "%s/pcrc --check up/pol/demo.pcr 2>&1 && echo compiled",
                        tmpdir(), root(), bin());
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_str_eq(out, "compiled\n");
    free(out);
}

Test(harden_modules, std_is_found_without_include_dirs_and_pcr_stdlib_overrides)
{
    char src[300];
    snprintf(src, sizeof src, "%s/far.pcr", tmpdir());
    write_file(src, good_src);
    int st;
    char *out = th_runf(&st, "%s/pcrc --check %s 2>&1", bin(), src);
    cr_assert_eq(st, 0, "the build tree's policies/ is the standard library: %s", out);
    free(out);
    out = th_runf(&st, "cd %s && PCR_STDLIB= %s/pcrc --check far.pcr 2>&1 | head -1", tmpdir(), bin());
    cr_assert_str_eq(out, "far.pcr:1:1: error[E101]: cannot find module `std.request`: looked for std/request.pcr "
                          "in no -I directory and no standard library (give -I DIR, DIR holding std/: policies/ in "
                          "the PCR tree)\n");
    free(out);
    out = th_runf(&st, "cd %s && PCR_STDLIB=%s/policies %s/pcrc --check far.pcr 2>&1", tmpdir(), root(), bin());
    cr_assert_eq(st, 0, "%s", out);
    free(out);
}

Test(harden_modules, a_symlink_out_of_the_roots_is_refused_and_never_echoed)
{
    int st;
    char *out = th_runf(&st, "cd %s && mkdir -p p s && printf 'secret line one\\nsecret line two\\n' > s/secret.txt && "
                        "ln -s ../s/secret.txt p/x.pcr && printf 'use std.request\\nuse x\\n"
                        "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\\n' > p/p.pcr && "
                        "%s/pcrc --check p/p.pcr 2>&1",
                        tmpdir(), bin());
    cr_assert_eq(st, 1, "%s", out);
    cr_assert_not_null(strstr(out, "p/p.pcr:2:1: error[E101]: module `x`: p/x.pcr leads outside the module roots "
                                   "(through a symbolic link)"), "%s", out);
    cr_assert_null(strstr(out, "secret"), "the file's content is never printed: %s", out);
    free(out);
}

Test(harden_modules, a_module_that_is_not_pcr_shows_one_line_at_most)
{
    int st;
    char *out = th_runf(&st, "cd %s && mkdir -p p && printf 'root:x:0:0:root:/root:/bin/bash\\n"
                        "second:x:1:1:secret:/second:/bin/sh\\nthird:x:2:2:secret:/third:/bin/sh\\n' > p/y.pcr && "
                        "printf '\\000\\001binary' > p/b.pcr && "
                        "printf 'use std.request\\nuse y\\nuse b\\n"
                        "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\\n' > p/p.pcr && "
                        "%s/pcrc --check p/p.pcr 2>&1",
                        tmpdir(), bin());
    cr_assert_eq(st, 1, "%s", out);
    cr_assert_not_null(strstr(out, "root:x:0:0"), "the first offending line is shown: %s", out);
    cr_assert_null(strstr(out, "second:x"), "no later line: %s", out);
    cr_assert_null(strstr(out, "third:x"), "no later line: %s", out);
    cr_assert_not_null(strstr(out, "error[E104]: module file p/b.pcr is not PCR source (it holds NUL bytes or is not UTF-8)"),
                       "%s", out);
    free(out);
}

Test(harden_modules, other_modules_resolve_from_the_policy_directory_not_its_parents)
{
    int st;
    char *out = th_runf(&st, "cd %s && mkdir -p top/lib top/sub && printf 'codeset c \"c\" { CPT 70551 }\\n' > top/lib/m.pcr && "
                        "printf 'use std.request\\nuse lib.m\\n"
                        "policy p { payer \"p\" title \"t\" version \"1\" effective 2026-01-01 }\\n' > top/sub/p.pcr && "
                        "cp top/sub/p.pcr top/p.pcr && %s/pcrc --check top/p.pcr 2>&1 && echo top-ok; "
                        "%s/pcrc --check top/sub/p.pcr 2>&1 | head -1; %s/pcrc --check -I top top/sub/p.pcr 2>&1 && echo with-I-ok",
                        tmpdir(), bin(), bin(), bin());
    cr_assert_str_eq(out, "top-ok\n"
                          "top/sub/p.pcr:2:1: error[E101]: cannot find module `lib.m`: looked for lib/m.pcr in "
                          "top/sub (the policy's directory)\n"
                          "with-I-ok\n");
    free(out);
}

/* ---- pcrc: options before the subcommand ---------------------------------- */

Test(harden_cli, options_may_come_before_test_and_list)
{
    int st;
    char *out = th_runf(&st, "%s/pcrc -I %s/policies test policies/examples/demo.pcr | tail -1", bin(), root());
    cr_assert_eq(st, 0);
    cr_assert(strstr(out, " passed, 0 failed\n") != NULL, "%s", out);
    free(out);
    out = th_runf(&st, "%s/pcrc --color=never list policies/examples/demo.pcr --date 2026-03-02 >/dev/null; echo $?", bin());
    cr_assert_str_eq(out, "0\n");
    free(out);
}

/* ---- 5. business days: O(log n), and the same days as stepping ------------ */

#include "dates.h"

/* The indexed search against the day-by-day walk, on a calendar that has
 * holidays on weekdays and weekends, runs of holidays, and days far from it. */
Test(harden_dates, indexed_business_days_match_stepping)
{
    int32_t days[600];
    uint32_t n = 0;
    uint64_t seed = 12345;
    int32_t d = 20000; /* 2024-10-04 */
    while (n < 600) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        d += 1 + (int32_t)((seed >> 33) % 9);
        days[n++] = d;
        if ((seed >> 20) % 5 == 0 && n < 600) days[n++] = ++d; /* a run */
    }
    Holidays plain = {.days = days, .n = n};
    Holidays fast = {.days = days, .n = n};
    date_holidays_index(&fast);
    for (int i = 0; i < 4000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int32_t day = 19900 + (int32_t)((seed >> 33) % 4000);
        int32_t k = (int32_t)((seed >> 13) % 1200) - 600;
        int32_t want = date_add_business_days(day, k, &plain);
        int32_t got = date_add_business_days(day, k, &fast);
        cr_assert_eq(got, want, "day %d, %d business days: %d, stepping gives %d", day, k, got, want);
    }
    /* No calendar at all. */
    for (int32_t day = -10; day < 30; day++)
        for (int32_t k = -12; k <= 12; k++) {
            Holidays none = {.days = NULL, .n = 0};
            int32_t step = day, left = k > 0 ? k : -k;
            while (left > 0) {
                step += k > 0 ? 1 : -1;
                if (date_weekday(step) < 5) left--;
            }
            cr_assert_eq(date_add_business_days(day, k, &none), step, "day %d k %d", day, k);
        }
    date_holidays_free_index(&fast);
}

/* The worst case within the documented limits: a calendar listing every
 * weekday 1900-2999 (about 287,000 holidays, a 4.9 MB source) and
 * deadlines of 10,000 business days. 20,000 records are decided, each with
 * its deadline; the counts are asserted, never the time (before the index
 * this took minutes; docs/reliability.md states the bound). */
Test(harden_dates, the_largest_calendar_with_the_longest_deadline_decides_every_record, .timeout = 300)
{
    int st;
    char *out = th_runf(&st, "cd %s && python3 -c \"\n"
                        "import datetime\n"
                        "d=datetime.date(1900,1,1); e=datetime.date(2999,12,31); one=datetime.timedelta(days=1)\n"
                        "w=open('cal.pcr','w')\n"
                        "w.write('calendar every_weekday \\\"every weekday\\\" {\\\\n')\n"
                        "while d<=e:\n"
                        "    if d.weekday()<5: w.write('  %%s \\\"h\\\"\\\\n' %% d.isoformat())\n"
                        "    d+=one\n"
                        "w.write('}\\\\n')\n"
                        "w.close()\n"
                        "p=open('busy.pcr','w')\n"
                        "p.write('use std.request\\\\nuse cal\\\\npolicy busy { payer \\\"busy\\\" title \\\"t\\\" version \\\"1\\\" '\n"
                        "        'effective 1900-01-01 calendar every_weekday }\\\\n'\n"
                        "        'rule r \\\"r\\\" { when true require prior_auth deadline 10000 business_days before service }\\\\n')\n"
                        "p.close()\n"
                        "r=open('recs.jsonl','w')\n"
                        "for i in range(20000): r.write('{\\\"id\\\":\\\"r%%d\\\",\\\"payer\\\":\\\"busy\\\",\\\"service_date\\\":\\\"2%%03d-06-15\\\"}\\\\n' %% (i, 100+i%%800))\n"
                        "r.close()\n"
                        "\" && ls -l cal.pcr | awk '{print $5 > \"calsize\"}' && %s/pcrc busy.pcr -o busy.pcrb 2>&1 && "
                        "%s/pcrvm --stats busy.pcrb recs.jsonl 2>stats > dec.jsonl; echo \"status $?\"; "
                        "wc -l < dec.jsonl; grep -c '\"deadline\":\"' dec.jsonl; grep -c '\"decision\":\"prior_auth\"' dec.jsonl; cat calsize",
                        tmpdir(), bin(), bin());
    unsigned status = 99;
    unsigned long lines = 0, with_deadline = 0, pa = 0, calsize = 0;
    const char *p = strstr(out, "status ");
    cr_assert_not_null(p, "%s", out);
    cr_assert_eq(sscanf(p, "status %u\n%lu\n%lu\n%lu\n%lu", &status, &lines, &with_deadline, &pa, &calsize), 5, "%s", out);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert_eq(lines, 20000);
    cr_assert_eq(with_deadline, 20000);
    cr_assert_eq(pa, 20000);
    cr_assert_gt(calsize, 4000000, "the calendar is the large one (%lu bytes)", calsize);
    free(out);
}

/* ---- pcrvm -j N: the same bytes as one thread, in order ------------------- */

/* A shell command's words that read decision lines and print the number
 * of error lines and how many of them name a record other than their own
 * line's (a file of decisions follows). */
#define NUMBERS_AWK                                                                             \
    "awk 'match($0, /\"error\":\"record [0-9]+:/) { n = substr($0, RSTART + 16, RLENGTH - 17); " \
    "if (n != NR) bad++; errs++ } END { print errs + 0, bad + 0 }'"

Test(harden_threads, j2_output_and_stats_equal_j1_through_files_and_pipes)
{
    int st;
    /* Many batches: the demo records again and again, with malformed lines
     * and over-long lines among them. */
    char *out = th_runf(&st, "cd %s && python3 -c \"\n"
                        "import sys\n"
                        "good=open('%s/policies/examples/demo-requests.jsonl').read().splitlines()\n"
                        "w=sys.stdout\n"
                        "for i in range(120000):\n"
                        "    if i %% 997 == 5: w.write('{not json\\\\n')\n"
                        "    elif i %% 40009 == 7: w.write('{\\\"id\\\":\\\"big\\\",\\\"x\\\":\\\"' + 'a'*1200000 + '\\\"}\\\\n')\n"
                        "    else: w.write(good[i %% len(good)].replace('\\\"id\\\":\\\"', '\\\"id\\\":\\\"%%d-' %% i, 1) + '\\\\n')\n"
                        "\" > mix.jsonl && P=%s/policies/examples/demo.pcr && "
                        "%s/pcrvm -j 1 --stats $P mix.jsonl > j1.txt 2> s1.txt && "
                        "%s/pcrvm -j 2 --stats $P mix.jsonl > j2.txt 2> s2.txt && "
                        "cat mix.jsonl | %s/pcrvm -j 2 $P > j2p.txt && "
                        "cmp j1.txt j2.txt && cmp j1.txt j2p.txt && "
                        "grep -v -e '^throughput' -e '^peak_rss' -e '^records' s1.txt > c1 && "
                        "grep -v -e '^throughput' -e '^peak_rss' -e '^records' s2.txt > c2 && cmp c1 c2 && "
                        "wc -l < mix.jsonl && wc -l < j2.txt && grep -c 'line longer than' j2.txt && "
                        "grep '^peak_rss_kb' s2.txt",
                        tmpdir(), root(), root(), bin(), bin(), bin());
    cr_assert_eq(st, 0, "%s", out);
    unsigned long in = 0, lines = 0, longs = 0, rss = 0;
    cr_assert_eq(sscanf(out, "%lu\n%lu\n%lu\npeak_rss_kb %lu", &in, &lines, &longs, &rss), 4, "%s", out);
    cr_assert_eq(in, 120000);
    cr_assert_eq(lines, in);
    cr_assert_eq(longs, 3);
    cr_assert_lt(rss, 64 * 1024, "peak RSS %lu KiB", rss);
    free(out);
}

Test(harden_threads, j2_closed_output_and_bad_arguments)
{
    int st;
    char *out = th_runf(&st, "cd %s && yes \"$(cat %s/policies/examples/demo-requests.jsonl)\" | head -n 300000 > r.jsonl; "
                        "%s/pcrvm -j 2 %s/policies/examples/demo.pcr r.jsonl 2>err.txt | head -1 | cut -c1-13; cat err.txt; "
                        "%s/pcrvm -j 0 x.pcrb 2>&1; echo \"status $?\"",
                        tmpdir(), root(), bin(), root(), bin());
    cr_assert_str_eq(out, "{\"id\":\"d-001\"\npcrvm: -j takes a number of threads from 1 to 16\nstatus 2\n");
    free(out);
}

Test(harden_threads, j2_sigterm_while_waiting_keeps_whole_lines, .timeout = 120)
{
    char pol[4400];
    snprintf(pol, sizeof pol, "%s/policies/examples/demo.pcr", root());
    const char *args[] = {"-j", "2", pol, NULL};
    Child c = spawn_pcrvm(args);
    write_all_fd(c.in, record1, strlen(record1));
    char buf[4096];
    cr_assert_eq(read_lines(c.out, buf, sizeof buf, 1, 30000), 1, "prompt with -j 2: '%s'", buf);
    write_all_fd(c.in, record1, strlen(record1));
    cr_assert_eq(read_lines(c.out, buf, sizeof buf, 1, 30000), 1, "got '%s'", buf);
    write_all_fd(c.in, "{\"id\":", 6);
    kill(c.pid, SIGTERM);
    cr_assert_eq(wait_status(c.pid), 143);
    char err[4096];
    read_lines(c.err, err, sizeof err, 1, 30000);
    cr_assert_str_eq(err, "pcrvm: stopped by SIGTERM after 2 records decided\n");
    close(c.in);
    close(c.out);
    close(c.err);
}

/* On a pipe, pcrvm asks for a pipe buffer of 1 MiB, with one thread and
 * with two, so that a fast producer writes ahead of its reads. */
Test(harden_threads, a_pipe_gets_a_buffer_of_1_mib)
{
#ifdef F_GETPIPE_SZ
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
    long max = 0;
    if (f) {
        if (fscanf(f, "%ld", &max) != 1) max = 0;
        fclose(f);
    }
    if (max < (1 << 20) && geteuid() != 0) cr_skip_test("pipe-max-size is %ld", max);
    int probe[2];
    cr_assert(pipe(probe) == 0);
    int fresh = fcntl(probe[0], F_GETPIPE_SZ);
    close(probe[0]);
    close(probe[1]);
    if (fresh >= (1 << 20)) cr_skip_test("a new pipe holds %d bytes already", fresh);
    char pol[4400];
    snprintf(pol, sizeof pol, "%s/policies/examples/demo.pcr", root());
    for (int j = 1; j <= 2; j++) {
        const char *args[] = {"-j", j == 1 ? "1" : "2", pol, NULL};
        Child c = spawn_pcrvm(args);
        write_all_fd(c.in, record1, strlen(record1));
        char buf[4096];
        cr_assert_eq(read_lines(c.out, buf, sizeof buf, 1, 30000), 1, "-j %d: '%s'", j, buf);
        cr_assert_eq(fcntl(c.in, F_GETPIPE_SZ), 1 << 20, "-j %d", j);
        close(c.in);
        cr_assert_eq(wait_status(c.pid), 0);
        close(c.out);
        close(c.err);
    }
#else
    cr_skip_test("no F_GETPIPE_SZ here");
#endif
}

/* The threads of process pid: the entries of /proc/PID/task. */
static int threads_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    cr_assert_not_null(dir, "%s", path);
    int n = 0;
    for (struct dirent *e; (e = readdir(dir));) n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

/* -j 2 starts its second thread only once a batch (384 to 512 KiB) has
 * filled or more than 512 KiB of input has come: records that come a few
 * at a time are decided on the calling thread alone. Then 2 MB more start
 * it; every decision comes out, in order, and a SIGTERM while it waits for
 * more input leaves whole lines and counts every record. */
Test(harden_threads, j2_starts_its_worker_after_a_batch_of_input, .timeout = 120)
{
    char pol[4400];
    snprintf(pol, sizeof pol, "%s/policies/examples/demo.pcr", root());
    const char *args[] = {"-j", "2", pol, NULL};
    Child c = spawn_pcrvm(args);
    char small[4096];
    for (int i = 0; i < 3; i++) {
        write_all_fd(c.in, record1, strlen(record1));
        cr_assert_eq(read_lines(c.out, small, sizeof small, 1, 30000), 1, "got '%s'", small);
    }
    cr_assert_eq(threads_of(c.pid), 1, "a few records need no worker");

    enum { MANY = 20000 };
    size_t bigcap = (size_t)MANY * 128, bign = 0;
    char *big = malloc(bigcap);
    cr_assert_not_null(big);
    for (int i = 0; i < MANY; i++)
        bign += (size_t)snprintf(big + bign, bigcap - bign,
                                 "{\"id\":\"m-%05d\",\"payer\":\"demo\",\"code\":\"70551\","
                                 "\"setting\":\"outpatient\",\"service_date\":\"2026-03-02\"}\n", i);
    cr_assert_gt(bign, 1u << 20, "more than two batches of 512 KiB");
    /* A child writes them while this process reads the decisions: pcrvm
     * stops reading when its output is not read. */
    pid_t writer = fork();
    cr_assert(writer >= 0);
    if (writer == 0) {
        close(c.out);
        close(c.err);
        _exit(write_all(c.in, big, bign) ? 0 : 1);
    }
    size_t cap = (size_t)MANY * 1024;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    cr_assert_eq(read_lines(c.out, out, cap, MANY, 30000), MANY, "every decision of the large write");
    cr_assert_eq(wait_status(writer), 0);
    cr_assert_eq(threads_of(c.pid), 2, "more than a batch of input starts the worker");
    char want[64];
    snprintf(want, sizeof want, "{\"id\":\"m-%05d\"", MANY - 1);
    const char *last = out + strlen(out) - 1;
    while (last > out && last[-1] != '\n') last--;
    cr_assert(strncmp(out, "{\"id\":\"m-00000\"", 15) == 0, "first: %.40s", out);
    cr_assert(strncmp(last, want, strlen(want)) == 0, "last: %.40s", last);

    kill(c.pid, SIGTERM);
    cr_assert_eq(wait_status(c.pid), 143);
    char err[4096];
    read_lines(c.err, err, sizeof err, 1, 30000);
    cr_assert_str_eq(err, "pcrvm: stopped by SIGTERM after 20003 records decided\n");
    free(out);
    free(big);
    close(c.in);
    close(c.out);
    close(c.err);
}

/* Batches are numbered by the threads that read them (each counts its
 * lines, in the order the batches are read): error lines name the right
 * record in every batch, with -j 2 and -j 3, from a file and a pipe.
 * Malformed lines everywhere, empty lines, lines of every length up to a
 * few KiB (batch ends fall anywhere), over-long lines, and a last line
 * without its newline. */
Test(harden_threads, j2_j3_number_every_record_across_batches)
{
    char path[200], demo[4400];
    snprintf(path, sizeof path, "%s/num.jsonl", tmpdir());
    snprintf(demo, sizeof demo, "%s/policies/examples/demo-requests.jsonl", root());
    size_t dn;
    char *good = th_read_file(demo, &dn);
    cr_assert_not_null(good);
    char *lines[64];
    size_t ngood = 0;
    for (char *s = strtok(good, "\n"); s && ngood < 64; s = strtok(NULL, "\n")) lines[ngood++] = s;
    cr_assert_gt(ngood, 2);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    uint64_t seed = 7;
    for (int i = 0; i < 150000; i++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        unsigned r = (unsigned)(seed >> 33) % 1000;
        if (r < 50) {
            fprintf(f, "{\"id\":\"bad%d\",", i);
            for (unsigned k = (unsigned)(seed >> 40) % 4000; k; k--) fputc('x', f);
            fputc('\n', f);
        } else if (r < 60) {
            fputc('\n', f);
        } else if (i == 40000 || i == 90001) {
            fputs("{\"id\":\"big\",\"x\":\"", f);
            for (int k = 0; k < 1100000; k++) fputc('a', f);
            fputs("\"}\n", f);
        } else {
            fprintf(f, "%s\n", lines[(unsigned)i % ngood]);
        }
    }
    fputs("{not json", f);
    cr_assert_eq(fclose(f), 0);
    free(good);
    int st;
    char *out = th_runf(&st, "cd %s && P=%s/policies/examples/demo.pcr && "
                        "%s/pcrvm -j 1 --stats $P num.jsonl > n1.txt 2> s1.txt; "
                        "%s/pcrvm -j 2 --stats $P num.jsonl > n2.txt 2> s2.txt; "
                        "%s/pcrvm -j 3 $P num.jsonl > n3.txt; "
                        "cat num.jsonl | %s/pcrvm -j 2 $P > n2p.txt; "
                        "cmp n1.txt n2.txt && cmp n1.txt n3.txt && cmp n1.txt n2p.txt && "
                        "grep -v -e '^throughput' -e '^peak_rss' -e '^records' s1.txt > c1 && "
                        "grep -v -e '^throughput' -e '^peak_rss' -e '^records' s2.txt > c2 && cmp c1 c2 && "
                        "wc -l < n2.txt && " NUMBERS_AWK " n3.txt",
                        tmpdir(), root(), bin(), bin(), bin(), bin());
    unsigned long nlines = 0, errs = 0, bad = 1;
    cr_assert_eq(sscanf(out, "%lu\n%lu %lu", &nlines, &errs, &bad), 3, "%s", out);
    cr_assert_eq(nlines, 150001, "every line, the last one without a newline too: %s", out);
    cr_assert_gt(errs, 7000, "%s", out);
    cr_assert_eq(bad, 0, "every error line names its own record number: %s", out);
    free(out);
}

/* Writes to f the line of `len` bytes (its newline included, len > 160)
 * that is the demo record `good` with an id of its own and padding (an
 * unknown key), or, when bad, a malformed one of that length. */
static void put_line_of(FILE *f, const char *good, int i, size_t len, bool bad)
{
    char head[64];
    int hn = snprintf(head, sizeof head, bad ? "{\"id\":\"bad%d\",\"pad\":\"" : "{\"id\":\"e%d-", i);
    const char *rest = bad ? "" : strstr(good, "\"id\":\"") + 6; /* from the old id on */
    size_t gn = strlen(rest); /* ends in '}' */
    size_t fixed = (size_t)hn + (bad ? 1 : gn - 1 + 8 + 3); /* all but the padding, the newline too */
    cr_assert_geq(len, fixed, "a line of %zu bytes", len);
    fputs(head, f);
    if (bad) {
        for (size_t k = fixed; k < len; k++) fputc('x', f);
        fputc('\n', f);
        return;
    }
    fwrite(rest, 1, gn - 1, f);
    fputs(",\"pad\":\"", f);
    for (size_t k = fixed; k < len; k++) fputc('a', f);
    fputs("\"}\n", f);
}

/* -j N reads a regular file by ranges of 512 KiB (RANGE_BYTES in
 * src/run.c, docs/cli.md), each thread its own
 * (a line belongs to the range it starts in): lines whose newline falls
 * two bytes before a range's edge to two after it, over-long lines that
 * cover whole ranges, lines of exactly 1 MiB and one byte more, malformed
 * lines (their error names the record), and a last line without its
 * newline across an edge: -j 2, 3 and 5 write what -j 1 writes, with the
 * same counts. From standard input at an offset, it reads from there on
 * and leaves the offset at the end. */
Test(harden_threads, ranges_of_a_file_cut_anywhere_give_the_same_decisions, .timeout = 120)
{
    enum { RANGE = 512 << 10, MAX_LINE = 1 << 20 };
    char path[200], demo[4400];
    snprintf(path, sizeof path, "%s/edges.jsonl", tmpdir());
    snprintf(demo, sizeof demo, "%s/policies/examples/demo-requests.jsonl", root());
    char *good = slurp(demo);
    char *nl = strchr(good, '\n');
    cr_assert_not_null(nl);
    *nl = '\0';
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    size_t pos = 0;
    int i = 0;
    unsigned long nlong = 0;
    for (unsigned k = 1; k <= 40; k++) {
        size_t edge = (size_t)k * RANGE;
        if (edge <= pos + 400) continue; /* a long line passed it */
        int shift = (int)(k % 5) - 2;    /* the next line starts at edge + shift */
        while (edge - pos > 600) {
            size_t len = 170 + (size_t)(i * 37 % 200);
            put_line_of(f, good, i, len, i % 7 == 3);
            pos += len;
            i++;
        }
        size_t len = edge + (size_t)(shift + 2) - 2 - pos;
        put_line_of(f, good, i, len, i % 7 == 3);
        pos += len;
        i++;
        if (k % 9 == 4) { /* over-long, across more than two ranges */
            put_line_of(f, good, i++, MAX_LINE + RANGE + k, false);
            pos += MAX_LINE + RANGE + k;
            nlong++;
        } else if (k % 9 == 6) { /* the longest line kept, and one byte more */
            put_line_of(f, good, i++, MAX_LINE + 1, false);
            put_line_of(f, good, i++, MAX_LINE + 2, false);
            pos += 2 * MAX_LINE + 3;
            nlong++;
        }
    }
    cr_assert_eq((size_t)ftell(f), pos, "the lines have the lengths meant");
    fputs("{\"id\":\"last\",", f); /* malformed, no newline, across the next edge */
    for (size_t k = pos + 13; k < (pos / RANGE + 1) * RANGE + 100; k++) fputc('x', f);
    cr_assert_eq(fclose(f), 0);
    free(good);
    int st;
    char *out = th_runf(&st, "cd %s && P=%s/policies/examples/demo.pcr && "
                        "%s/pcrvm -j 1 --stats $P edges.jsonl > e1.txt 2> s1.txt; "
                        "for j in 2 3 5; do %s/pcrvm -j $j --stats $P edges.jsonl > e$j.txt 2> s$j.txt; done; "
                        "grep -v -e '^throughput' -e '^peak_rss' -e '^records' s1.txt > c1; "
                        "for j in 2 3 5; do cmp e1.txt e$j.txt || echo \"-j $j differs\"; "
                        "grep -v -e '^throughput' -e '^peak_rss' -e '^records' s$j.txt > c$j; "
                        "cmp -s c1 c$j || echo \"-j $j counts differ\"; done; "
                        "tail -c +1000001 edges.jsonl | %s/pcrvm -j 1 $P > tail1.txt; "
                        "(python3 -c 'import os; os.lseek(0, 1000000, 0)' && %s/pcrvm -j 3 $P > tail3.txt && "
                        "cat > after.txt) < edges.jsonl; cmp tail1.txt tail3.txt || echo 'at an offset: differs'; "
                        "wc -c < after.txt; wc -l < edges.jsonl; wc -l < e2.txt; grep -c 'line longer than' e2.txt; "
                        NUMBERS_AWK " e3.txt",
                        tmpdir(), root(), bin(), bin(), bin(), bin());
    unsigned long after = 1, newlines = 0, lines = 0, longs = 0, errs = 0, bad = 1;
    cr_assert_eq(sscanf(out, "%lu\n%lu\n%lu\n%lu\n%lu %lu", &after, &newlines, &lines, &longs, &errs, &bad), 6,
                 "%s", out);
    cr_assert_eq(after, 0, "the offset is left at the end: %s", out);
    cr_assert_eq(lines, newlines + 1, "every line, the last one without a newline too: %s", out);
    cr_assert_eq(longs, nlong, "every over-long line and line of 1 MiB + 1: %s", out);
    cr_assert_geq(nlong, 4, "%s", out);
    cr_assert_gt(errs, 1000, "%s", out);
    cr_assert_eq(bad, 0, "every error line names its own record number: %s", out);
    free(out);
}

/* The start of a shim test's commands, given tmpdir(), root() and root():
 * in the scratch directory, P is the demo policy and FILE holds 30,000
 * demo records. */
#define SHIM_BATCH(file)                                                                        \
    "cd %s && P=%s/policies/examples/demo.pcr && "                                              \
    "yes \"$(cat %s/policies/examples/demo-requests.jsonl)\" | head -n 30000 > " file " && "
/* Lets a sanitizer build run with a shim preloaded before its runtime. */
#define SHIM_ASAN "export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0; "

/* Builds tests/unit/NAME.c into NAME.so in the scratch directory, to be
 * preloaded (LD_PRELOAD); skips the test when it cannot be built. */
static void build_shim(const char *name)
{
    int st;
    char *out = th_runf(&st, "cd %s && cc -shared -fPIC -o %s.so %s/tests/unit/%s.c -ldl 2>&1 && echo built",
                        tmpdir(), name, root(), name);
    if (st != 0 || !strstr(out, "built")) cr_skip_test("cannot build %s: %s", name, out);
    free(out);
}

/* A file with 4 KiB that cannot be read (tests/unit/eio_shim.c, preloaded,
 * fails read and pread there with EIO, after 300 ms): -j 1 and -j 3 both
 * say so and exit 2, and what they wrote is whole decision lines, the
 * first ones of a clean run, in order: nothing after the bad bytes,
 * though the rest of the file reads, and the other threads decide the
 * ranges after them while the failing read waits (-j 3 stops at the range
 * that failed, so it writes no more than -j 1). */
Test(harden_threads, a_read_error_part_way_keeps_the_decisions_before_it, .timeout = 120)
{
    int st;
    build_shim("eio_shim");
    char *out = th_runf(&st, SHIM_BATCH("ok.jsonl")
                        "%s/pcrvm -j 1 $P ok.jsonl > clean.txt && "
                        SHIM_ASAN
                        "for j in 1 3; do LD_PRELOAD=./eio_shim.so PCR_EIO_AT=1500000 PCR_EIO_LEN=4096 PCR_EIO_DELAY_MS=300 "
                        "%s/pcrvm -j $j $P ok.jsonl > bad$j.txt 2> err$j.txt; echo \"status $?\"; cat err$j.txt; done; "
                        "for j in 1 3; do n=$(wc -c < bad$j.txt); head -c $n clean.txt | cmp -s - bad$j.txt || "
                        "echo \"-j $j: not the clean run's first lines\"; tail -c 1 bad$j.txt | od -An -c; done; "
                        "wc -l < bad1.txt; wc -l < bad3.txt; wc -l < clean.txt",
                        tmpdir(), root(), root(), bin(), bin());
    unsigned s1 = 0, s3 = 0;
    unsigned long l1 = 0, l3 = 0, lc = 0;
    char e1[200] = "", e3[200] = "", t1[8] = "", t3[8] = "";
    cr_assert_eq(sscanf(out, "status %u\n%199[^\n]\nstatus %u\n%199[^\n]\n %7s\n %7s\n%lu\n%lu\n%lu", &s1, e1, &s3, e3,
                        t1, t3, &l1, &l3, &lc),
                 9, "%s", out);
    cr_assert_eq(s1, 2, "%s", out);
    cr_assert_eq(s3, 2, "%s", out);
    cr_assert_str_eq(e1, "pcrvm: error reading the input: Input/output error", "%s", out);
    cr_assert_str_eq(e3, e1, "%s", out);
    cr_assert_str_eq(t1, "\\n", "-j 1 ends in a whole line: %s", out);
    cr_assert_str_eq(t3, "\\n", "-j 3 ends in a whole line: %s", out);
    cr_assert_gt(l3, 5000, "-j 3 wrote the ranges before the one that failed: %s", out);
    cr_assert_leq(l3, l1, "%s", out);
    cr_assert_lt(l1, lc, "%s", out);
    free(out);
}

/* A file that changes size while pcrvm reads it (tests/unit/resize_shim.c,
 * preloaded, changes it after pcrvm has looked at it and before it reads
 * a byte of it). Grown: -j 3 reads it up to the size it had when the run
 * began (docs/cli.md), so it writes what -j 1 writes for the file as it
 * was, its last line (which had no newline) ending there, whereas -j 1
 * reads on to the end it finds, into the bytes appended to that line.
 * Cut short in its third range: -j 1 and -j 3 both read to the new end
 * and write what -j 1 writes for the file cut beforehand. */
Test(harden_threads, a_file_that_changes_size_while_it_is_read, .timeout = 120)
{
    int st;
    build_shim("resize_shim");
    char *out = th_runf(&st, SHIM_BATCH("whole.jsonl")
                        "head -c -1 whole.jsonl > was.jsonl && head -n 500 whole.jsonl > more.jsonl && "
                        "sed -i '1s/^/xx/' more.jsonl && head -c 1500003 whole.jsonl > cut.jsonl && "
                        "%s/pcrvm -j 1 $P was.jsonl > was.txt; %s/pcrvm -j 1 $P cut.jsonl > cut.txt; "
                        SHIM_ASAN
                        "for j in 1 3; do cp was.jsonl grow$j.jsonl && cp whole.jsonl cut$j.jsonl && "
                        "LD_PRELOAD=./resize_shim.so PCR_RESIZE_FILE=grow$j.jsonl PCR_RESIZE_APPEND=more.jsonl "
                        "%s/pcrvm -j $j $P grow$j.jsonl > grow$j.txt; "
                        "LD_PRELOAD=./resize_shim.so PCR_RESIZE_FILE=cut$j.jsonl PCR_RESIZE_TO=1500003 "
                        "%s/pcrvm -j $j $P cut$j.jsonl > cut$j.txt; done; "
                        "cmp grow3.txt was.txt || echo 'grown: -j 3 read past the size the file had'; "
                        "cmp cut1.txt cut.txt || echo 'cut: -j 1 differs'; cmp cut3.txt cut.txt || echo 'cut: -j 3 differs'; "
                        "wc -c < was.jsonl; wc -c < grow3.jsonl; wc -c < cut3.jsonl; "
                        "wc -l < was.txt; wc -l < grow1.txt; wc -l < cut.txt; "
                        "tail -n 1 was.txt | grep -c '\"error\"'; sed -n 30000p grow1.txt | grep -c 'unexpected data'",
                        tmpdir(), root(), root(), bin(), bin(), bin(), bin());
    unsigned long was = 0, grown = 0, cut = 0, lwas = 0, lgrow1 = 0, lcut = 0, lasterr = 1, joined = 0;
    cr_assert_eq(sscanf(out, "%lu\n%lu\n%lu\n%lu\n%lu\n%lu\n%lu\n%lu", &was, &grown, &cut, &lwas, &lgrow1, &lcut,
                        &lasterr, &joined),
                 8, "%s", out);
    cr_assert_gt(was, 3 * (512 << 10), "the file spans several ranges: %s", out);
    cr_assert_gt(grown, was, "the shim grew the file: %s", out);
    cr_assert_eq(cut, 1500003, "the shim cut the file: %s", out);
    cr_assert_eq(lwas, 30000, "%s", out);
    cr_assert_eq(lasterr, 0, "the last line, without its newline, is a record: %s", out);
    cr_assert_eq(lgrow1, 30000 + 499, "-j 1 reads the lines appended: %s", out);
    cr_assert_eq(joined, 1, "-j 1 reads the last line on into the bytes appended to it: %s", out);
    cr_assert_gt(lcut, 10000, "%s", out);
    free(out);
}

/* Batches of 1- and 2-byte lines, over 260,000 of them in one batch, most
 * malformed: every record still has its own number, and -j 2 writes what
 * -j 1 writes. */
Test(harden_threads, j2_batches_of_many_short_lines)
{
    char path[200], demo[4400];
    snprintf(path, sizeof path, "%s/short.jsonl", tmpdir());
    snprintf(demo, sizeof demo, "%s/policies/examples/demo-requests.jsonl", root());
    size_t dn;
    char *good = th_read_file(demo, &dn);
    cr_assert_not_null(good);
    char *nl = strchr(good, '\n');
    cr_assert_not_null(nl);
    *nl = '\0';
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 300000; i++) fputs(i % 1000 == 999 ? good : i % 3 ? "x" : "", f), fputc('\n', f);
    cr_assert_eq(fclose(f), 0);
    free(good);
    int st;
    char *out = th_runf(&st, "cd %s && P=%s/policies/examples/demo.pcr && "
                        "%s/pcrvm -j 1 $P short.jsonl > t1.txt; %s/pcrvm -j 2 $P short.jsonl > t2.txt; "
                        "cmp t1.txt t2.txt && wc -l < t2.txt && " NUMBERS_AWK " t2.txt",
                        tmpdir(), root(), bin(), bin());
    unsigned long nlines = 0, errs = 0, bad = 1;
    cr_assert_eq(sscanf(out, "%lu\n%lu %lu", &nlines, &errs, &bad), 3, "%s", out);
    cr_assert_eq(nlines, 300000, "%s", out);
    cr_assert_eq(errs, 299700, "%s", out);
    cr_assert_eq(bad, 0, "every error line names its own record number: %s", out);
    free(out);
}
