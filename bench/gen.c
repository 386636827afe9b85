/* gen.c: deterministic inputs for `make bench` (see docs/benchmarks.md).
 *
 *   gen requests N [--payers a,b,...]   N JSON Lines request records (stdout)
 *   gen requests-peers N                N records of the peer benchmark's schema
 *                                       (bench/peers/peers_request.pcr: a list
 *                                       `codes` of {"system", "code"} objects)
 *   gen policy RULES CODES [--unmatched [--peers]]
 *                                       a generated policy source (stdout);
 *                                       --peers: over that schema, `codes any in`
 *   gen policy-small                    a typical ~40-rule payer policy
 *   gen clock                           monotonic seconds, for bench/run.sh
 *   gen time FILE CMD [ARG...]          runs CMD and writes its wall and CPU
 *                                       seconds to FILE, for bench/compare.sh
 *
 * Everything comes from splitmix64 with fixed seeds, one stream per purpose,
 * and integer arithmetic only, so the bytes are the same on every machine
 * and every run; `requests N` is a prefix of `requests M` for N < M.
 *
 * The code universe. Generated policies and requests draw service codes
 * from the "live" universe: CPT 10000..99999, HCPCS with the first letters
 * in LIVE_LETTERS, REV 0100..0999. A quarter of the requests instead carry
 * a "hot" code: one from the code sets of policy-small (real codes of the
 * kind payers list). `policy --unmatched` draws from HCPCS codes whose first
 * letter is in DEAD_LETTERS and CPT codes of 4 digits and a letter in
 * DEAD_CPT_SUFFIXES (Category II and PLA codes), which no request ever
 * carries, so none of its rules can match: that policy measures what rules
 * that cannot match cost.
 *
 * Standalone on purpose (no project headers, no libraries): run.sh builds it
 * with plain `cc -O2`. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------ */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void usage(void)
{
    fputs("usage: gen requests N [--payers a,b,...]\n"
          "       gen requests-peers N\n"
          "       gen policy RULES CODES [--unmatched [--peers]]\n"
          "       gen policy-small\n"
          "       gen clock\n"
          "       gen time FILE CMD [ARG...]\n",
          stderr);
    exit(2);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

/* ---- the random stream ------------------------------------------------- */

/* Seeds, one per stream: changing one kind of output never shifts another. */
#define SEED_REQUESTS UINT64_C(0x5043520001)
#define SEED_PLAN UINT64_C(0x5043520002)
#define SEED_CODES UINT64_C(0x5043520003)
#define SEED_RULES UINT64_C(0x5043520004)
#define SEED_PEERS UINT64_C(0x5043520005)

typedef struct Rng {
    uint64_t s; /* splitmix64 state */
} Rng;

static uint64_t rng_next(Rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* Uniform in [0, n) for n > 0 (multiply-shift; the bias is far below 2^-32). */
static uint32_t rng_below(Rng *r, uint32_t n) { return (uint32_t)(((rng_next(r) >> 32) * n) >> 32); }

/* Uniform in [lo, hi]. */
static int32_t rng_range(Rng *r, int32_t lo, int32_t hi)
{
    return lo + (int32_t)rng_below(r, (uint32_t)(hi - lo) + 1);
}

/* True with probability pct/100. */
static bool rng_pct(Rng *r, unsigned pct) { return rng_below(r, 100) < pct; }

/* An index into weights[0..n) chosen with probability weight/sum. */
static size_t rng_weighted(Rng *r, const unsigned *weights, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) sum += weights[i];
    unsigned x = rng_below(r, sum);
    for (size_t i = 0; i < n; i++) {
        if (x < weights[i]) return i;
        x -= weights[i];
    }
    return n - 1;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define PICK(r, a) ((a)[rng_below((r), (uint32_t)COUNT(a))])

/* ---- civil dates (days since 1970-01-01, proleptic Gregorian) ---------- */

static int32_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int32_t z, int *y, int *m, int *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday). */
static int weekday(int32_t days) { return (int)(((days % 7) + 7 + 3) % 7); }

/* ---- buffered output ---------------------------------------------------- */

typedef struct Out {
    FILE *f;   /* where flushes go */
    char *buf; /* OUT_CAP bytes */
    size_t n;  /* bytes pending */
} Out;

enum { OUT_CAP = 1 << 20, OUT_SLACK = 4096 /* one record line always fits */ };

static void out_flush(Out *o)
{
    if (o->n && fwrite(o->buf, 1, o->n, o->f) != o->n) die("write error: %s", strerror(errno));
    o->n = 0;
}

/* Flushes when fewer than OUT_SLACK bytes are left: call once per line. */
static void out_reserve(Out *o)
{
    if (OUT_CAP - o->n < OUT_SLACK) out_flush(o);
}

static void out_mem(Out *o, const char *s, size_t n)
{
    if (n > OUT_CAP - o->n) out_flush(o);
    if (n > OUT_CAP) {
        if (fwrite(s, 1, n, o->f) != n) die("write error: %s", strerror(errno));
        return;
    }
    memcpy(o->buf + o->n, s, n);
    o->n += n;
}

static void out_str(Out *o, const char *s) { out_mem(o, s, strlen(s)); }

static void out_chr(Out *o, char c) { o->buf[o->n++] = c; }

/* v in decimal, left-padded with zeros to at least `width` digits. */
static void out_uint(Out *o, uint64_t v, int width)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k < width) tmp[k++] = '0';
    while (k) o->buf[o->n++] = tmp[--k];
}

static void out_date(Out *o, int32_t days)
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    out_uint(o, (uint64_t)y, 4);
    out_chr(o, '-');
    out_uint(o, (uint64_t)m, 2);
    out_chr(o, '-');
    out_uint(o, (uint64_t)d, 2);
}

/* printf into the buffer; for the policy writer, where speed does not matter. */
static void out_fmt(Out *o, const char *fmt, ...)
{
    out_reserve(o);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o->buf + o->n, OUT_CAP - o->n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= OUT_CAP - o->n) die("internal error: formatted text too long");
    o->n += (size_t)k;
}

static void out_open(Out *o, FILE *f)
{
    o->f = f;
    o->buf = xmalloc(OUT_CAP);
    o->n = 0;
}

static void out_close(Out *o)
{
    out_flush(o);
    if (fflush(o->f) != 0 || ferror(o->f)) die("write error: %s", strerror(errno));
    free(o->buf);
}

/* ---- service codes ------------------------------------------------------ */

enum { SYS_CPT, SYS_HCPCS, SYS_REV };

static const char *const system_names[] = {"CPT", "HCPCS", "REV"};

/* First letters of HCPCS codes that requests carry, and of those that only
 * `policy --unmatched` uses. Disjoint, and all in A-V (HCPCS Level II
 * starts with no other letter: pcrc rejects W0001); the hot codes below use
 * live ones. The last letters of the CPT codes of 4 digits and a letter
 * that only `policy --unmatched` uses (requests carry 5-digit CPT codes and
 * hot codes, whose such codes end in T). */
static const char LIVE_LETTERS[] = "ABCEGHJKLPQSTV";
static const char DEAD_LETTERS[] = "DFIMNORU";
static const char DEAD_CPT_SUFFIXES[] = "FU";

enum {
    CPT_LO = 10000,
    CPT_COUNT = 90000, /* CPT 10000..99999 */
    HCPCS_PER_LETTER = 10000,
    REV_LO = 100,
    REV_COUNT = 900, /* REV 0100..0999 */
    LIVE_HCPCS = (int)(sizeof LIVE_LETTERS - 1) * HCPCS_PER_LETTER,
    LIVE_SIZE = CPT_COUNT + LIVE_HCPCS + REV_COUNT,
    DEAD_HCPCS = (int)(sizeof DEAD_LETTERS - 1) * HCPCS_PER_LETTER,
    CPT_PER_SUFFIX = 10000, /* 0000F..9999F */
    DEAD_SIZE = DEAD_HCPCS + (int)(sizeof DEAD_CPT_SUFFIXES - 1) * CPT_PER_SUFFIX,
};

/* A code as text: system and up to 7 characters. */
typedef struct Code {
    int sys;    /* SYS_CPT, SYS_HCPCS or SYS_REV */
    char s[8];  /* the code, NUL-terminated */
} Code;

/* Writes v as exactly `width` decimal digits (zero-padded; v < 10^width). */
static void put_digits(char *dst, uint32_t v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10) dst[i] = (char)('0' + v % 10);
}

/* The code at position pos of a universe, and the "block" it is in: codes
 * may form one range only within a block (same system, same letter). */
static Code universe_code(bool dead, uint32_t pos, uint32_t *block)
{
    Code c;
    memset(&c, 0, sizeof c);
    if (dead && pos < DEAD_HCPCS) {
        c.sys = SYS_HCPCS;
        *block = pos / HCPCS_PER_LETTER;
        c.s[0] = DEAD_LETTERS[*block];
        put_digits(c.s + 1, pos % HCPCS_PER_LETTER, 4);
    } else if (dead) {
        c.sys = SYS_CPT;
        pos -= DEAD_HCPCS;
        *block = 100 + pos / CPT_PER_SUFFIX;
        put_digits(c.s, pos % CPT_PER_SUFFIX, 4);
        c.s[4] = DEAD_CPT_SUFFIXES[pos / CPT_PER_SUFFIX];
    } else if (pos < CPT_COUNT) {
        c.sys = SYS_CPT;
        *block = 0;
        put_digits(c.s, CPT_LO + pos, 5);
    } else if (pos < CPT_COUNT + LIVE_HCPCS) {
        c.sys = SYS_HCPCS;
        pos -= CPT_COUNT;
        *block = 1 + pos / HCPCS_PER_LETTER;
        c.s[0] = LIVE_LETTERS[*block - 1];
        put_digits(c.s + 1, pos % HCPCS_PER_LETTER, 4);
    } else {
        c.sys = SYS_REV;
        *block = 1000;
        put_digits(c.s, REV_LO + (pos - CPT_COUNT - LIVE_HCPCS), 4);
    }
    return c;
}

static uint32_t universe_block(bool dead, uint32_t pos)
{
    uint32_t block;
    universe_code(dead, pos, &block);
    return block;
}

/* ---- the typical policy: categories of a real payer list ---------------- */

/* One category of policy-small: a rule over its own code set. Codes are in
 * the language's syntax; ranges are same-length, and within a range only
 * the digits vary (request sampling relies on that). */
typedef struct Category {
    const char *id;      /* rule id; the code set is named cs_<id> */
    const char *title;   /* of the rule and of its code set */
    const char *section; /* cite section */
    const char *codes;   /* set items: "CPT 70551..70553 HCPCS S2083" */
    const char *when;    /* conjuncts after `code in cs_<id>`, or "" */
    const char *unless;  /* NULL for none */
    const char *outcome; /* "require prior_auth" or "exempt rule_id" */
    const char *reviewer; /* the clause's argument text, NULL for the default */
    const char *deadline;/* NULL for none */
} Category;

static const Category small_categories[] = {
    {"advanced_imaging", "Advanced imaging: CT, MRI, MRA", "Diagnostic Imaging",
     "CPT 70450..70470 70480..70492 70496..70498 70540..70549 70551..70555 71250..71275 "
     "71550..71552 71555 72125..72133 72141..72159 72191..72198 73200..73206 73218..73223 "
     "73225 73700..73706 73718..73723 73725 74150..74178 74181..74183 74185 75557..75565 "
     "75571..75574 77046..77049 HCPCS C8900..C8937 REV 0610..0619",
     " and setting in {outpatient, office}", "emergent", "require prior_auth", "\"eviCore\"",
     "72 hours before service"},
    {"nuclear_imaging", "PET and nuclear cardiology", "Diagnostic Imaging",
     "CPT 78429..78434 78451..78454 78459 78491..78492 78608..78609 78811..78816 "
     "HCPCS G0219 G0235 A9552 REV 0404",
     " and setting in {outpatient, office}", "emergent", "require prior_auth", "\"eviCore\"",
     "72 hours before service"},
    {"sleep_studies", "Attended sleep studies", "Sleep Management",
     "CPT 95782..95783 95805 95807..95808 95810..95811", " and setting != home", NULL,
     "require prior_auth", "\"Carelon\"", "2 business_days before service"},
    {"cpap", "CPAP and BiPAP devices", "Sleep Management",
     "HCPCS E0470..E0471 E0561..E0562 E0601 A7027..A7046 A4604", "", NULL,
     "require prior_auth", "\"Carelon\"", NULL},
    {"power_mobility", "Power mobility and custom wheelchairs", "Durable Medical Equipment",
     "HCPCS K0005 K0008 K0013 K0669 K0800..K0899 E1161 E1220 E1229..E1238 E2601..E2633", "",
     NULL, "require prior_auth", NULL, NULL},
    {"dme_over_500", "Durable medical equipment over $500", "Durable Medical Equipment",
     "HCPCS E0627..E0629 E0720 E0730..E0731 E0745 E0747..E0749 E0760 E0764 E0770 "
     "E0779..E0787 E0791 K0455 B9002 B9004..B9006",
     " and price > $500.00", NULL, "require prior_auth", NULL, NULL},
    {"glucose_monitors", "Continuous glucose monitors", "Durable Medical Equipment",
     "HCPCS A9276..A9278 K0553..K0554 E2102..E2103 A4238..A4239 CPT 95249..95251", "", NULL,
     "require notification", NULL, NULL},
    {"home_health", "Home health services", "Home Health Care",
     "HCPCS G0151..G0153 G0155..G0160 G0162 G0299..G0300 G0493..G0496 S9122..S9124 "
     "T1030..T1031 Q5001 CPT 99500..99602 REV 0550..0599",
     " and setting == home", NULL, "require notification", NULL, "2 business_days after service"},
    {"physical_therapy", "Physical and occupational therapy after the 12th visit",
     "Outpatient Therapies",
     "CPT 97010..97039 97110..97150 97161..97168 97530..97546 97750..97763 HCPCS G0283 "
     "REV 0420..0439",
     " and visit_number > 12", NULL, "require prior_auth", "\"ASH\"", NULL},
    {"speech_therapy", "Speech therapy after the 12th visit", "Outpatient Therapies",
     "CPT 92507..92508 92521..92524 92526 92607..92610 REV 0440..0449",
     " and visit_number > 12", NULL, "require prior_auth", "\"ASH\"", NULL},
    {"aba", "Applied behavior analysis", "Behavioral Health", "CPT 97151..97158 0362T 0373T",
     " and diagnoses any in dx_autism", NULL, "require prior_auth", "\"Bench Behavioral\"",
     "5 business_days before service"},
    {"tms", "Transcranial magnetic stimulation", "Behavioral Health", "CPT 90867..90869",
     " and diagnoses any in dx_depression", NULL, "require prior_auth", "\"Bench Behavioral\"",
     "5 business_days before service"},
    {"genetic_brca", "Genetic testing for hereditary breast and ovarian cancer",
     "Genetic Testing",
     "CPT 81162..81167 81212 81215..81217 81307..81308 81432..81433 81479", "", NULL,
     "require prior_auth", "\"eviCore\"", "5 business_days before service"},
    {"bariatric", "Bariatric surgery", "Surgery",
     "CPT 43644..43645 43770..43775 43842..43848 43886..43888 HCPCS S2083",
     " and member_age >= 18", NULL, "require prior_auth", NULL, "14 days before service"},
    {"cosmetic", "Cosmetic procedures", "Exclusions",
     "CPT 11950..11954 15780..15793 15824..15829 15876..15879 21120..21127 21208..21209 "
     "21270 69300",
     "", NULL, "require not_covered", NULL, NULL},
    {"blepharoplasty", "Blepharoplasty and ptosis repair", "Surgery",
     "CPT 15820..15823 67900..67908", "", NULL, "require prior_auth", NULL, NULL},
    {"breast_reconstruction", "Breast reconstruction", "Surgery",
     "CPT 19316..19396 HCPCS S2066..S2068 L8600", "", "diagnoses any in dx_breast_cancer",
     "require prior_auth", NULL, "14 days before service"},
    {"joint_replacement", "Elective hip and knee replacement", "Surgery",
     "CPT 27130..27138 27446..27447 27486..27487 HCPCS S2118",
     " and setting in {inpatient, outpatient, ambulatory_surgery}", "emergent",
     "require prior_auth", "\"TurningPoint\"", "14 days before service"},
    {"spine_surgery", "Spine surgery", "Surgery",
     "CPT 22533..22534 22551..22558 22585..22634 22840..22870 62380 63001..63091",
     " and setting in {inpatient, outpatient, ambulatory_surgery}", "emergent",
     "require prior_auth", "\"TurningPoint\"", "14 days before service"},
    {"pain_management", "Interventional pain management", "Pain Management",
     "CPT 20552..20553 27096 62320..62327 64479..64495 64633..64636 HCPCS G0259..G0260", "",
     "setting == inpatient", "require prior_auth", "\"eviCore\"", "72 hours before service"},
    {"spinal_cord_stimulators", "Spinal cord stimulators", "Surgery",
     "CPT 63650..63688 HCPCS L8679..L8688 C1767 C1778 C1787 C1820 C1822 C1897", "", NULL,
     "require prior_auth", NULL, "5 business_days before service"},
    {"cardiac_devices", "Implantable defibrillators and resynchronization devices",
     "Cardiology", "CPT 33221..33231 33240 33249 33262..33273 HCPCS C1721..C1722 C1882 C1900",
     "", "emergent", "require prior_auth", NULL, "72 hours before service"},
    {"varicose_veins", "Varicose vein treatment", "Surgery",
     "CPT 36465..36483 37700..37785 37799", "", NULL, "require prior_auth", NULL, NULL},
    {"transplant", "Transplant evaluation and surgery", "Transplant Services",
     "CPT 32851..32854 33935 33945 38230..38243 44135..44136 47135 48554 50360..50365 "
     "0584T..0586T HCPCS S2152",
     "", NULL, "require prior_auth", "\"Bench Transplant Network\", \"Bench UM\"",
     "14 days before service"},
    {"car_t", "CAR-T cell therapy", "Transplant Services",
     "HCPCS Q2040..Q2042 CPT 0537T..0540T 38225..38228", "", NULL, "require prior_auth",
     "\"Bench Transplant Network\"", "14 days before service"},
    {"car_t_trial", "CAR-T cell therapy in an approved clinical trial", "Transplant Services",
     NULL /* shares cs_car_t */, " and clinical_trial", NULL, "exempt car_t", NULL, NULL},
    {"specialty_drugs", "Specialty injectable drugs", "Pharmacy",
     "HCPCS J0585 J1459 J1555..J1575 J1826..J1830 J7170..J7211 J9000..J9999",
     " and setting in {office, outpatient, home}", NULL, "require prior_auth",
     "\"Bench Pharmacy\"", "2 business_days before service"},
    {"hyperbaric_oxygen", "Hyperbaric oxygen therapy", "Outpatient Procedures",
     "CPT 99183 HCPCS G0277 REV 0413", "", NULL, "require prior_auth", NULL, NULL},
    {"dialysis", "Dialysis", "Dialysis",
     "CPT 90935..90947 90951..90970 90989..90999 HCPCS G0257 G0491..G0492 "
     "REV 0820..0859 0880..0889",
     "", NULL, "require notification", NULL, "2 business_days after service"},
    {"hearing_implants", "Cochlear and bone-anchored hearing implants", "Surgery",
     "CPT 69710..69719 69726..69727 69930 HCPCS L8614..L8629 L8690..L8694", "", NULL,
     "require prior_auth", NULL, NULL},
    {"nasal_surgery", "Rhinoplasty and septoplasty", "Surgery", "CPT 30400..30462 30520", "",
     NULL, "require prior_auth", NULL, NULL},
    {"sleep_surgery", "Sleep apnea surgery", "Sleep Management",
     "CPT 41512 41530 42140..42145 64582..64584 HCPCS S2080 C9727", "", NULL,
     "require prior_auth", "\"Carelon\"", NULL},
    {"air_ambulance", "Non-emergent air ambulance", "Transportation", "HCPCS A0430..A0436", "",
     "emergent", "require prior_auth", NULL, "1 business_day before service"},
    {"clinical_trials", "Services in approved clinical trials", "Exemptions",
     NULL /* shares cs_transplant */, " and clinical_trial", NULL, "exempt transplant", NULL,
     NULL},
};

/* Rules of policy-small without a code condition: evaluated for every
 * request. Fields as in Category; `when` is the whole condition. */
typedef struct Always {
    const char *id, *title, *section, *when, *unless, *outcome, *reviewer, *deadline;
} Always;

static const Always small_always[] = {
    {"medicare_primary_waiver", "Medicare is primary: requirements waived", "Medicare Primary",
     "medicare_primary and not medicare_exhausted", NULL, "exempt all", NULL, NULL},
    {"elective_admission", "Elective inpatient admissions", "Inpatient Admissions",
     "setting == inpatient and admission in {elective, transfer}", "admitted_from_er",
     "require prior_auth", NULL, "2 business_days before admission"},
    {"emergent_admission", "Emergent admissions and observation stays", "Inpatient Admissions",
     "setting in {inpatient, observation} and (admission in {emergency, urgent} or "
     "admitted_from_er)",
     NULL, "require notification", NULL, "1 business_day after admission"},
    {"post_acute", "Skilled nursing, rehabilitation, LTAC and inpatient hospice",
     "Inpatient Admissions", "setting in {skilled_nursing, rehabilitation, ltac, hospice}",
     NULL, "require prior_auth", NULL, "72 hours before service"},
    {"maternity_extended", "Maternity stays beyond the federal minimum",
     "Inpatient Admissions",
     "setting == inpatient and admission == maternity and (delivery == vaginal and "
     "stay_hours > 48 or delivery == cesarean and stay_hours > 96)",
     NULL, "require notification", NULL, "1 business_day after admission"},
    {"behavioral_programs", "Residential, partial hospital and intensive outpatient programs",
     "Behavioral Health", "setting in {residential, partial_hospital, intensive_outpatient}",
     NULL, "require prior_auth", "\"Bench Behavioral\"", "2 business_days before service"},
    {"out_of_network", "Out-of-network services", "Network",
     "network == \"out\" and setting not in {emergency}", "emergent", "require prior_auth",
     NULL, NULL},
    {"phs_plus_outpatient", "PHS+ outpatient services", "Products",
     "plan == \"phs_plus\" and setting in {outpatient, ambulatory_surgery}", NULL,
     "require notification", NULL, NULL},
};

/* Diagnosis sets used by conditions (small and generated policies). */
static const char *const dx_sets[][3] = {
    {"dx_autism", "Autism spectrum disorder", "ICD10 F84.*"},
    {"dx_depression", "Major depressive disorder", "ICD10 F32.* F33.*"},
    {"dx_breast_cancer", "Breast cancer", "ICD10 C50.* D05.* Z85.3"},
    {"dx_oncology", "Common malignant neoplasms", "ICD10 C18.* C34.* C50.* C61 C67.* C91.*"},
    {"dx_obesity", "Obesity", "ICD10 E66.* Z68.35..Z68.45"},
};

/* A range of hot codes parsed from the categories: the codes lo..hi where
 * only the digit run at [dpos, dpos + dlen) varies. */
typedef struct HotRange {
    int sys;               /* SYS_CPT, SYS_HCPCS or SYS_REV */
    char lo[8];            /* the first code, NUL-terminated */
    uint8_t dpos, dlen;    /* where the digit run is in the code */
    uint32_t first, count; /* numeric value of the digit run, and how many */
} HotRange;

typedef struct HotCodes {
    HotRange *r; /* xmalloc'ed, n entries */
    size_t n;
} HotCodes;

static int system_from_word(const char *w, size_t n)
{
    for (int i = 0; i < (int)COUNT(system_names); i++)
        if (strlen(system_names[i]) == n && memcmp(system_names[i], w, n) == 0) return i;
    return -1;
}

/* Parses one item ("70551" or "70551..70553") of system sys into *h. The
 * table is ours: a malformed item is a bug in this file, so it aborts. */
static void hot_parse_item(int sys, const char *w, size_t n, HotRange *h)
{
    const char *dots = NULL;
    for (size_t i = 0; i + 1 < n; i++)
        if (w[i] == '.' && w[i + 1] == '.') dots = w + i;
    size_t lolen = dots ? (size_t)(dots - w) : n;
    const char *hi = dots ? dots + 2 : w;
    size_t hilen = dots ? n - lolen - 2 : n;
    if (lolen != hilen || lolen == 0 || lolen > 7) die("internal error: bad hot code %.*s", (int)n, w);
    if (sys == SYS_HCPCS && strchr(DEAD_LETTERS, w[0]))
        die("internal error: hot code %.*s uses a letter reserved for --unmatched", (int)n, w);
    h->sys = sys;
    memcpy(h->lo, w, lolen);
    h->lo[lolen] = '\0';
    size_t a = 0;
    while (a < lolen && !(w[a] >= '0' && w[a] <= '9')) a++;
    size_t b = a;
    while (b < lolen && w[b] >= '0' && w[b] <= '9') b++;
    uint32_t vlo = 0, vhi = 0;
    for (size_t i = a; i < b; i++) {
        vlo = vlo * 10 + (uint32_t)(w[i] - '0');
        vhi = vhi * 10 + (uint32_t)(hi[i] - '0');
    }
    if (a == b || vhi < vlo || memcmp(w, hi, a) != 0 || memcmp(w + b, hi + b, lolen - b) != 0)
        die("internal error: bad hot range %.*s", (int)n, w);
    h->dpos = (uint8_t)a;
    h->dlen = (uint8_t)(b - a);
    h->first = vlo;
    h->count = vhi - vlo + 1;
}

/* Collects every service-code item of the categories. Caller frees h->r. */
static void hot_load(HotCodes *h)
{
    size_t cap = 256;
    h->r = xmalloc(cap * sizeof *h->r);
    h->n = 0;
    for (size_t c = 0; c < COUNT(small_categories); c++) {
        const char *p = small_categories[c].codes;
        int sys = -1;
        while (p && *p) {
            while (*p == ' ') p++;
            const char *w = p;
            while (*p && *p != ' ') p++;
            if (p == w) break;
            int s = system_from_word(w, (size_t)(p - w));
            if (s >= 0) {
                sys = s;
                continue;
            }
            if (sys < 0) die("internal error: code before system in %s", small_categories[c].id);
            if (h->n == cap) {
                HotRange *bigger = xmalloc(2 * cap * sizeof *bigger);
                memcpy(bigger, h->r, cap * sizeof *bigger);
                free(h->r);
                h->r = bigger;
                cap *= 2;
            }
            hot_parse_item(sys, w, (size_t)(p - w), &h->r[h->n++]);
        }
    }
}

static Code hot_pick(const HotCodes *h, Rng *r)
{
    const HotRange *x = &h->r[rng_below(r, (uint32_t)h->n)];
    Code c;
    c.sys = x->sys;
    memcpy(c.s, x->lo, sizeof c.s);
    uint32_t v = x->first + rng_below(r, x->count);
    for (int i = x->dpos + x->dlen - 1; i >= x->dpos; i--, v /= 10) c.s[i] = (char)('0' + v % 10);
    return c;
}

/* ---- requests ----------------------------------------------------------- */

/* Field value distributions. Weights are relative. */
static const char *const settings[] = {
    "outpatient", "office", "inpatient", "ambulatory_surgery", "home", "emergency",
    "observation", "skilled_nursing", "rehabilitation", "ltac", "hospice", "residential",
    "partial_hospital", "intensive_outpatient", "ambulance"};
static const unsigned setting_weights[] = {30, 30, 10, 8, 5, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1};
static const char *const admissions[] = {"elective", "emergency", "urgent",
                                         "maternity", "newborn", "transfer"};
static const unsigned admission_weights[] = {40, 25, 15, 12, 5, 3};
static const char *const plans[] = {"commercial", "medicare_advantage", "medicaid", "phs_plus"};
static const unsigned plan_weights[] = {50, 25, 15, 10};
static const char *const states[] = {"IL", "NY", "NJ", "PA", "CT", "CA", "TX", "FL",
                                     "GA", "OH", "MI", "WA", "MA", "AZ", "CO", "NC"};
/* Common diagnoses (with their dots, as claims often carry them). */
static const char *const common_dx[] = {
    "I10",     "E11.9",   "E78.5",  "M54.5",   "M17.11", "M16.11", "J45.909", "F32.9",
    "F33.1",   "F84.0",   "G47.33", "N18.6",   "Z99.2",  "C50.911", "C34.90", "D05.10",
    "Z85.3",   "E66.01",  "Z68.41", "I83.90",  "I50.9",  "M51.26", "S83.511A", "R07.9",
    "Z00.00",  "O80",     "Z38.00", "K21.9",   "H90.3",  "J34.2",  "C61",    "C91.10"};

typedef struct ReqGen {
    Rng rng;                   /* the one stream all records are drawn from, in order */
    HotCodes hot;              /* codes of policy-small */
    const char *const *payers; /* npayers names, chosen uniformly */
    size_t npayers;
    int32_t first_day, ndays; /* service dates: first_day .. first_day + ndays - 1 */
} ReqGen;

static void put_key(Out *o, const char *key)
{
    out_str(o, ",\"");
    out_str(o, key);
    out_str(o, "\":");
}

static void put_str_field(Out *o, const char *key, const char *val)
{
    put_key(o, key);
    out_chr(o, '"');
    out_str(o, val);
    out_chr(o, '"');
}

static void put_int_field(Out *o, const char *key, uint64_t v)
{
    put_key(o, key);
    out_uint(o, v, 1);
}

/* A random ICD-10-CM code: letter, 2 digits, then 0-3 more characters,
 * written with the dot or without. */
static void put_random_dx(Out *o, Rng *r)
{
    static const char letters[] = "ABCDEFGHIJKLMNOPQRSTVZ";
    out_chr(o, letters[rng_below(r, sizeof letters - 1)]);
    out_uint(o, rng_below(r, 100), 2);
    uint32_t extra = rng_below(r, 4);
    if (extra && rng_pct(r, 60)) out_chr(o, '.');
    for (uint32_t i = 0; i < extra; i++) out_chr(o, (char)('0' + rng_below(r, 10)));
}

/* "diagnoses": 1 to 3 ICD-10 codes, half of them common ones. */
static void put_diagnoses(Out *o, Rng *r)
{
    uint32_t ndx = 1 + rng_below(r, 3);
    put_key(o, "diagnoses");
    out_chr(o, '[');
    for (uint32_t i = 0; i < ndx; i++) {
        if (i) out_chr(o, ',');
        out_chr(o, '"');
        if (rng_pct(r, 50)) out_str(o, PICK(r, common_dx));
        else put_random_dx(o, r);
        out_chr(o, '"');
    }
    out_chr(o, ']');
}

static Code request_code(ReqGen *g)
{
    Rng *r = &g->rng;
    if (rng_pct(r, 25)) return hot_pick(&g->hot, r);
    uint32_t block;
    uint32_t x = rng_below(r, 100);
    uint32_t pos = x < 60   ? rng_below(r, CPT_COUNT)
                   : x < 90 ? CPT_COUNT + rng_below(r, LIVE_HCPCS)
                            : CPT_COUNT + LIVE_HCPCS + rng_below(r, REV_COUNT);
    return universe_code(false, pos, &block);
}

static bool is_therapy(const Code *c)
{
    return c->sys == SYS_CPT && (memcmp(c->s, "97", 2) == 0 || memcmp(c->s, "925", 3) == 0 ||
                                 memcmp(c->s, "926", 3) == 0);
}

/* Appends one request record line (about 200-300 bytes). */
static void request_line(ReqGen *g, Out *o, uint64_t seq)
{
    Rng *r = &g->rng;
    out_reserve(o);
    out_str(o, "{\"id\":\"req-");
    out_uint(o, seq, 7);
    out_chr(o, '"');
    put_str_field(o, "payer", g->payers[rng_below(r, (uint32_t)g->npayers)]);
    if (rng_pct(r, 95)) put_str_field(o, "plan", plans[rng_weighted(r, plan_weights, COUNT(plans))]);
    uint32_t net = rng_below(r, 100);
    if (net < 85) put_str_field(o, "network", "in");
    else if (net < 97) put_str_field(o, "network", "out");

    size_t setting = rng_weighted(r, setting_weights, COUNT(settings));
    const char *set = settings[setting];
    put_str_field(o, "setting", set);
    bool inpatient = strcmp(set, "inpatient") == 0, observation = strcmp(set, "observation") == 0;
    if (inpatient) {
        size_t adm = rng_weighted(r, admission_weights, COUNT(admissions));
        put_str_field(o, "admission", admissions[adm]);
        if (strcmp(admissions[adm], "maternity") == 0)
            put_str_field(o, "delivery", rng_pct(r, 68) ? "vaginal" : "cesarean");
    }
    if (inpatient || observation) {
        put_key(o, "admitted_from_er");
        out_str(o, rng_pct(r, 30) ? "true" : "false");
        put_int_field(o, "stay_hours", (uint64_t)rng_range(r, observation ? 6 : 24, observation ? 72 : 240));
    }

    Code c = request_code(g);
    put_str_field(o, "code", c.s);
    if (rng_pct(r, 30)) put_str_field(o, "code_system", system_names[c.sys]);

    put_diagnoses(o, r);

    if (rng_pct(r, 80)) {
        uint32_t u = rng_pct(r, 60) ? 1 : (uint32_t)rng_range(r, 2, rng_pct(r, 80) ? 10 : 40);
        put_int_field(o, "units", u);
    }
    /* Prices on DME-like codes mostly; written as 1234, 1234.5 or 1234.50. */
    bool dme = c.sys == SYS_HCPCS && strchr("EKLAB", c.s[0]) != NULL;
    if (rng_pct(r, dme ? 85 : 10)) {
        uint32_t cents = (uint32_t)rng_range(r, 1000, 2000000);
        uint32_t form = rng_below(r, 3);
        if (form == 0) cents -= cents % 100;
        else if (form == 1) cents -= cents % 10;
        put_key(o, "price");
        out_uint(o, cents / 100, 1);
        if (form == 1) {
            out_chr(o, '.');
            out_uint(o, (cents / 10) % 10, 1);
        } else if (form == 2) {
            out_chr(o, '.');
            out_uint(o, cents % 100, 2);
        }
    }
    if (is_therapy(&c) || rng_pct(r, 3)) put_int_field(o, "visit_number", (uint64_t)rng_range(r, 1, 40));
    if (rng_pct(r, 97)) put_str_field(o, "state", PICK(r, states));
    if (rng_pct(r, 98)) put_int_field(o, "member_age", (uint64_t)rng_range(r, 0, 95));

    /* Booleans only sometimes: absent means the schema's default (false). */
    if (rng_pct(r, 12)) {
        put_key(o, "emergent");
        out_str(o, rng_pct(r, 40) ? "true" : "false");
    }
    if (rng_pct(r, 8)) {
        put_key(o, "medicare_primary");
        out_str(o, rng_pct(r, 45) ? "true" : "false");
        if (rng_pct(r, 20)) {
            put_key(o, "medicare_exhausted");
            out_str(o, rng_pct(r, 50) ? "true" : "false");
        }
    }
    if (rng_pct(r, 4)) {
        put_key(o, "clinical_trial");
        out_str(o, rng_pct(r, 60) ? "true" : "false");
    }

    int32_t service = g->first_day + (int32_t)rng_below(r, (uint32_t)g->ndays);
    put_key(o, "service_date");
    out_chr(o, '"');
    out_date(o, service);
    out_chr(o, '"');
    uint32_t req = rng_below(r, 100);
    if (req < 90) {
        /* 1..45 days before the service date, at some time of day. */
        put_key(o, "requested_at");
        out_chr(o, '"');
        out_date(o, service - rng_range(r, 1, 45));
        if (req < 85) {
            out_chr(o, 'T');
            out_uint(o, rng_below(r, 24), 2);
            out_chr(o, ':');
            out_uint(o, rng_below(r, 60), 2);
            if (req < 55) {
                out_chr(o, ':');
                out_uint(o, rng_below(r, 60), 2);
            }
        }
        out_chr(o, '"');
    }
    out_str(o, "}\n");
}

/* The peer benchmark's schema (bench/peers/peers_request.pcr). */
static const char *const peer_settings[] = {"office", "outpatient", "inpatient",
                                            "emergency", "home", "observation"};
static const unsigned peer_setting_weights[] = {45, 30, 8, 8, 5, 4};
static const char *const peer_admissions[] = {"elective", "emergency", "maternity"};

/* Appends one record of the peer benchmark's shape: 1 to 3 CPT or HCPCS
 * codes (a quarter of them hot codes, as in request_line; REV codes, which
 * that schema does not take, are drawn again), 1 to 3 diagnoses. */
static void peers_line(ReqGen *g, Out *o, uint64_t seq)
{
    Rng *r = &g->rng;
    out_reserve(o);
    out_str(o, "{\"id\":\"P");
    out_uint(o, seq, 7);
    out_chr(o, '"');
    put_str_field(o, "payer", "bench");
    put_str_field(o, "plan", rng_pct(r, 70) ? "commercial" : "medicare_advantage");
    size_t setting = rng_weighted(r, peer_setting_weights, COUNT(peer_settings));
    put_str_field(o, "setting", peer_settings[setting]);
    put_key(o, "admission_type");
    if (strcmp(peer_settings[setting], "inpatient") == 0) {
        out_chr(o, '"');
        out_str(o, PICK(r, peer_admissions));
        out_chr(o, '"');
    } else {
        out_str(o, "null");
    }
    put_str_field(o, "network", rng_pct(r, 90) ? "in" : "out");
    int32_t service = g->first_day + (int32_t)rng_below(r, (uint32_t)g->ndays);
    put_key(o, "service_date");
    out_chr(o, '"');
    out_date(o, service);
    out_chr(o, '"');
    put_key(o, "request_date");
    out_chr(o, '"');
    out_date(o, service - rng_range(r, 0, 30));
    out_chr(o, '"');
    uint32_t ncodes = 1 + rng_below(r, 3);
    put_key(o, "codes");
    out_chr(o, '[');
    for (uint32_t i = 0; i < ncodes; i++) {
        Code c;
        do c = request_code(g);
        while (c.sys == SYS_REV);
        out_str(o, i ? ",{\"system\":\"" : "{\"system\":\"");
        out_str(o, system_names[c.sys]);
        out_str(o, "\",\"code\":\"");
        out_str(o, c.s);
        out_str(o, "\"}");
    }
    out_chr(o, ']');
    put_diagnoses(o, r);
    put_str_field(o, "place_of_service", rng_pct(r, 60) ? "11" : "22");
    put_int_field(o, "units", (uint64_t)rng_range(r, 1, 10));
    if (rng_pct(r, 30)) {
        put_key(o, "price");
        out_uint(o, (uint64_t)rng_range(r, 10, 20000), 1);
        out_chr(o, '.');
        out_uint(o, rng_below(r, 100), 2);
    }
    if (rng_pct(r, 20)) put_int_field(o, "visit_number", (uint64_t)rng_range(r, 1, 40));
    put_int_field(o, "member_age", (uint64_t)rng_range(r, 0, 95));
    out_str(o, "}\n");
}

/* A payer name must be safe to write into JSON and the policy unescaped. */
static bool payer_ok(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

/* Parses a decimal count in [min, max]; usage error otherwise. */
static uint64_t parse_count(const char *s, uint64_t min, uint64_t max, const char *what)
{
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 12) {
        fprintf(stderr, "gen: %s must be a whole number, got \"%s\"\n", what, s);
        usage();
    }
    uint64_t v = strtoull(s, NULL, 10);
    if (v < min || v > max) {
        fprintf(stderr, "gen: %s must be in %" PRIu64 "..%" PRIu64 ", got %s\n", what, min, max, s);
        usage();
    }
    return v;
}

static int cmd_requests(int argc, char **argv)
{
    if (argc < 1) usage();
    uint64_t n = parse_count(argv[0], 0, UINT64_C(999999999999), "N");
    static const char *const default_payers[] = {"bench"};
    const char **payers = NULL;
    char *payer_text = NULL;
    size_t npayers = 0;
    if (argc == 3 && strcmp(argv[1], "--payers") == 0) {
        payer_text = xmalloc(strlen(argv[2]) + 1);
        strcpy(payer_text, argv[2]);
        payers = xmalloc((strlen(payer_text) / 2 + 1) * sizeof *payers);
        for (char *p = payer_text;;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = '\0';
            if (!payer_ok(p)) {
                fprintf(stderr, "gen: bad payer name \"%s\" (letters, digits, _ - . only)\n", p);
                usage();
            }
            payers[npayers++] = p;
            if (!comma) break;
            p = comma + 1;
        }
    } else if (argc != 1) {
        usage();
    }

    ReqGen g = {.rng = {SEED_REQUESTS},
                .payers = payers ? payers : default_payers,
                .npayers = payers ? npayers : 1,
                .first_day = days_from_civil(2022, 1, 1)};
    g.ndays = days_from_civil(2026, 12, 31) - g.first_day + 1;
    hot_load(&g.hot);
    Out o;
    out_open(&o, stdout);
    for (uint64_t i = 1; i <= n; i++) request_line(&g, &o, i);
    out_close(&o);
    free(g.hot.r);
    free(payers);
    free(payer_text);
    return 0;
}

static int cmd_requests_peers(int argc, char **argv)
{
    if (argc != 1) usage();
    uint64_t n = parse_count(argv[0], 0, UINT64_C(999999999999), "N");
    ReqGen g = {.rng = {SEED_PEERS}, .first_day = days_from_civil(2022, 1, 1)};
    g.ndays = days_from_civil(2026, 12, 31) - g.first_day + 1;
    hot_load(&g.hot);
    Out o;
    out_open(&o, stdout);
    for (uint64_t i = 1; i <= n; i++) peers_line(&g, &o, i);
    out_close(&o);
    free(g.hot.r);
    return 0;
}

/* ---- policies ----------------------------------------------------------- */

/* schema: the module the policy uses ("std.request", "peers_request"). */
static void policy_header(Out *o, const char *title, const char *comment, const char *schema)
{
    out_fmt(o,
            "# %s\n"
            "# Written by bench/gen (deterministic); regenerate rather than edit.\n"
            "use %s\n\n"
            "policy bench {\n"
            "  payer \"bench\"\n"
            "  title \"%s\"\n"
            "  version \"1\"\n"
            "  effective 2020-01-01\n"
            "  source \"bench-list.txt\" \"Benchmark prior-authorization list\"\n"
            "  contact \"Utilization management: 800-555-0100\"\n"
            "  reviewer \"Bench UM\"\n"
            "  calendar bench_holidays\n"
            "}\n\n",
            comment, schema, title);
}

/* The n-th (1-based) weekday wd (0 = Monday) of month m, or the last when n == 0. */
static int32_t nth_weekday(int y, int m, int wd, int n)
{
    if (n == 0) {
        int32_t last = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) - 1;
        return last - (weekday(last) - wd + 7) % 7;
    }
    int32_t first = days_from_civil(y, m, 1);
    return first + (wd - weekday(first) + 7) % 7 + 7 * (n - 1);
}

/* A fixed-date holiday moved to Friday/Monday when it falls on a weekend. */
static int32_t observed(int y, int m, int d)
{
    int32_t day = days_from_civil(y, m, d);
    int wd = weekday(day);
    return wd == 5 ? day - 1 : wd == 6 ? day + 1 : day;
}

/* US federal holidays (observed dates), 2021 through 2027. */
static void policy_calendar(Out *o)
{
    out_str(o, "calendar bench_holidays \"US federal holidays, observed, 2021-2027\" {\n");
    for (int y = 2021; y <= 2027; y++) {
        struct {
            int32_t day;
            const char *name;
        } h[] = {
            {observed(y, 1, 1), "New Year's Day"},
            {nth_weekday(y, 1, 0, 3), "Martin Luther King Jr. Day"},
            {nth_weekday(y, 2, 0, 3), "Washington's Birthday"},
            {nth_weekday(y, 5, 0, 0), "Memorial Day"},
            {observed(y, 6, 19), "Juneteenth"},
            {observed(y, 7, 4), "Independence Day"},
            {nth_weekday(y, 9, 0, 1), "Labor Day"},
            {nth_weekday(y, 10, 0, 2), "Columbus Day"},
            {observed(y, 11, 11), "Veterans Day"},
            {nth_weekday(y, 11, 3, 4), "Thanksgiving Day"},
            {observed(y, 12, 25), "Christmas Day"},
        };
        for (size_t i = 0; i < COUNT(h); i++) {
            out_reserve(o);
            out_str(o, "  ");
            out_date(o, h[i].day);
            out_fmt(o, " \"%s\"\n", h[i].name);
        }
    }
    out_str(o, "}\n\n");
}

/* Writes a code set's items ("CPT 70551..70553 HCPCS S2083": words
 * separated by single spaces) one system per line, wrapped before 92
 * columns. */
static void out_items(Out *o, const char *items)
{
    size_t col = 0;
    for (const char *p = items; *p;) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (system_from_word(p, n) >= 0) {
            out_str(o, "\n ");
            col = 1;
        } else if (col + 1 + n > 92) {
            out_str(o, "\n     ");
            col = 5;
        }
        out_chr(o, ' ');
        out_mem(o, p, n);
        col += 1 + n;
        p += n;
        if (*p == ' ') p++;
    }
    out_str(o, "\n}\n");
}

static void policy_dx_sets(Out *o)
{
    for (size_t i = 0; i < COUNT(dx_sets); i++)
        out_fmt(o, "codeset %s \"%s\" { %s }\n", dx_sets[i][0], dx_sets[i][1], dx_sets[i][2]);
    out_str(o, "\n");
}

static int cmd_policy_small(int argc, char **argv)
{
    (void)argv;
    if (argc != 0) usage();
    Out o;
    out_open(&o, stdout);
    policy_header(&o, "Benchmark Health services requiring prior authorization",
                  "A typical payer policy: the shape of a real prior-authorization list.",
                  "std.request");
    policy_calendar(&o);
    policy_dx_sets(&o);
    for (size_t i = 0; i < COUNT(small_categories); i++) {
        const Category *c = &small_categories[i];
        /* A category without codes shares the set of the rule it exempts. */
        const char *set = c->codes ? c->id : strchr(c->outcome, ' ') + 1;
        if (c->codes) {
            out_fmt(&o, "codeset cs_%s \"%s\" {", c->id, c->title);
            out_items(&o, c->codes);
            out_str(&o, "\n");
        }
        out_fmt(&o, "rule %s \"%s\" {\n  cite \"bench-list.txt\" section \"%s\"\n", c->id,
                c->title, c->section);
        out_fmt(&o, "  when code in cs_%s%s\n", set, c->when);
        if (c->unless) out_fmt(&o, "  unless %s\n", c->unless);
        out_fmt(&o, "  %s\n", c->outcome);
        if (c->reviewer) out_fmt(&o, "  reviewer %s\n", c->reviewer);
        if (c->deadline) out_fmt(&o, "  deadline %s\n", c->deadline);
        out_str(&o, "}\n\n");
    }
    for (size_t i = 0; i < COUNT(small_always); i++) {
        const Always *a = &small_always[i];
        out_fmt(&o, "rule %s \"%s\" {\n  cite \"bench-list.txt\" section \"%s\"\n", a->id,
                a->title, a->section);
        out_fmt(&o, "  when %s\n", a->when);
        if (a->unless) out_fmt(&o, "  unless %s\n", a->unless);
        out_fmt(&o, "  %s\n", a->outcome);
        if (a->reviewer) out_fmt(&o, "  reviewer %s\n", a->reviewer);
        if (a->deadline) out_fmt(&o, "  deadline %s\n", a->deadline);
        out_str(&o, "}\n\n");
    }
    out_close(&o);
    return 0;
}

/* Kinds of generated rules. */
typedef enum RuleKind {
    RK_OWN,    /* `code in` its own new code set */
    RK_SHARED, /* `code in` the previous rule's set, another condition */
    RK_EXEMPT, /* `code in` the previous rule's set and clinical_trial: exempts it */
    RK_ALWAYS, /* no code condition: evaluated for every request */
} RuleKind;

typedef struct PolicyPlan {
    uint32_t nrules, ncodes; /* as asked for on the command line */
    bool unmatched;     /* codes from DEAD_LETTERS, no always rules */
    bool peers;         /* the peer benchmark's schema: `codes any in` (needs unmatched:
                           its `codes` take no REV code) */
    uint8_t *kind;      /* RuleKind per rule */
    uint32_t *set;      /* code set (0-based) per rule; always rules: unused */
    uint32_t nsets;     /* code sets: one per RK_OWN rule */
    uint32_t *codes;    /* ncodes ascending distinct universe positions */
} PolicyPlan;

/* Decides each rule's kind and code set: a few always rules spread
 * through the file, ~8% sharing the previous rule's set, ~2% exemptions.
 * Rule 0 always owns a set (the always rules sit mid-stride), so nsets >= 1
 * and every set is written before the first rule that uses it. */
static void plan_rules(PolicyPlan *p)
{
    Rng r = {SEED_PLAN};
    uint32_t nalways = p->unmatched || p->nrules < 20 ? 0 : 2 + p->nrules / 2000;
    if (nalways > 8) nalways = 8;
    uint32_t stride = nalways ? p->nrules / nalways : 0;
    p->kind = xmalloc(p->nrules);
    p->set = xmalloc(p->nrules * sizeof *p->set);
    p->nsets = 0;
    for (uint32_t i = 0; i < p->nrules; i++) {
        bool prev_has_set = i > 0 && (p->kind[i - 1] == RK_OWN || p->kind[i - 1] == RK_SHARED);
        uint32_t x = rng_below(&r, 100);
        if (nalways && i % stride == stride / 2 && i / stride < nalways) p->kind[i] = RK_ALWAYS;
        else if (prev_has_set && x < 2) p->kind[i] = RK_EXEMPT;
        else if (prev_has_set && x < 10) p->kind[i] = RK_SHARED;
        else p->kind[i] = RK_OWN;
        if (p->kind[i] == RK_OWN) p->set[i] = p->nsets++;
        else p->set[i] = i > 0 ? p->set[i - 1] : 0;
    }
}

/* Chooses ncodes distinct ascending positions in a universe of `size`
 * codes: runs of adjacent codes (half are single codes, the rest 2..12
 * long, which become ranges) separated by gaps that spread the codes over
 * the whole universe. */
static void plan_codes(PolicyPlan *p, uint32_t size)
{
    Rng r = {SEED_CODES};
    p->codes = xmalloc((size_t)p->ncodes * sizeof *p->codes);
    uint32_t slack = size - p->ncodes; /* positions still to skip */
    uint32_t pos = 0, k = 0;
    while (k < p->ncodes) {
        uint32_t left = p->ncodes - k;
        uint32_t run = rng_pct(&r, 50) ? 1 : (uint32_t)rng_range(&r, 2, 12);
        if (run > left) run = left;
        uint32_t runs_left = left / 4 + 1;
        uint32_t avg = slack / runs_left;
        uint32_t gap = avg ? rng_below(&r, 2 * avg + 1) : 0;
        if (gap > slack) gap = slack;
        if (k > 0 && gap == 0 && slack > 0) gap = 1; /* keep runs apart */
        pos += gap;
        slack -= gap;
        for (uint32_t i = 0; i < run; i++) p->codes[k++] = pos++;
    }
}

/* Writes set s's codes: its slice of p->codes, runs within a block as ranges. */
static void policy_codeset(Out *o, const PolicyPlan *p, uint32_t s)
{
    uint32_t lo = (uint32_t)((uint64_t)s * p->ncodes / p->nsets);
    uint32_t hi = (uint32_t)((uint64_t)(s + 1) * p->ncodes / p->nsets);
    out_fmt(o, "codeset cs%05u \"Generated code set %u\" {", s + 1, s + 1);
    int sys = -1;
    size_t col = 40;
    for (uint32_t i = lo; i < hi;) {
        uint32_t block, b2;
        Code first = universe_code(p->unmatched, p->codes[i], &block);
        uint32_t j = i;
        while (j + 1 < hi && p->codes[j + 1] == p->codes[j] + 1 &&
               universe_block(p->unmatched, p->codes[j + 1]) == block)
            j++;
        if (col > 90) {
            out_str(o, "\n   ");
            col = 3;
        }
        if (first.sys != sys) {
            sys = first.sys;
            out_fmt(o, " %s", system_names[sys]);
            col += 1 + strlen(system_names[sys]);
        }
        if (j > i) {
            Code last = universe_code(p->unmatched, p->codes[j], &b2);
            out_fmt(o, " %s..%s", first.s, last.s);
            col += 3 + strlen(first.s) + strlen(last.s);
        } else {
            out_fmt(o, " %s", first.s);
            col += 1 + strlen(first.s);
        }
        i = j + 1;
    }
    out_str(o, " }\n");
}

static const char *const gen_topics[] = {
    "Advanced imaging", "Cardiology",     "Durable medical equipment", "Genetic testing",
    "Orthopedic surgery", "Pain management", "Sleep medicine",          "Specialty drugs",
    "Therapy services",  "Oncology",       "Gastroenterology",         "Behavioral health",
    "Vascular surgery",  "Neurology",      "Transplant",               "Home health"};

/* Conjuncts after `code in SET`. Several are empty: plain code rules are common. */
static const char *const gen_when[] = {
    "",
    "",
    "",
    " and setting in {outpatient, office}",
    " and setting in {outpatient, ambulatory_surgery}",
    " and setting == inpatient",
    " and setting != home",
    " and member_age >= 18",
    " and member_age < 65",
    " and units > 4",
    " and price > $500.00",
    " and visit_number > 12",
    " and network == \"out\"",
    " and diagnoses any in dx_oncology",
    " and not (diagnoses any in dx_obesity)",
    " and state in {\"NY\", \"NJ\", \"PA\", \"CT\"}",
    " and plan == \"medicare_advantage\"",
    " and (setting == office or member_age < 18)",
    " and setting in {outpatient, office} and units >= 2",
};

static const char *const gen_unless[] = {
    "emergent", "clinical_trial", "admitted_from_er", "network == \"in\" and member_age < 19",
    "diagnoses any in dx_oncology", "plan == \"phs_plus\""};

static const char *const gen_reviewers[] = {"\"eviCore\"", "\"Carelon\"", "\"TurningPoint\"",
                                            "\"ASH\"", "\"Bench Pharmacy\"",
                                            "\"eviCore\", \"Bench UM\""};

static const char *const gen_deadlines[] = {
    "72 hours before service",        "14 days before service",
    "2 business_days before service", "5 business_days before service",
    "1 business_day after admission", "3 days before service"};

/* Always-evaluated rules of generated policies (the first is the waiver). */
static const char *const gen_always[][3] = {
    {"medicare_primary and not medicare_exhausted", "exempt all", "Medicare is primary"},
    {"setting == inpatient and admission in {elective, transfer}", "require prior_auth",
     "Elective inpatient admissions"},
    {"setting in {inpatient, observation} and admission in {emergency, urgent}",
     "require notification", "Emergent admissions"},
    {"setting in {skilled_nursing, rehabilitation, ltac}", "require prior_auth",
     "Post-acute admissions"},
    {"network == \"out\" and setting not in {emergency}", "require prior_auth",
     "Out-of-network services"},
    {"setting in {residential, partial_hospital}", "require prior_auth",
     "Behavioral health programs"},
    {"setting == observation and stay_hours > 48", "require notification",
     "Long observation stays"},
    {"plan == \"phs_plus\" and setting == ambulatory_surgery", "require notification",
     "PHS+ ambulatory surgery"},
};

/* Conditions of rules that share the previous rule's code set. */
static const char *const gen_shared_when[] = {
    " and setting == inpatient", " and member_age < 18", " and setting in {home, office}"};

/* The same kinds of conditions over the peer benchmark's schema
 * (policy --peers); the `unless setting == emergency` that most of its
 * rules carry is among the exceptions. */
static const char *const peers_when[] = {
    "",
    "",
    "",
    " and setting in {outpatient, office}",
    " and setting == inpatient",
    " and setting != home",
    " and member_age >= 18",
    " and member_age < 65",
    " and units > 4",
    " and price > $500.00",
    " and visit_number > 12",
    " and network == \"out\"",
    " and diagnoses any in dx_oncology",
    " and not (diagnoses any in dx_obesity)",
    " and plan == medicare_advantage",
    " and admission_type == elective",
    " and (setting == office or member_age < 18)",
};
static const char *const peers_unless[] = {"setting == emergency", "setting == emergency",
                                           "network == \"in\" and member_age < 19",
                                           "diagnoses any in dx_oncology",
                                           "place_of_service == \"12\""};
static const char *const peers_shared_when[] = {
    " and setting == inpatient", " and member_age < 18", " and setting in {home, office}"};

static void policy_rule(Out *o, const PolicyPlan *p, Rng *r, uint32_t i, uint32_t *nalways)
{
    RuleKind k = (RuleKind)p->kind[i];
    uint32_t num = i + 1;
    if (k == RK_ALWAYS) {
        const char *const *a = gen_always[(*nalways)++ % COUNT(gen_always)];
        out_fmt(o, "rule r%05u \"%s\" {\n  cite \"bench-list.txt\" section \"General\"\n"
                   "  when %s\n  %s\n}\n\n",
                num, a[2], a[0], a[1]);
        return;
    }
    const char *test = p->peers ? "codes any in" : "code in";
    if (k == RK_EXEMPT) {
        out_fmt(o, "rule r%05u \"Clinical trial exemption %u\" {\n"
                   "  cite \"bench-list.txt\" section \"Exemptions\"\n"
                   "  when %s cs%05u and %s\n  exempt r%05u\n}\n\n",
                num, num, test, p->set[i] + 1,
                p->peers ? "place_of_service == \"CT\"" : "clinical_trial", num - 1);
        return;
    }
    out_fmt(o, "rule r%05u \"%s %u\" {\n", num, PICK(r, gen_topics), num);
    if (rng_pct(r, 80)) out_fmt(o, "  cite \"bench-list.txt\" section \"Section %u\"\n", 1 + num / 50);
    else out_str(o, "  cite \"bench-list.txt\"\n");
    uint32_t eff = rng_below(r, 100);
    if (eff < 10) out_str(o, "  effective 2023-01-01\n");
    else if (eff < 15) out_str(o, "  effective 2020-01-01 through 2024-12-31\n");
    const char *when = p->peers ? (k == RK_SHARED ? PICK(r, peers_shared_when) : PICK(r, peers_when))
                                : (k == RK_SHARED ? PICK(r, gen_shared_when) : PICK(r, gen_when));
    out_fmt(o, "  when %s cs%05u%s\n", test, p->set[i] + 1, when);
    uint32_t nunless = rng_pct(r, 35) ? (rng_pct(r, 15) ? 2 : 1) : 0;
    const char *const *unless = p->peers ? peers_unless : gen_unless;
    uint32_t nun = p->peers ? (uint32_t)COUNT(peers_unless) : (uint32_t)COUNT(gen_unless);
    uint32_t first = rng_below(r, nun);
    for (uint32_t u = 0; u < nunless; u++) out_fmt(o, "  unless %s\n", unless[(first + u) % nun]);
    uint32_t x = rng_below(r, 100);
    out_fmt(o, "  require %s\n", x < 80 ? "prior_auth" : x < 95 ? "notification" : "not_covered");
    if (rng_pct(r, 50)) out_fmt(o, "  reviewer %s\n", PICK(r, gen_reviewers));
    if (rng_pct(r, 70)) out_fmt(o, "  deadline %s\n", PICK(r, gen_deadlines));
    out_str(o, "}\n\n");
}

static int cmd_policy(int argc, char **argv)
{
    PolicyPlan p = {0};
    if (argc < 2 || argc > 4) usage();
    for (int a = 2; a < argc; a++) {
        if (strcmp(argv[a], "--unmatched") == 0 && !p.unmatched) p.unmatched = true;
        else if (strcmp(argv[a], "--peers") == 0 && !p.peers) p.peers = true;
        else usage();
    }
    if (p.peers && !p.unmatched) die("--peers needs --unmatched (the schema takes no REV code)");
    uint32_t size = p.unmatched ? DEAD_SIZE : LIVE_SIZE;
    p.nrules = (uint32_t)parse_count(argv[0], 1, 1000000, "RULES");
    p.ncodes = (uint32_t)parse_count(argv[1], 1, size, "CODES");
    plan_rules(&p);
    if (p.ncodes < p.nsets)
        die("%u rules need at least %u codes (one per code set), got %u", p.nrules, p.nsets,
            p.ncodes);
    plan_codes(&p, size);

    char title[160], comment[200];
    snprintf(title, sizeof title, "Generated benchmark policy: %u rules over %u codes%s",
             p.nrules, p.ncodes, p.unmatched ? " that no request carries" : "");
    snprintf(comment, sizeof comment, "gen policy %u %u%s%s", p.nrules, p.ncodes,
             p.unmatched ? " --unmatched" : "", p.peers ? " --peers" : "");
    Out o;
    out_open(&o, stdout);
    policy_header(&o, title, comment, p.peers ? "peers_request" : "std.request");
    policy_calendar(&o);
    policy_dx_sets(&o);
    Rng r = {SEED_RULES};
    uint32_t nalways = 0, next_set = 0;
    for (uint32_t i = 0; i < p.nrules; i++) {
        /* Each set is written just before the first rule that uses it. */
        if (p.kind[i] == RK_OWN) policy_codeset(&o, &p, next_set++);
        policy_rule(&o, &p, &r, i, &nalways);
    }
    out_close(&o);
    free(p.kind);
    free(p.set);
    free(p.codes);
    return 0;
}

/* ---- clock -------------------------------------------------------------- */

/* Prints a monotonic time in seconds with nanoseconds: run.sh subtracts two
 * readings. Portable where `date +%s.%N` is not. */
static int cmd_clock(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) die("clock_gettime: %s", strerror(errno));
    printf("%lld.%09ld\n", (long long)ts.tv_sec, (long)ts.tv_nsec);
    return 0;
}

/* ---- time --------------------------------------------------------------- */

static double seconds_of(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static double cpu_of(const struct rusage *ru) { return seconds_of(ru->ru_utime) + seconds_of(ru->ru_stime); }

static double now_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) die("clock_gettime: %s", strerror(errno));
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv[1..] (its stdin, stdout and stderr are gen's) and writes
 * "WALL CPU" to the file argv[0]: wall seconds, and the user + system
 * seconds of the command (getrusage of the children, to the microsecond,
 * where the shell's `times` gives hundredths). Exits as the command did,
 * 128 + N when signal N ended it, 127 when it could not be run. */
static int cmd_time(int argc, char **argv)
{
    if (argc < 2) usage();
    struct rusage before, after;
    if (getrusage(RUSAGE_CHILDREN, &before) != 0) die("getrusage: %s", strerror(errno));
    double t0 = now_seconds();
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        fprintf(stderr, "gen: cannot run %s: %s\n", argv[1], strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) die("waitpid: %s", strerror(errno));
    double t1 = now_seconds();
    if (getrusage(RUSAGE_CHILDREN, &after) != 0) die("getrusage: %s", strerror(errno));
    FILE *f = fopen(argv[0], "w");
    if (!f) die("cannot write %s: %s", argv[0], strerror(errno));
    fprintf(f, "%.9f %.6f\n", t1 - t0, cpu_of(&after) - cpu_of(&before));
    if (fclose(f) != 0) die("cannot write %s: %s", argv[0], strerror(errno));
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "requests") == 0) return cmd_requests(argc - 2, argv + 2);
    if (strcmp(cmd, "requests-peers") == 0) return cmd_requests_peers(argc - 2, argv + 2);
    if (strcmp(cmd, "policy") == 0) return cmd_policy(argc - 2, argv + 2);
    if (strcmp(cmd, "policy-small") == 0) return cmd_policy_small(argc - 2, argv + 2);
    if (strcmp(cmd, "clock") == 0 && argc == 2) return cmd_clock();
    if (strcmp(cmd, "time") == 0) return cmd_time(argc - 2, argv + 2);
    usage();
    return 2;
}
