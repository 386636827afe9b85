/* crd.c: Coverage Requirements Discovery over CDS Hooks (crd.h).
 *
 * A hook request is read with jansson; each order it carries becomes one
 * PCR request record (the table in docs/crd.md, crd_record below), is
 * decided by the engine, and its decision line is turned into CRD's
 * coverage-information extension on a copy of the order (a systemAction
 * of type "update") plus one card for the clinician. Fields the FHIR
 * resources do not give are left out of the record, so PCR reports them in
 * `missing` when they matter. */
#include "crd.h"

#include <ctype.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CRD_EXT_URL "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
#define CRD_DETAIL_SYSTEM "urn:pcr:crd-detail"

enum { CRD_MAX_ORDERS = 1000 };

struct Crd {
    atomic_ullong counter; /* coverage-assertion-ids and card uuids made so far */
    char seed[17];         /* 16 hex digits from /dev/urandom, per process */
};

/* The services: id, hook, title, and whether the orders are appointments
 * or the encounter rather than draftOrders. */
typedef enum CrdSource { CRD_DRAFT_ORDERS, CRD_APPOINTMENTS, CRD_ENCOUNTER } CrdSource;
static const struct {
    const char *id, *hook, *title;
    CrdSource source;
} crd_services[] = {
    {"pcr-order-sign", "order-sign", "Coverage requirements for signed orders", CRD_DRAFT_ORDERS},
    {"pcr-order-select", "order-select", "Coverage requirements for selected orders",
     CRD_DRAFT_ORDERS},
    {"pcr-appointment-book", "appointment-book", "Coverage requirements for booked appointments",
     CRD_APPOINTMENTS},
    {"pcr-encounter-start", "encounter-start", "Coverage requirements for an admission or visit",
     CRD_ENCOUNTER},
};
enum { CRD_NSERVICES = sizeof crd_services / sizeof crd_services[0] };

Crd *crd_new(void)
{
    Crd *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    atomic_init(&c->counter, 0);
    unsigned char rnd[8] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? read(fd, rnd, sizeof rnd) : -1;
    if (fd >= 0) close(fd);
    if (got != (ssize_t)sizeof rnd) { /* no urandom: time and pid still differ per process */
        unsigned long long v = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 32);
        memcpy(rnd, &v, sizeof rnd);
    }
    for (int i = 0; i < 8; i++) snprintf(c->seed + 2 * i, 3, "%02x", rnd[i]);
    return c;
}

void crd_free(Crd *c) { free(c); }

/* ---- replies ---------------------------------------------------------------- */

static void crd_reply(CrdReply *r, unsigned status, json_t *o)
{
    r->status = status;
    r->body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    r->len = r->body ? strlen(r->body) : 0;
    json_decref(o);
}

static void crd_error(CrdReply *r, unsigned status, const char *msg)
{
    crd_reply(r, status, json_pack("{s:i,s:s}", "status", (int)status, "error", msg));
}

void crd_discovery(Crd *c, CrdReply *r)
{
    (void)c;
    json_t *list = json_array();
    for (size_t i = 0; i < CRD_NSERVICES; i++) {
        json_t *prefetch = json_pack("{s:s,s:s}", "patient", "Patient/{{context.patientId}}",
                                     "coverage",
                                     "Coverage?patient={{context.patientId}}&status=active");
        if (crd_services[i].source == CRD_ENCOUNTER || crd_services[i].source == CRD_DRAFT_ORDERS)
            json_object_set_new(prefetch, "encounter",
                                json_string("Encounter/{{context.encounterId}}"));
        json_array_append_new(
            list, json_pack("{s:s,s:s,s:s,s:s,s:o}", "hook", crd_services[i].hook, "id",
                            crd_services[i].id, "title", crd_services[i].title, "description",
                            "Da Vinci CRD (STU 2) coverage information from PCR policies: "
                            "coverage, prior authorization, notification and what is missing",
                            "prefetch", prefetch));
    }
    crd_reply(r, 200, json_pack("{s:o}", "services", list));
}

/* A card's uuid (CDS Hooks: what the EHR's feedback names): 15 hex digits
 * of the process's seed and 15 of a counter, laid out as a version-4 UUID. */
static void crd_card_uuid(Crd *c, char out[37])
{
    unsigned long long n = atomic_fetch_add(&c->counter, 1) + 1;
    char hex[33];
    snprintf(hex, sizeof hex, "%.12s4%.3s8%015llx", c->seed, c->seed + 12, n & 0xfffffffffffffffull);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static const char *crd_str(json_t *o, const char *key);

/* The index of the CDS service called id in crd_services, or
 * CRD_NSERVICES after replying 404 into r. */
static size_t crd_service_of(const char *id, CrdReply *r)
{
    for (size_t i = 0; i < CRD_NSERVICES; i++)
        if (strcmp(id, crd_services[i].id) == 0) return i;
    crd_error(r, 404, "no such CDS service (GET /cds-services lists them)");
    return CRD_NSERVICES;
}

/* POST /cds-services/{id}/feedback (CDS Hooks 2.0): checks the body's
 * form; r->note gets the items, compact JSON, for the server's log. */
void crd_feedback(Crd *c, const char *id, const char *body, size_t len, CrdReply *r)
{
    (void)c;
    size_t svc = crd_service_of(id, r);
    if (svc == CRD_NSERVICES) return;
    json_t *req = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
    json_t *items = json_object_get(req, "feedback");
    const char *problem = NULL;
    if (!json_is_object(req) || !json_is_array(items) || json_array_size(items) == 0)
        problem = "the body is not {\"feedback\":[...]} with at least one item";
    size_t i;
    json_t *it;
    json_array_foreach(problem ? NULL : items, i, it)
    {
        const char *outcome = crd_str(it, "outcome");
        if (!crd_str(it, "card") || !crd_str(it, "outcomeTimestamp"))
            problem = "a feedback item lacks \"card\" or \"outcomeTimestamp\"";
        else if (!outcome || (strcmp(outcome, "accepted") != 0 && strcmp(outcome, "overridden") != 0))
            problem = "a feedback item's \"outcome\" is not \"accepted\" or \"overridden\"";
        if (problem) break;
    }
    if (problem) {
        json_decref(req);
        crd_error(r, 400, problem);
        return;
    }
    r->note = json_dumps(items, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(req);
    crd_reply(r, 200, json_object());
}

/* ---- reading FHIR ------------------------------------------------------------- */

static const char *crd_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The first coding of a CodeableConcept (or of each in an array of them)
 * whose system is one of systems; NULL when none. */
static json_t *crd_coding(json_t *cc, const char *const *systems)
{
    if (json_is_array(cc)) {
        size_t i;
        json_t *v;
        json_array_foreach(cc, i, v)
        {
            json_t *c = crd_coding(v, systems);
            if (c) return c;
        }
        return NULL;
    }
    json_t *codings = json_object_get(cc, "coding");
    size_t i;
    json_t *c;
    json_array_foreach(codings, i, c)
    {
        const char *sys = crd_str(c, "system");
        for (size_t k = 0; sys && systems[k]; k++)
            if (strcmp(sys, systems[k]) == 0 && crd_str(c, "code")) return c;
    }
    return NULL;
}

static const char *const crd_cpt[] = {"http://www.ama-assn.org/go/cpt", NULL};
static const char *const crd_hcpcs[] = {"https://bluebutton.cms.gov/resources/codesystem/hcpcs",
                                        "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                                        NULL};
static const char *const crd_rev[] = {"https://www.nubc.org/CodeSystem/RevenueCodes", NULL};
static const char *const crd_icd10[] = {"http://hl7.org/fhir/sid/icd-10-cm", NULL};
static const char *const crd_pos[] = {
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set", NULL};
static const char *const crd_actcode[] = {"http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                          NULL};
static const char *const crd_priority[] = {
    "http://terminology.hl7.org/CodeSystem/v3-ActPriority", NULL};

/* A dateTime's day ("YYYY-MM-DD") into out (11 bytes); false when s does
 * not start with one. */
static bool crd_day(const char *s, char out[11])
{
    if (!s || strlen(s) < 10) return false;
    for (int i = 0; i < 10; i++)
        if (i == 4 || i == 7 ? s[i] != '-' : !isdigit((unsigned char)s[i])) return false;
    memcpy(out, s, 10);
    out[10] = '\0';
    return true;
}

/* A dateTime as PCR's datetime: "YYYY-MM-DDTHH:MM" (local time as written;
 * seconds and offset dropped), or the bare day. */
static json_t *crd_datetime(const char *s)
{
    char day[11];
    if (!crd_day(s, day)) return NULL;
    if (strlen(s) >= 16 && s[10] == 'T') return json_stringn(s, 16);
    return json_string(day);
}

/* The start of an occurrence[x] / period / timing. */
static const char *crd_occurrence(json_t *res)
{
    const char *s = crd_str(res, "occurrenceDateTime");
    if (!s) s = crd_str(json_object_get(res, "occurrencePeriod"), "start");
    if (!s) s = json_string_value(json_array_get(
        json_object_get(json_object_get(res, "occurrenceTiming"), "event"), 0));
    return s;
}

/* Age in whole years on day (both "YYYY-MM-DD"). */
static int crd_age(const char *birth, const char *day)
{
    int by, bm, bd, y, m, d;
    if (sscanf(birth, "%4d-%2d-%2d", &by, &bm, &bd) != 3 || sscanf(day, "%4d-%2d-%2d", &y, &m, &d) != 3)
        return -1;
    int age = y - by - ((m < bm || (m == bm && d < bd)) ? 1 : 0);
    return age;
}

/* A code of some coding -> PCR setting. */
typedef struct CrdSetting {
    const char *code, *setting;
} CrdSetting;

static const char *crd_setting_of(const CrdSetting *map, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(code, map[i].code) == 0) return map[i].setting;
    return NULL;
}

/* Place-of-service code (CMS) -> PCR setting. */
static const char *crd_pos_setting(const char *code)
{
    static const CrdSetting map[] = {
        {"11", "office"},         {"12", "home"},          {"19", "outpatient"},
        {"21", "inpatient"},      {"22", "outpatient"},    {"23", "emergency"},
        {"24", "ambulatory_surgery"}, {"31", "skilled_nursing"}, {"32", "skilled_nursing"},
        {"34", "hospice"},        {"41", "ambulance"},     {"42", "ambulance"},
        {"51", "inpatient"},      {"52", "partial_hospital"}, {"55", "residential"},
        {"56", "residential"},    {"61", "rehabilitation"}};
    return crd_setting_of(map, sizeof map / sizeof map[0], code);
}

/* Encounter.class (v3 ActCode) -> PCR setting. */
static const char *crd_class_setting(const char *code)
{
    static const CrdSetting map[] = {
        {"IMP", "inpatient"},  {"ACUTE", "inpatient"}, {"NONAC", "inpatient"},
        {"AMB", "outpatient"}, {"EMER", "emergency"},  {"HH", "home"},
        {"OBSENC", "observation"}, {"SS", "ambulatory_surgery"}};
    return crd_setting_of(map, sizeof map / sizeof map[0], code);
}

/* The hook's context: what every order of the request shares. */
typedef struct CrdCtx {
    json_t *coverage;  /* the Coverage resource */
    json_t *patient;   /* the Patient, or NULL */
    json_t *encounter; /* the Encounter, or NULL */
} CrdCtx;

static void crd_set_code(json_t *rec, json_t *cc)
{
    static const struct {
        const char *const *systems;
        const char *name;
    } order[] = {{crd_cpt, "CPT"}, {crd_hcpcs, "HCPCS"}, {crd_rev, "REV"}};
    for (size_t i = 0; i < 3; i++) {
        json_t *c = crd_coding(cc, order[i].systems);
        if (!c) continue;
        json_object_set(rec, "code", json_object_get(c, "code"));
        json_object_set_new(rec, "code_system", json_string(order[i].name));
        return;
    }
}

/* Maps one order (ServiceRequest, DeviceRequest, MedicationRequest,
 * Appointment or Encounter) to a PCR record: the table in docs/crd.md. */
static json_t *crd_record(const CrdCtx *cx, json_t *res)
{
    json_t *rec = json_object();
    const char *type = crd_str(res, "resourceType");
    const char *rid = crd_str(res, "id");
    char id[256];
    snprintf(id, sizeof id, "%s/%s", type ? type : "?", rid ? rid : "?");
    json_object_set_new(rec, "id", json_string(id));

    /* payer and plan from the Coverage */
    json_t *payor = json_array_get(json_object_get(cx->coverage, "payor"), 0);
    const char *payer = crd_str(json_object_get(payor, "identifier"), "value");
    if (!payer) payer = crd_str(payor, "display");
    if (payer) json_object_set_new(rec, "payer", json_string(payer));
    size_t i;
    json_t *cl;
    json_array_foreach(json_object_get(cx->coverage, "class"), i, cl)
    {
        json_t *pc = crd_coding(json_object_get(cl, "type"),
                                (const char *const[]){
                                    "http://terminology.hl7.org/CodeSystem/coverage-class", NULL});
        if (pc && strcmp(crd_str(pc, "code"), "plan") == 0 && crd_str(cl, "value"))
            json_object_set(rec, "plan", json_object_get(cl, "value"));
    }

    /* the service code and the dates, by resource type */
    const char *when = NULL, *asked = NULL;
    json_t *enc = cx->encounter;
    if (type && strcmp(type, "ServiceRequest") == 0) {
        crd_set_code(rec, json_object_get(res, "code"));
        when = crd_occurrence(res);
        asked = crd_str(res, "authoredOn");
        json_t *pos = crd_coding(json_object_get(res, "locationCode"), crd_pos);
        const char *setting = pos ? crd_pos_setting(crd_str(pos, "code")) : NULL;
        if (setting) json_object_set_new(rec, "setting", json_string(setting));
        json_t *q = json_object_get(json_object_get(res, "quantityQuantity"), "value");
        if (json_is_integer(q) || (json_is_real(q) && json_real_value(q) == (json_int_t)json_real_value(q)))
            json_object_set_new(rec, "units", json_integer((json_int_t)json_number_value(q)));
        if (crd_str(res, "priority") && strcmp(crd_str(res, "priority"), "stat") == 0)
            json_object_set_new(rec, "emergent", json_true());
    } else if (type && strcmp(type, "DeviceRequest") == 0) {
        crd_set_code(rec, json_object_get(res, "codeCodeableConcept"));
        when = crd_occurrence(res);
        asked = crd_str(res, "authoredOn");
    } else if (type && strcmp(type, "MedicationRequest") == 0) {
        crd_set_code(rec, json_object_get(res, "medicationCodeableConcept"));
        when = crd_str(json_object_get(json_object_get(res, "dispenseRequest"), "validityPeriod"),
                       "start");
        asked = crd_str(res, "authoredOn");
        if (!when) when = asked;
    } else if (type && strcmp(type, "Appointment") == 0) {
        crd_set_code(rec, json_object_get(res, "serviceType"));
        if (!json_object_get(rec, "code")) crd_set_code(rec, json_object_get(res, "appointmentType"));
        when = crd_str(res, "start");
        asked = crd_str(res, "created");
    } else if (type && strcmp(type, "Encounter") == 0) {
        crd_set_code(rec, json_object_get(res, "type"));
        when = crd_str(json_object_get(res, "period"), "start");
        enc = res;
    }
    json_t *reasons = json_array();
    json_t *cc;
    json_array_foreach(json_object_get(res, "reasonCode"), i, cc)
    {
        json_t *c = crd_coding(cc, crd_icd10);
        if (c) json_array_append(reasons, json_object_get(c, "code"));
    }
    if (json_array_size(reasons)) json_object_set(rec, "diagnoses", reasons);
    json_decref(reasons);

    /* setting and admission from the encounter */
    if (enc && !json_object_get(rec, "setting")) {
        json_t *cls = json_object_get(enc, "class"); /* a Coding in R4 */
        const char *sys = crd_str(cls, "system"), *code = crd_str(cls, "code");
        const char *setting = sys && code && strcmp(sys, crd_actcode[0]) == 0
                                  ? crd_class_setting(code) : NULL;
        if (setting) json_object_set_new(rec, "setting", json_string(setting));
    }
    if (enc) {
        json_t *p = crd_coding(json_object_get(enc, "priority"), crd_priority);
        const char *code = p ? crd_str(p, "code") : NULL;
        const char *adm = !code ? NULL
                          : strcmp(code, "EL") == 0 ? "elective"
                          : strcmp(code, "EM") == 0 ? "emergency"
                          : strcmp(code, "UR") == 0 ? "urgent" : NULL;
        if (adm) json_object_set_new(rec, "admission", json_string(adm));
    }

    char day[11];
    if (crd_day(when, day)) {
        json_object_set_new(rec, "service_date", json_string(day));
        const char *birth = crd_str(cx->patient, "birthDate");
        int age = birth ? crd_age(birth, day) : -1;
        if (age >= 0) json_object_set_new(rec, "member_age", json_integer(age));
    }
    json_t *req = crd_datetime(asked);
    if (req) json_object_set_new(rec, "requested_at", req);
    return rec;
}

/* ---- the decision line as CRD -------------------------------------------------- */

/* A key of the decision line as an array: absent or null reads as []. */
static json_t *crd_list(json_t *line, const char *key)
{
    json_t *v = json_object_get(line, key);
    return json_is_array(v) ? v : NULL;
}

static bool crd_has_outcome(json_t *list, const char *outcome)
{
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o)
    {
        const char *s = crd_str(o, "outcome");
        if (s && strcmp(s, outcome) == 0) return true;
    }
    return false;
}

/* "reviewer" may be a string, a list of strings or null: joined with ", ". */
static void crd_reviewer_text(json_t *v, char *buf, size_t n)
{
    buf[0] = '\0';
    if (json_is_string(v)) {
        snprintf(buf, n, "%s", json_string_value(v));
        return;
    }
    size_t i, k = 0;
    json_t *s;
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s) || k >= n) continue;
        k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? ", " : "", json_string_value(s));
    }
}

static json_t *crd_ext(const char *url, const char *vkey, json_t *value)
{
    return json_pack("{s:s,s:o}", "url", url, vkey, value);
}

static json_t *crd_detail(const char *code, const char *display, const char *value)
{
    json_t *cc = json_pack("{s:[{s:s,s:s,s:s}]}", "coding", "system", CRD_DETAIL_SYSTEM, "code",
                           code, "display", display);
    return json_pack("{s:s,s:[o,o]}", "url", "detail", "extension",
                     crd_ext("code", "valueCodeableConcept", cc),
                     crd_ext("value", "valueString", json_string(value)));
}

/* The information-needed code of a missing PCR field, or NULL when CRD's
 * value set has none for it (it is still listed in the "missing" detail). */
static const char *crd_info_needed(const char *field)
{
    if (strcmp(field, "setting") == 0 || strcmp(field, "state") == 0) return "location";
    if (strcmp(field, "service_date") == 0 || strcmp(field, "requested_at") == 0 ||
        strcmp(field, "stay_hours") == 0)
        return "timeframe";
    if (strcmp(field, "network") == 0) return "performer";
    return NULL;
}

/* Appends "a, b, c" of a string array to buf. */
static void crd_join(json_t *arr, char *buf, size_t n)
{
    size_t i, k = strlen(buf);
    json_t *s;
    json_array_foreach(arr, i, s)
    {
        if (!json_is_string(s) || k >= n) continue;
        k += (size_t)snprintf(buf + k, n - k, "%s%s", i ? ", " : "", json_string_value(s));
    }
}

/* After snprintf truncated buf (n bytes), drops a UTF-8 sequence the cut
 * left incomplete, so that the text stays valid for JSON. */
static void crd_cut(char *buf, size_t n, int wrote)
{
    if (wrote < 0 || (size_t)wrote < n) return;
    size_t m = strlen(buf);
    size_t k = m;
    while (k > 0 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80) k--;
    if (k > 0 && (unsigned char)buf[k - 1] >= 0xC0) {
        unsigned char lead = (unsigned char)buf[k - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (m - (k - 1) < need) buf[k - 1] = '\0';
    }
}

typedef struct CrdOut {
    json_t *cards, *actions;
} CrdOut;

/* Adds the card and the update action for one order and its decision. */
/* Every card carries, in its CDS Hooks "extension", the PCR record the
 * order was mapped to and the decision line (for audits and tests). */
static json_t *crd_card_ext(json_t *rec, json_t *line)
{
    return json_pack("{s:O,s:O}", "pcr-record", rec, "pcr-decision", line ? line : json_null());
}

static void crd_answer(Crd *c, const CrdCtx *cx, json_t *order, json_t *rec, json_t *line,
                       const char *today, CrdOut *out)
{
    const char *decision = crd_str(line, "decision");
    const char *policy = crd_str(line, "policy");
    char oid[256];
    snprintf(oid, sizeof oid, "%s/%s", crd_str(order, "resourceType"),
             crd_str(order, "id") ? crd_str(order, "id") : "?");
    char label[200];
    snprintf(label, sizeof label, "PCR %s", policy ? policy : "coverage rules");
    if (!decision || strcmp(decision, "error") == 0 || strcmp(decision, "no_policy") == 0) {
        char msg[600];
        if (decision && strcmp(decision, "no_policy") == 0)
            snprintf(msg, sizeof msg, "No coverage rules for %s: no policy of this payer is in "
                     "effect on the service date.", oid);
        else
            snprintf(msg, sizeof msg, "Coverage requirements for %s could not be determined: %s",
                     oid, crd_str(line, "error") ? crd_str(line, "error") : "unknown error");
        char uuid[37];
        crd_card_uuid(c, uuid);
        json_array_append_new(
            out->cards, json_pack("{s:s,s:s,s:s,s:s,s:{s:s},s:o}", "uuid", uuid, "summary",
                                  "Coverage requirements unknown for this order", "detail", msg,
                                  "indicator", "info", "source", "label", label, "extension",
                                  crd_card_ext(rec, line)));
        return;
    }
    json_t *obligations = crd_list(line, "obligations");
    json_t *possible = crd_list(line, "possible");
    json_t *missing = crd_list(line, "missing");
    bool certain_nc = strcmp(decision, "not_covered") == 0 || crd_has_outcome(obligations, "not_covered");
    bool certain_pa = strcmp(decision, "prior_auth") == 0 || crd_has_outcome(obligations, "prior_auth");
    bool certain_notif = strcmp(decision, "notification") == 0 ||
                         crd_has_outcome(obligations, "notification");
    bool info = strcmp(decision, "info_needed") == 0;
    /* Before possible outcomes were listed, info_needed said only that
     * something might apply: read that as prior auth possibly needed. */
    bool maybe_nc = crd_has_outcome(possible, "not_covered");
    bool maybe_pa = crd_has_outcome(possible, "prior_auth") || (info && !possible);
    bool maybe_notif = crd_has_outcome(possible, "notification");

    const char *covered = certain_nc ? "not-covered" : maybe_nc ? "conditional" : "covered";
    const char *pa = certain_nc   ? NULL
                     : certain_pa ? "auth-needed"
                     : maybe_pa   ? "conditional"
                                  : "no-auth";
    bool conditional = strcmp(covered, "conditional") == 0 || (pa && strcmp(pa, "conditional") == 0);

    char cov_ref[300] = "Coverage";
    if (crd_str(cx->coverage, "id"))
        snprintf(cov_ref, sizeof cov_ref, "Coverage/%s", crd_str(cx->coverage, "id"));
    char aid[96];
    snprintf(aid, sizeof aid, "pcr-%s-%lld-%llu", c->seed, (long long)time(NULL),
             (unsigned long long)atomic_fetch_add(&c->counter, 1) + 1);

    json_t *ext = json_array();
    json_array_append_new(ext, crd_ext("coverage", "valueReference",
                                       json_pack("{s:s}", "reference", cov_ref)));
    json_array_append_new(ext, crd_ext("covered", "valueCode", json_string(covered)));
    if (pa) json_array_append_new(ext, crd_ext("pa-needed", "valueCode", json_string(pa)));
    if (conditional) {
        /* each information-needed code once */
        const char *seen[3] = {0};
        size_t nseen = 0, i;
        json_t *f;
        json_array_foreach(missing, i, f)
        {
            const char *code = json_is_string(f) ? crd_info_needed(json_string_value(f)) : NULL;
            bool dup = false;
            for (size_t k = 0; code && k < nseen; k++) dup = dup || strcmp(seen[k], code) == 0;
            if (!code || dup || nseen == 3) continue;
            seen[nseen++] = code;
            json_array_append_new(ext, crd_ext("info-needed", "valueCode", json_string(code)));
        }
    }
    size_t i;
    json_t *rs;
    json_array_foreach(crd_list(line, "reasons"), i, rs)
    {
        char text[1024];
        const char *title = crd_str(rs, "title"), *cite = crd_str(rs, "citation");
        int wrote = snprintf(text, sizeof text, "%s%s%s%s", title ? title : crd_str(rs, "rule"),
                             cite ? " (" : "", cite ? cite : "", cite ? ")" : "");
        crd_cut(text, sizeof text, wrote);
        json_array_append_new(ext, crd_ext("reason", "valueCodeableConcept",
                                           json_pack("{s:s}", "text", text)));
    }
    char reviewer[512], buf[1024];
    crd_reviewer_text(json_object_get(line, "reviewer"), reviewer, sizeof reviewer);
    const char *deadline = crd_str(line, "deadline");
    if (certain_notif) {
        snprintf(buf, sizeof buf, "notify %s%s%s", reviewer[0] ? reviewer : "the payer",
                 deadline ? " by " : "", deadline ? deadline : "");
        json_array_append_new(ext, crd_detail("notification", "Notification required", buf));
    }
    if (reviewer[0]) json_array_append_new(ext, crd_detail("reviewer", "Reviewer", reviewer));
    if (deadline) json_array_append_new(ext, crd_detail("deadline", "Deadline", deadline));
    char miss[1024] = "";
    crd_join(missing, miss, sizeof miss);
    if (miss[0]) json_array_append_new(ext, crd_detail("missing", "Information missing", miss));
    if (maybe_notif) json_array_append_new(ext, crd_detail("possible-notification",
                                                           "Notification possibly required",
                                                           "depends on the missing information"));
    if (policy) json_array_append_new(ext, crd_detail("policy", "PCR policy", policy));
    json_array_append_new(ext, crd_ext("date", "valueDate", json_string(today)));
    json_array_append_new(ext, crd_ext("coverage-assertion-id", "valueString", json_string(aid)));

    json_t *updated = json_deep_copy(order);
    json_t *exts = json_object_get(updated, "extension");
    if (!json_is_array(exts)) {
        exts = json_array();
        json_object_set_new(updated, "extension", exts);
    }
    json_array_append_new(exts, json_pack("{s:s,s:o}", "url", CRD_EXT_URL, "extension", ext));
    snprintf(buf, sizeof buf, "Coverage information for %s", oid);
    json_array_append_new(out->actions, json_pack("{s:s,s:s,s:o}", "type", "update",
                                                  "description", buf, "resource", updated));

    /* the card */
    const char *what = certain_nc   ? "Not covered"
                       : certain_pa ? "Prior authorization required"
                       : conditional ? "Coverage depends on missing information"
                       : certain_notif ? "Covered; notification required"
                                       : "Covered; no prior authorization required";
    char summary[141]; /* CDS Hooks: under 140 characters */
    int wrote = snprintf(summary, sizeof summary, "%s (%s)", what, oid);
    crd_cut(summary, sizeof summary, wrote);
    char detail[4096];
    size_t k = (size_t)snprintf(detail, sizeof detail, "**%s** for %s under %s.", what, oid,
                                policy ? policy : "the payer's policy");
    if (reviewer[0] && k < sizeof detail)
        k += (size_t)snprintf(detail + k, sizeof detail - k, " Reviewer: %s.", reviewer);
    if (deadline && k < sizeof detail)
        k += (size_t)snprintf(detail + k, sizeof detail - k, " Deadline: %s.", deadline);
    if (miss[0] && k < sizeof detail)
        k += (size_t)snprintf(detail + k, sizeof detail - k, " Missing: %s.", miss);
    json_array_foreach(crd_list(line, "reasons"), i, rs)
    {
        const char *title = crd_str(rs, "title"), *cite = crd_str(rs, "citation");
        if (k >= sizeof detail) break;
        k += (size_t)snprintf(detail + k, sizeof detail - k, "\n\n- %s%s%s%s",
                              title ? title : crd_str(rs, "rule"), cite ? " (" : "",
                              cite ? cite : "", cite ? ")" : "");
    }
    crd_cut(detail, sizeof detail, (int)k);
    const char *indicator = certain_nc || certain_pa ? "warning" : "info";
    char uuid[37];
    crd_card_uuid(c, uuid);
    json_array_append_new(out->cards,
                          json_pack("{s:s,s:s,s:s,s:s,s:{s:s},s:o}", "uuid", uuid, "summary",
                                    summary, "detail", detail, "indicator", indicator, "source",
                                    "label", label, "extension", crd_card_ext(rec, line)));
}

/* ---- a hook call ------------------------------------------------------------------ */

/* The assertion date: today, UTC, "YYYY-MM-DD". */
static void crd_today(char today[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(today, 11, "%Y-%m-%d", &tm);
}

/* The first Coverage in the prefetched coverage (a Coverage or a Bundle). */
static json_t *crd_first(json_t *v, const char *type)
{
    const char *rt = crd_str(v, "resourceType");
    if (rt && strcmp(rt, type) == 0) return v;
    if (!rt || strcmp(rt, "Bundle") != 0) return NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(v, "entry"), i, e)
    {
        json_t *r = json_object_get(e, "resource");
        if (crd_str(r, "resourceType") && strcmp(crd_str(r, "resourceType"), type) == 0) return r;
    }
    return NULL;
}

static bool crd_selected(json_t *selections, json_t *res)
{
    if (!json_is_array(selections) || json_array_size(selections) == 0) return true;
    char ref[300];
    snprintf(ref, sizeof ref, "%s/%s", crd_str(res, "resourceType"),
             crd_str(res, "id") ? crd_str(res, "id") : "");
    size_t i;
    json_t *s;
    json_array_foreach(selections, i, s)
        if (json_is_string(s) && strcmp(json_string_value(s), ref) == 0) return true;
    return false;
}

static bool crd_is_order(json_t *res)
{
    static const char *const types[] = {"ServiceRequest", "DeviceRequest", "MedicationRequest",
                                        "Appointment", "Encounter"};
    const char *t = crd_str(res, "resourceType");
    for (size_t i = 0; t && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i]) == 0) return true;
    return false;
}

void crd_service(Crd *c, const char *id, pcr_engine *e, const char *body, size_t len,
                 CrdReply *r)
{
    size_t svc = crd_service_of(id, r);
    if (svc == CRD_NSERVICES) return;
    json_error_t jerr;
    json_t *req = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(req)) {
        char msg[300];
        snprintf(msg, sizeof msg, "the request is not a JSON object: %s (line %d)", jerr.text,
                 jerr.line);
        json_decref(req);
        crd_error(r, 400, msg);
        return;
    }
    const char *hook = crd_str(req, "hook");
    json_t *ctx = json_object_get(req, "context");
    json_t *prefetch = json_object_get(req, "prefetch");
    const char *problem = NULL;
    if (!hook || strcmp(hook, crd_services[svc].hook) != 0)
        problem = "\"hook\" is missing or is not this service's hook";
    else if (!crd_str(req, "hookInstance"))
        problem = "\"hookInstance\" is missing";
    else if (!json_is_object(ctx))
        problem = "\"context\" is missing";
    if (problem) {
        json_decref(req);
        crd_error(r, 400, problem);
        return;
    }
    CrdCtx cx = {crd_first(json_object_get(prefetch, "coverage"), "Coverage"),
                 crd_first(json_object_get(prefetch, "patient"), "Patient"),
                 crd_first(json_object_get(prefetch, "encounter"), "Encounter")};
    if (!cx.coverage) {
        json_decref(req);
        /* CDS Hooks: a service that cannot get the data it needs answers
         * 412; this one does not query the FHIR server itself. */
        crd_error(r, 412, "prefetch \"coverage\" (a Coverage, or a Bundle with one) is required");
        return;
    }
    /* the orders */
    json_t *orders = json_array();
    if (crd_services[svc].source == CRD_ENCOUNTER) {
        if (cx.encounter) json_array_append(orders, cx.encounter);
    } else {
        const char *key = crd_services[svc].source == CRD_APPOINTMENTS ? "appointments"
                                                                       : "draftOrders";
        json_t *bundle = json_object_get(ctx, key);
        json_t *sel = strcmp(hook, "order-select") == 0 ? json_object_get(ctx, "selections") : NULL;
        size_t i;
        json_t *en;
        json_array_foreach(json_object_get(bundle, "entry"), i, en)
        {
            json_t *res = json_object_get(en, "resource");
            if (crd_is_order(res) && crd_selected(sel, res)) json_array_append(orders, res);
        }
    }
    if (json_array_size(orders) == 0 || json_array_size(orders) > CRD_MAX_ORDERS) {
        json_decref(orders);
        json_decref(req);
        crd_error(r, 400, crd_services[svc].source == CRD_ENCOUNTER
                              ? "prefetch \"encounter\" (an Encounter) is required"
                              : "the context has no orders (a Bundle of ServiceRequest, "
                                "DeviceRequest, MedicationRequest or Appointment)");
        return;
    }
    char today[11];
    crd_today(today);
    CrdOut out = {json_array(), json_array()};
    size_t i;
    json_t *order;
    json_array_foreach(orders, i, order)
    {
        json_t *rec = crd_record(&cx, order);
        char *text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
        const char *line = NULL;
        size_t n = 0;
        pcr_decision_kind kind = PCR_DEC_ERROR;
        if (text) pcr_engine_eval(e, text, strlen(text), i + 1, &line, &n, &kind);
        r->by_kind[kind]++;
        free(text);
        json_t *dec = line ? json_loadb(line, n, 0, &jerr) : NULL;
        r->records++;
        crd_answer(c, &cx, order, rec, dec, today, &out);
        json_decref(dec);
        json_decref(rec);
    }
    json_decref(orders);
    json_decref(req);
    crd_reply(r, 200, json_pack("{s:o,s:o}", "cards", out.cards, "systemActions", out.actions));
}

void crd_map_line(Crd *c, const char *order, const char *coverage, const char *line,
                  CrdReply *r)
{
    json_t *o = json_loads(order, 0, NULL), *cov = json_loads(coverage, 0, NULL);
    json_t *dec = json_loads(line, 0, NULL);
    if (!json_is_object(o) || !json_is_object(cov)) {
        json_decref(o);
        json_decref(cov);
        json_decref(dec);
        crd_error(r, 400, "the order and the coverage must be JSON objects");
        return;
    }
    CrdCtx cx = {cov, NULL, NULL};
    CrdOut out = {json_array(), json_array()};
    json_t *rec = crd_record(&cx, o);
    char today[11];
    crd_today(today);
    crd_answer(c, &cx, o, rec, dec, today, &out);
    json_decref(rec);
    json_decref(dec);
    json_decref(o);
    json_decref(cov);
    crd_reply(r, 200, json_pack("{s:o,s:o}", "cards", out.cards, "systemActions", out.actions));
}
