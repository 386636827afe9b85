/* test_lint_solve.c: the lint solver agrees with the VM. For every rule of
 * every shipped policy, requests drawn from the boxes where the solver says
 * the rule fires make the VM's evaluation of the rule true (inside its
 * window), and requests drawn from the boxes where it says the rule does
 * not fire make it false (or fall outside the window). The lints, coverage
 * and diff all rest on this. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#include "compile.h"
#include "diag.h"
#include "lint_solve.h"
#include "rec.h"
#include "sema.h"
#include "vm.h"

enum { BOXES_PER_RULE = 8 };

typedef struct Tally {
    size_t fires, not_fires; /* witnesses checked */
    size_t rules;            /* rules whose regions were exact */
} Tally;

/* Decodes witness json for p; the record (decoder-owned) or a failed test. */
static const Record *decode(RecDecoder *dec, const char *json)
{
    const Record *r = rec_decode(dec, json, strlen(json), 1);
    cr_assert_not_null(r, "witness not accepted: %s: %s", json, rec_error(dec));
    return r;
}

static bool in_window(const Prog *p, const SRule *rule, const Record *rec)
{
    int32_t day = (int32_t)rec->v[p->f_service_date].i;
    return day >= rule->eff_from && day <= rule->eff_through && day >= p->eff_from && day <= p->eff_through;
}

static void check_policy(const Sema *s, const Prog *p, void *arg)
{
    Tally *t = arg;
    Arena a;
    arena_init(&a);
    Solver sv;
    lsol_init(&sv, &a, &s->m);
    RecDecoder *dec = rec_decoder_new(p);
    Vm *vm = vm_new(p);
    for (uint32_t i = 0; i < s->m.nrules; i++) {
        const SRule *r = &s->m.rules[i];
        if (!r->when) continue;
        sv.approx = sv.overflow = false;
        BoxList all = lsol_all(&sv, s->m.eff_from, s->m.eff_through);
        BoxList yes = lsol_fires(&sv, all, r);
        BoxList no = lsol_not_fires(&sv, all, r);
        if (sv.approx || sv.overflow) continue;
        t->rules++;
        for (uint32_t k = 0; k < 2; k++) {
            BoxList l = k ? no : yes;
            for (uint32_t j = 0; j < l.n && j < BOXES_PER_RULE; j++) {
                Buf w = {0};
                if (!lsol_witness(&sv, &l.v[j], r->id, &w)) continue;
                buf_putc(&w, '\0');
                const Record *rec = decode(dec, w.p);
                uint64_t missing;
                int v = vm_eval_rule(vm, rec, i, &missing);
                bool fires = in_window(p, r, rec) && v == 1;
                if (k == 0) {
                    cr_assert(fires, "rule %s: solver says it fires on %s; the VM says %d", r->id, w.p, v);
                    t->fires++;
                } else {
                    cr_assert(!fires && (v == 0 || !in_window(p, r, rec)),
                              "rule %s: solver says it does not fire on %s; the VM says %d", r->id, w.p, v);
                    t->not_fires++;
                }
                buf_free(&w);
            }
        }
    }
    vm_free(vm);
    rec_decoder_free(dec);
    arena_free(&a);
}

static void check_file(const char *rel, Tally *t)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", th_root(), rel);
    size_t len;
    char *text = th_read_file(path, &len);
    cr_assert_not_null(text, "cannot read %s", path);
    Diags *d = diags_new();
    Arena a;
    arena_init(&a);
    char stdlib[512];
    snprintf(stdlib, sizeof stdlib, "%s/policies", th_root());
    CompileOpts co = {.inspect = check_policy, .inspect_arg = t, .stdlib_dir = stdlib};
    CompileOut out;
    bool ok = compile_program(&a, d, path, text, len, &co, &out);
    cr_assert(ok, "%s does not compile", rel);
    prog_free(out.prog);
    arena_free(&a);
    pcr_diags_free(d);
}

Test(lint_solve, agrees_with_the_vm_on_every_shipped_rule)
{
    Tally t = {0};
    const char *files[] = {"policies/alliant.pcr", "policies/cigna.pcr", "policies/healthlink.pcr",
                           "policies/ibx.pcr", "policies/examples/demo.pcr"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) check_file(files[i], &t);
    /* Most rules are exact, and both kinds of witness were checked. */
    cr_assert_gt(t.rules, 200, "only %zu rules were exact", t.rules);
    cr_assert_gt(t.fires, 200);
    cr_assert_gt(t.not_fires, 400);
}
