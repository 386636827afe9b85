/* test_peers.c: what reading the peer benchmark's records as they are
 * needs, through the real pcrc and pcrvm: policies that decide several
 * payers (routing, the overlap check, the listing), code prefixes of any
 * length, lists of {"system", "code"} objects; and, when ../shared/peers
 * and Node.js are there, bench/peers/policy.pcr deciding the benchmark's
 * records exactly as the reference implementation does. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static const char *tmpdir(void) { return th_tmpdir("peers"); }

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir(), name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static const char shared_src[] =
    "use std.request\n"
    "policy shared { payer \"north\", \"south\" title \"Shared\" version \"1\" effective 2026-01-01 }\n"
    "codeset chemo { HCPCS J9* }\n"
    "rule chemo \"Chemotherapy\" { when diagnoses any in { ICD10 O* } or code in chemo\n"
    "                             require prior_auth }\n"
    "rule south \"South only\" { when payer == \"south\" require notification }\n"
    "test \"first payer by default\" { given { service_date: 2026-03-02, diagnoses: none, code: \"J9035\" } expect prior_auth rules [chemo] }\n";

Test(peers, one_policy_decides_several_payers)
{
    write_file("shared.pcr", shared_src);
    write_file("recs.jsonl",
               "{\"id\":\"a\",\"payer\":\"north\",\"service_date\":\"2026-03-02\",\"code\":\"J9999\"}\n"
               "{\"id\":\"b\",\"payer\":\"south\",\"service_date\":\"2026-03-02\",\"code\":\"J8999\"}\n"
               "{\"id\":\"c\",\"payer\":\"east\",\"service_date\":\"2026-03-02\",\"code\":\"J9035\"}\n"
               "{\"id\":\"d\",\"payer\":\"north\",\"service_date\":\"2026-03-02\","
               "\"diagnoses\":[\"O80\"]}\n"
               "{\"id\":\"e\",\"payer\":\"north\",\"service_date\":\"2026-03-02\","
               "\"code\":null,\"diagnoses\":[\"P80\"]}\n");
    int st;
    char *out = th_runf(&st, "%s/pcrvm -I policies %s/shared.pcr %s/recs.jsonl | "
                        "sed 's/.*\"id\":\"\\([a-z]*\\)\",\"decision\":\"\\([a-z_]*\\)\".*/\\1 \\2/'",
                        th_bin(), tmpdir(), tmpdir());
    cr_assert_eq(st, 0);
    cr_assert_str_eq(out, "a prior_auth\nb notification\nc no_policy\nd prior_auth\ne none\n");
    free(out);
    out = th_runf(&st, "%s/pcrc test -I policies %s/shared.pcr 2>&1", th_bin(), tmpdir());
    cr_assert_eq(st, 0, "%s", out);
    free(out);
    out = th_runf(&st, "%s/pcrc --disasm -I policies %s/shared.pcr | grep '^  payer'", th_bin(),
                  tmpdir());
    cr_assert_str_eq(out, "  payer      \"north\", \"south\"\n");
    free(out);
}

Test(peers, payers_overlap_when_one_is_shared)
{
    write_file("shared.pcr", shared_src);
    write_file("south.pcr",
               "use std.request\n"
               "policy south { payer \"west\", \"south\" title \"S\" version \"2\" effective 2026-06-01 }\n");
    write_file("later.pcr",
               "use std.request\n"
               "policy later { payer \"south\" title \"L\" version \"3\" effective 2025-01-01 "
               "through 2025-12-31 }\n");
    int st;
    char *out = th_runf(&st, "%s/pcrvm -I policies %s/shared.pcr %s/south.pcr /dev/null 2>&1",
                        th_bin(), tmpdir(), tmpdir());
    cr_assert_eq(st, 2, "%s", out);
    cr_assert_not_null(strstr(out, "policies shared@1 and south@2 both cover payer \"south\" on "
                                   "overlapping dates"),
                       "%s", out);
    free(out);
    /* the same payer on other dates is no overlap */
    out = th_runf(&st, "%s/pcrvm -I policies %s/shared.pcr %s/later.pcr /dev/null 2>&1", th_bin(),
                  tmpdir(), tmpdir());
    cr_assert_eq(st, 0, "%s", out);
    free(out);
}

Test(peers, payer_lists_are_checked)
{
    write_file("dup.pcr", "use std.request\n"
                          "policy d { payer \"a\", \"b\", \"a\" title \"D\" version \"1\" "
                          "effective 2026-01-01 }\n");
    write_file("empty.pcr", "use std.request\n"
                            "policy d { payer \"a\", \"\" title \"D\" version \"1\" "
                            "effective 2026-01-01 }\n");
    int st;
    char *out = th_runf(&st, "%s/pcrc --check --color=never -I policies %s/dup.pcr 2>&1",
                        th_bin(), tmpdir());
    cr_assert_eq(st, 1, "%s", out);
    cr_assert_not_null(strstr(out, "error[E125]: payer \"a\" is listed twice"), "%s", out);
    free(out);
    out = th_runf(&st, "%s/pcrc --check --color=never -I policies %s/empty.pcr 2>&1", th_bin(),
                  tmpdir());
    cr_assert_eq(st, 1, "%s", out);
    cr_assert_not_null(strstr(out, "error[E125]: a payer cannot be empty"), "%s", out);
    free(out);
}

Test(peers, prefixes_of_any_length)
{
    write_file("prefix.pcr",
               "use std.request\n"
               "policy p { payer \"p\" title \"P\" version \"1\" effective 2026-01-01 }\n"
               "rule ob \"O\" { when diagnoses any in { ICD10 O* } require prior_auth }\n"
               "rule z \"Z90.1\" { when diagnoses any in { ICD10 Z90.1* } require notification }\n"
               "rule k \"K08\" { when code in { HCPCS K08* } require prior_auth }\n"
               "rule c \"CPT 992\" { when code in { CPT 992* } require notification }\n"
               "test \"O\" { given { service_date: 2026-03-02, code: none, diagnoses: [\"O34.21\"] } expect prior_auth rules [ob] }\n"
               "test \"not O\" { given { service_date: 2026-03-02, code: none, diagnoses: [\"Q80\"] } expect none rules [] }\n"
               "test \"Z90.12\" { given { service_date: 2026-03-02, code: none, diagnoses: [\"Z9012\"] } expect notification rules [z] }\n"
               "test \"Z90.2\" { given { service_date: 2026-03-02, code: none, diagnoses: [\"Z90.2\"] } expect none rules [] }\n"
               "test \"K0813\" { given { service_date: 2026-03-02, diagnoses: none, code: \"K0813\" } expect prior_auth rules [k] }\n"
               "test \"K0001\" { given { service_date: 2026-03-02, diagnoses: none, code: \"K0001\" } expect none rules [] }\n"
               "test \"99213\" { given { service_date: 2026-03-02, diagnoses: none, code: \"99213\" } expect notification rules [c] }\n"
               "test \"99313\" { given { service_date: 2026-03-02, diagnoses: none, code: \"99313\" } expect none rules [] }\n");
    int st;
    char *out = th_runf(&st, "%s/pcrc test -I policies %s/prefix.pcr 2>&1", th_bin(), tmpdir());
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_not_null(strstr(out, "8 passed, 0 failed"), "%s", out);
    free(out);
}

/* The benchmark's own records, objects in `codes` and all, decided by
 * bench/peers/policy.pcr and by the reference Node.js program: every
 * record's decision, fired rules, member_responsible, due date and late
 * flag agree. make bench-peers runs the same check on 100,000 records. */
Test(peers, agrees_with_the_reference_on_the_benchmark_records, .timeout = 120)
{
    char peers[600];
    snprintf(peers, sizeof peers, "%s/../shared/peers", th_root());
    /* A skip, not a warning: Criterion exits 1 after a warning, which would
     * fail make test on a machine without ../shared. */
    if (access(peers, R_OK) != 0) {
        fprintf(stderr, "test_peers: skipped: %s is absent\n", peers);
        cr_skip_test("%s is absent", peers);
    }
    int st;
    free(th_runf(&st, "command -v node >/dev/null && command -v python3 >/dev/null"));
    if (st != 0) {
        fprintf(stderr, "test_peers: skipped: node or python3 is not installed "
                        "(make bench-peers installs them)\n");
        cr_skip_test("node or python3 is not installed");
    }
    const char *t = tmpdir();
    char *out = th_runf(&st,
                        "python3 %s/gen_requests.py 5000 -o %s/req.jsonl && "
                        "node %s/node/plain.js < %s/req.jsonl > %s/node.jsonl && "
                        "%s/pcrvm bench/peers/policy.pcr %s/req.jsonl > %s/pcr.jsonl && "
                        "python3 bench/peers/to_peers.py %s/req.jsonl %s/pcr.jsonl > %s/pcrp.jsonl && "
                        "python3 %s/check_agree.py -n 5000 node=%s/node.jsonl pcr=%s/pcrp.jsonl",
                        peers, t, peers, t, t, th_bin(), t, t, t, t, t, peers, t, t);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert_not_null(strstr(out, "pcr                    agree: 0/5000 records differ"), "%s",
                       out);
    free(out);
}

/* The rule index is keyed on the list of codes when the rules test it
 * (bench/peers/policy.pcr has no `code` field): a record runs the 8 rules
 * that test no code set plus those of its codes' sets, unless its list is
 * absent (every rule: each may be unknown) or longer than the index looks
 * up (every rule again); a list that does not apply selects the 8. */
Test(peers, rules_selected_by_a_list_of_codes)
{
    char many[2048];
    size_t o = (size_t)snprintf(many, sizeof many, "{\"id\":\"e\",\"payer\":\"ibx\","
                                                   "\"service_date\":\"2026-03-02\",\"codes\":[");
    for (int i = 0; i < 17; i++) o += (size_t)snprintf(many + o, sizeof many - o, "%s\"99213\"", i ? "," : "");
    snprintf(many + o, sizeof many - o, "]}\n");
    char recs[4096];
    snprintf(recs, sizeof recs, "%s%s%s%s%s",
             "{\"id\":\"a\",\"payer\":\"ibx\",\"service_date\":\"2026-03-02\","
             "\"codes\":[{\"system\":\"CPT\",\"code\":\"99213\"}]}\n",
             "{\"id\":\"b\",\"payer\":\"ibx\",\"service_date\":\"2026-03-02\","
             "\"setting\":\"office\",\"price\":500,"
             "\"codes\":[{\"system\":\"CPT\",\"code\":\"99213\"},\"70551\",\"E0601\"]}\n",
             "{\"id\":\"c\",\"payer\":\"ibx\",\"service_date\":\"2026-03-02\",\"codes\":[]}\n",
             "{\"id\":\"d\",\"payer\":\"ibx\",\"service_date\":\"2026-03-02\"}\n", many);
    write_file("sel.jsonl", recs);
    int st;
    char *out = th_runf(&st, "%s/pcrvm --explain=/dev/stdout bench/peers/policy.pcr %s/sel.jsonl | "
                             "grep 'rules selected' | cut -d'(' -f1",
                        th_bin(), tmpdir());
    cr_assert_eq(st, 0);
    cr_assert_str_eq(out, "  8 of 42 rules selected \n"   /* 99213 is in no set */
                          "  11 of 42 rules selected \n"  /* + MRI (R01), DME (R18), CPAP (R20) */
                          "  8 of 42 rules selected \n"   /* [] does not apply */
                          "  42 of 42 rules selected \n"  /* absent: any rule may be unknown */
                          "  42 of 42 rules selected \n"); /* 17 codes: more than it looks up */
    free(out);
    /* and what the rules decide is what every rule would decide: the
     * explanation's fired rules are the decision's */
    out = th_runf(&st, "%s/pcrvm bench/peers/policy.pcr %s/sel.jsonl | sed 's/^[^[]*\"rules\":\\(\\[[^]]*\\]\\).*/\\1/' | head -2",
                  th_bin(), tmpdir());
    cr_assert_str_eq(out, "[]\n[\"R01\",\"R20\"]\n");
    free(out);
}
