// tests/crd/check.js: the CRD service of `pcrvm serve`, end to end.
//
//   node tests/crd/check.js BIN_DIR   (make crd-test; needs the npm package
//                                      fhirpath in NODE_PATH)
//
// Starts the server on 127.0.0.1 (a free port) with the four payers and the
// demo policy, sends the hook requests of tests/crd/*.json (built after the
// CRD and CDS Hooks specifications' examples), and checks every response:
// the CDS Hooks response rules, the coverage-information extension's
// invariants (CRD STU 2 crd-ci-q1..q5, and STU 2.1's stricter crd-ci-q2)
// evaluated with HL7's FHIRPath engine on the R4 model, the mapping of each
// resource type to a PCR record, the decision (compared with pcrvm's for
// that record), and the errors for malformed requests and unknown hooks.
// Every wait is bounded; the server is always stopped.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');
const r4model = require('fhirpath/fhir-context/r4');

const BIN = process.argv[2] || 'bin';
const ROOT = path.resolve(__dirname, '..', '..');
const EXT = 'http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information';
const POLICIES = ['alliant', 'cigna', 'healthlink', 'ibx'].map((p) => `policies/${p}.pcr`)
    .concat(['policies/examples/demo.pcr']);

let passed = 0, failed = 0;
function ok(cond, name, extra) {
    if (cond) passed++;
    else { failed++; console.log(`FAIL: ${name}${extra ? ': ' + extra : ''}`); }
}
function eq(got, want, name) {
    const g = JSON.stringify(got), w = JSON.stringify(want);
    ok(g === w, name, g === w ? '' : `got ${g}, want ${w}`);
}

// The extension's invariants: CRD STU 2 (2.0.1) as published, plus the
// 2.1 form of q2 (no pa-needed at all on a not-covered assertion).
const INVARIANTS = {
    'crd-ci-q1': "extension.where(url='questionnaire' or url='response').exists() implies (extension.where(url = 'doc-needed').exists() and extension.where(url = 'doc-needed').all(value != 'no-doc'))",
    'crd-ci-q2': "extension.where(url = 'covered' and value != 'not-covered') implies extension.where(url = 'pa-needed').exists()",
    'crd-ci-q2 (2.1)': "extension.where(url = 'covered' and value = 'not-covered').exists() implies extension.where(url = 'pa-needed').exists().not()",
    'crd-ci-q3': "extension.where(url = 'info-needed').exists() implies extension.where((url = 'covered' or url = 'pa-needed' or url = 'doc-needed') and value = 'conditional').count() >= 1",
    'crd-ci-q4': "extension.where(url = 'pa-needed' and value = 'satisfied') and extension.where(url = 'doc-purpose').exists() implies extension.where(url = 'doc-purpose').all(value != 'PA')",
    'crd-ci-q5': "extension.where(url = 'pa-needed' and value = 'satisfied').exists() = extension.where(url = 'satisfied-pa-id').exists()",
    // cardinalities of the STU 2 profile
    'coverage 1..1': "extension.where(url = 'coverage').count() = 1 and extension.where(url = 'coverage').value.reference.exists()",
    'covered 1..1': "extension.where(url = 'covered').count() = 1 and extension.where(url = 'covered').value in ('covered' | 'not-covered' | 'conditional')",
    'pa-needed 0..1': "extension.where(url = 'pa-needed').count() <= 1 and extension.where(url = 'pa-needed').all(value in ('no-auth' | 'auth-needed' | 'satisfied' | 'performpa' | 'conditional'))",
    'info-needed codes': "extension.where(url = 'info-needed').all(value in ('performer' | 'location' | 'timeframe'))",
    'date 1..1': "extension.where(url = 'date').count() = 1 and extension.where(url = 'date').value.toString().matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}$')",
    'coverage-assertion-id 1..1': "extension.where(url = 'coverage-assertion-id').count() = 1 and extension.where(url = 'coverage-assertion-id').value.length() > 0",
    'detail code and value': "extension.where(url = 'detail').all(extension.where(url = 'code').count() = 1 and extension.where(url = 'value').count() = 1)",
};

// Evaluates every invariant on every coverage-information extension of
// resource; returns the extensions.
function checkExtensions(resource, name) {
    const exts = fhirpath.evaluate(resource, `${resource.resourceType}.extension.where(url = '${EXT}')`, null, r4model);
    ok(exts.length === 1, `${name}: one coverage-information extension`, `${exts.length}`);
    for (const ext of exts)
        for (const [inv, expr] of Object.entries(INVARIANTS)) {
            let res;
            try { res = fhirpath.evaluate(ext, expr, null, r4model, { resolveInternalTypes: true }); }
            catch (e) { res = [`error: ${e.message}`]; }
            // STU 2's q2 starts from a collection, not a boolean: on a
            // not-covered assertion its antecedent is empty, and `{} implies
            // false` is empty (FHIRPath's three-valued logic), not false.
            const pass = (res.length === 1 && res[0] === true) || (inv === 'crd-ci-q2' && res.length === 0);
            ok(pass, `${name}: ${inv}`, JSON.stringify(res));
        }
    return exts;
}

// The value of sub-extension url of a coverage-information extension.
function sub(ext, url) {
    return ext.extension.filter((e) => e.url === url).map((e) => {
        const k = Object.keys(e).find((x) => x.startsWith('value'));
        return k ? e[k] : e;
    });
}
function details(ext) {
    const out = {};
    for (const d of ext.extension.filter((e) => e.url === 'detail')) {
        const code = d.extension.find((e) => e.url === 'code').valueCodeableConcept.coding[0].code;
        out[code] = d.extension.find((e) => e.url === 'value').valueString;
    }
    return out;
}

// The CDS Hooks 2.0 response rules.
const cardUuids = new Set(); // every card's uuid so far
function checkResponse(body, request, name) {
    ok(Array.isArray(body.cards), `${name}: cards is an array`);
    for (const [i, c] of (body.cards || []).entries()) {
        const n = `${name}: card ${i}`;
        ok(typeof c.summary === 'string' && c.summary.length > 0 && c.summary.length < 140, `${n} summary under 140 characters`, c.summary);
        ok(['info', 'warning', 'critical'].includes(c.indicator), `${n} indicator`, c.indicator);
        ok(c.source && typeof c.source.label === 'string' && c.source.label.length > 0, `${n} source.label`);
        ok(c.detail === undefined || typeof c.detail === 'string', `${n} detail is markdown text`);
        ok(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/.test(c.uuid || ''), `${n} uuid`, c.uuid);
        ok(!cardUuids.has(c.uuid), `${n} uuid unique`, c.uuid);
        cardUuids.add(c.uuid);
    }
    const orders = new Set();
    const ctx = request.context || {};
    for (const b of [ctx.draftOrders, ctx.appointments])
        for (const e of (b && b.entry) || []) orders.add(`${e.resource.resourceType}/${e.resource.id}`);
    if (request.prefetch && request.prefetch.encounter)
        orders.add(`Encounter/${request.prefetch.encounter.id}`);
    ok(Array.isArray(body.systemActions), `${name}: systemActions is an array`);
    for (const [i, a] of (body.systemActions || []).entries()) {
        const n = `${name}: action ${i}`;
        ok(['create', 'update', 'delete'].includes(a.type), `${n} type`, a.type);
        ok(typeof a.description === 'string', `${n} description`);
        ok(a.resource && typeof a.resource.resourceType === 'string', `${n} resource`);
        if (a.type === 'update' && a.resource)
            ok(orders.has(`${a.resource.resourceType}/${a.resource.id}`), `${n} updates an order of the request`);
    }
}

// pcrvm's decision line for one record, for comparison.
function pcrvmLine(record) {
    const out = execFileSync(path.join(BIN, 'pcrvm'), POLICIES, {
        cwd: ROOT, input: JSON.stringify(record) + '\n', timeout: 30000 });
    return JSON.parse(out.toString());
}

function startServer() {
    return new Promise((resolve, reject) => {
        const srv = spawn(path.join(BIN, 'pcrvm'), ['serve', '--listen', '127.0.0.1:0', '--threads', '2', ...POLICIES],
            { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
        srv.log = '';
        const timer = setTimeout(() => { srv.kill('SIGKILL'); reject(new Error('server did not start: ' + srv.log)); }, 30000);
        srv.stderr.on('data', (d) => {
            srv.log += d;
            const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(srv.log);
            if (m && !srv.port) { srv.port = Number(m[1]); clearTimeout(timer); resolve(srv); }
        });
        srv.on('exit', () => { clearTimeout(timer); if (!srv.port) reject(new Error('server exited: ' + srv.log)); });
    });
}

async function call(port, method, urlPath, body, ctype) {
    const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, {
        method, body, headers: ctype ? { 'Content-Type': ctype } : {}, signal: AbortSignal.timeout(30000) });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { json = null; }
    return { status: res.status, json, text };
}

const fixture = (f) => JSON.parse(fs.readFileSync(path.join(__dirname, f), 'utf8'));

// CDS Hooks 2.0 feedback: the EHR says what became of a card.
async function feedback(srv, ids) {
    const port = srv.port, svc = ids['order-sign'];
    const sign = fixture('order-sign-bench.json');
    const r = await call(port, 'POST', `/cds-services/${svc}`, JSON.stringify(sign), 'application/json');
    const uuid = r.json && r.json.cards[0] && r.json.cards[0].uuid;
    ok(uuid, 'feedback: a card with a uuid');
    const body = { feedback: [{ card: uuid, outcome: 'overridden', outcomeTimestamp: '2026-12-06T04:45:00Z',
        overrideReason: { reason: { code: 'patient-requested', system: 'http://example.org/override-reasons' }, userComment: 'will call the payer' } }] };
    let f = await call(port, 'POST', `/cds-services/${svc}/feedback`, JSON.stringify(body), 'application/json');
    eq([f.status, f.json], [200, {}], 'feedback: 200 and {}');
    for (let i = 0; i < 50 && !srv.log.includes(`"event":"feedback","service":"${svc}"`); i++) await new Promise((res) => setTimeout(res, 100));
    const line = srv.log.split('\n').find((l) => l.includes('"event":"feedback"')) || '';
    ok(line.includes(`"card":"${uuid}"`) && line.includes('"outcome":"overridden"') && line.includes('patient-requested'), 'feedback: logged with the card, outcome and reason', line);
    const bad = async (name, p, b, want, ctype) => {
        const res = await call(port, 'POST', p, b, ctype || 'application/json');
        eq(res.status, want, `feedback: ${name}: ${want}`);
    };
    await bad('no outcome', `/cds-services/${svc}/feedback`, JSON.stringify({ feedback: [{ card: uuid, outcomeTimestamp: 'x' }] }), 400);
    await bad('outcome not a code', `/cds-services/${svc}/feedback`, JSON.stringify({ feedback: [{ card: uuid, outcome: 'ignored', outcomeTimestamp: 'x' }] }), 400);
    await bad('no card', `/cds-services/${svc}/feedback`, JSON.stringify({ feedback: [{ outcome: 'accepted', outcomeTimestamp: 'x' }] }), 400);
    await bad('empty list', `/cds-services/${svc}/feedback`, '{"feedback":[]}', 400);
    await bad('not JSON', `/cds-services/${svc}/feedback`, '{"feedback":', 400);
    await bad('unknown service', '/cds-services/nothing/feedback', JSON.stringify(body), 404);
    await bad('other path under a service', `/cds-services/${svc}/analytics`, JSON.stringify(body), 404);
    await bad('wrong media type', `/cds-services/${svc}/feedback`, JSON.stringify(body), 415, 'text/plain');
    f = await call(port, 'GET', `/cds-services/${svc}/feedback`);
    eq(f.status, 405, 'feedback: GET: 405');
}

async function main(port) {
    // discovery
    const d = await call(port, 'GET', '/cds-services');
    eq(d.status, 200, 'discovery status');
    const hooks = (d.json.services || []).map((s) => s.hook).sort();
    eq(hooks, ['appointment-book', 'encounter-start', 'order-select', 'order-sign'], 'discovery hooks');
    for (const s of d.json.services || []) {
        ok(typeof s.id === 'string' && typeof s.description === 'string', `discovery ${s.hook}: id and description`);
        ok(s.prefetch && s.prefetch.patient === 'Patient/{{context.patientId}}', `discovery ${s.hook}: patient prefetch`);
        ok(s.prefetch && /^Coverage\?/.test(s.prefetch.coverage), `discovery ${s.hook}: coverage prefetch`);
    }
    const ids = Object.fromEntries((d.json.services || []).map((s) => [s.hook, s.id]));

    const assertionIds = new Set();
    const answers = {};
    for (const f of ['order-sign', 'order-select', 'appointment-book', 'encounter-start']) {
        const req = fixture(`${f}.json`);
        const r = await call(port, 'POST', `/cds-services/${ids[req.hook]}`, JSON.stringify(req), 'application/json');
        eq(r.status, 200, `${f}: status`);
        if (r.status !== 200) continue;
        checkResponse(r.json, req, f);
        eq(r.json.cards.length, r.json.systemActions.length + r.json.cards.filter((c) => /unknown/.test(c.summary)).length, `${f}: a card per order`);
        answers[f] = {};
        for (const [i, a] of r.json.systemActions.entries()) {
            const key = `${a.resource.resourceType}/${a.resource.id}`;
            const [ext] = checkExtensions(a.resource, `${f} ${key}`);
            const card = r.json.cards[i];
            answers[f][key] = { ext, card, resource: a.resource };
            const aid = sub(ext, 'coverage-assertion-id')[0];
            ok(!assertionIds.has(aid), `${f} ${key}: coverage-assertion-id unique`, aid);
            assertionIds.add(aid);
            // the decision is pcrvm's for the mapped record
            const rec = card.extension['pcr-record'];
            const line = pcrvmLine(rec);
            eq(card.extension['pcr-decision'], line, `${f} ${key}: decision = pcrvm's`);
            eq(sub(ext, 'coverage')[0], { reference: 'Coverage/cov-1' }, `${f} ${key}: coverage reference`);
            if (line.policy) eq(details(ext).policy, line.policy, `${f} ${key}: policy version`);
            // the original order is kept, with the extension added
            const orig = JSON.parse(JSON.stringify(a.resource));
            orig.extension = orig.extension.filter((e) => e.url !== EXT);
            if (orig.extension.length === 0) delete orig.extension;
            const src = (req.context.draftOrders || req.context.appointments || { entry: [{ resource: req.prefetch.encounter }] })
                .entry.map((e) => e.resource).find((x) => `${x.resourceType}/${x.id}` === key);
            eq(orig, src, `${f} ${key}: the order otherwise unchanged`);
        }
    }

    // mapping, one resource type at a time (docs/crd.md)
    const rec = (f, k) => answers[f] && answers[f][k] && answers[f][k].card.extension['pcr-record'];
    eq(rec('order-sign', 'ServiceRequest/sr-mri'), {
        id: 'ServiceRequest/sr-mri', payer: 'demo', plan: 'commercial', code: '70551', code_system: 'CPT',
        setting: 'outpatient', diagnoses: ['G43.909'], service_date: '2026-03-02', member_age: 45,
        requested_at: '2026-02-25T09:30' }, 'map ServiceRequest');
    eq(rec('order-sign', 'DeviceRequest/dr-cpap'), {
        id: 'DeviceRequest/dr-cpap', payer: 'demo', plan: 'commercial', code: 'E0601', code_system: 'HCPCS',
        service_date: '2026-03-02', member_age: 45, requested_at: '2026-02-25' }, 'map DeviceRequest');
    eq(rec('order-sign', 'MedicationRequest/mr-1'), {
        id: 'MedicationRequest/mr-1', payer: 'demo', plan: 'commercial', code: 'J1745', code_system: 'HCPCS',
        service_date: '2026-03-03', member_age: 45, requested_at: '2026-03-02T10:00' }, 'map MedicationRequest');
    eq(rec('appointment-book', 'Appointment/ap-sleep'), {
        id: 'Appointment/ap-sleep', payer: 'demo', plan: 'commercial', code: '95810', code_system: 'CPT',
        diagnoses: ['G47.33'], service_date: '2026-03-10', member_age: 45, requested_at: '2026-02-20T11:15' }, 'map Appointment');
    eq(rec('encounter-start', 'Encounter/enc-1'), {
        id: 'Encounter/enc-1', payer: 'demo', plan: 'commercial', code: '0450', code_system: 'REV',
        setting: 'inpatient', admission: 'emergency', service_date: '2026-03-06', member_age: 45 }, 'map Encounter');

    // obligations onto the extension
    const ans = (f, k) => (answers[f] && answers[f][k]) || { ext: { extension: [] }, card: {} };
    let a = ans('order-sign', 'ServiceRequest/sr-mri');
    eq([sub(a.ext, 'covered')[0], sub(a.ext, 'pa-needed')[0]], ['covered', 'auth-needed'], 'prior_auth -> auth-needed');
    eq(details(a.ext).reviewer, 'eviCore', 'prior_auth: reviewer detail');
    eq(details(a.ext).deadline, '2026-02-27T00:00', 'prior_auth: deadline detail');
    ok(sub(a.ext, 'reason').some((r) => /Advanced imaging: MRI \(demo-list.txt, Diagnostic Imaging\)/.test(r.text)), 'prior_auth: reason with citation');
    ok(/Prior authorization required/.test(a.card.summary) && /eviCore/.test(a.card.detail) && /2026-02-27/.test(a.card.detail), 'prior_auth: card');
    a = ans('order-sign', 'DeviceRequest/dr-cpap');
    eq([sub(a.ext, 'covered')[0], sub(a.ext, 'pa-needed')[0]], ['covered', 'conditional'], 'info_needed -> conditional');
    eq(sub(a.ext, 'info-needed'), ['location'], 'info_needed: info-needed from the missing setting');
    eq(details(a.ext).missing, 'setting, admission, price', 'info_needed: every missing field listed');
    ok(/Missing: setting, admission, price/.test(a.card.detail || ''), 'info_needed: card lists what is missing');
    a = ans('order-sign', 'ServiceRequest/sr-cosmetic');
    eq([sub(a.ext, 'covered')[0], sub(a.ext, 'pa-needed').length], ['not-covered', 0], 'not_covered -> not-covered, no pa-needed');
    a = ans('encounter-start', 'Encounter/enc-1');
    const encLine = a.card.extension && a.card.extension['pcr-decision'];
    eq(encLine && encLine.decision, 'notification', 'encounter: the emergency admission needs notification');
    eq([sub(a.ext, 'covered')[0], sub(a.ext, 'pa-needed')[0]], ['covered', 'no-auth'], 'notification -> covered, no-auth');
    ok(/^notify Demo Health by 20/.test(details(a.ext).notification || ''), 'notification: detail with reviewer and deadline', details(a.ext).notification);
    ok(/notification required/.test(a.card.summary || ''), 'notification: card');
    eq(Object.keys(answers['order-select'] || {}), ['DeviceRequest/dr-cpap'], 'order-select: only the selected order');

    // errors
    const sign = fixture('order-sign.json');
    let r = await call(port, 'POST', '/cds-services/no-such-service', JSON.stringify(sign), 'application/json');
    eq(r.status, 404, 'unknown service: 404');
    r = await call(port, 'POST', `/cds-services/${ids['order-sign']}`, '{"hook": "order-sign", "context": ', 'application/json');
    eq(r.status, 400, 'malformed JSON: 400');
    ok(r.json && /not a JSON object/.test(r.json.error), 'malformed JSON: says so');
    r = await call(port, 'POST', `/cds-services/${ids['order-sign']}`, '[1,2]', 'application/json');
    eq(r.status, 400, 'not an object: 400');
    r = await call(port, 'POST', `/cds-services/${ids['order-sign']}`, JSON.stringify({ ...sign, hook: 'patient-view' }), 'application/json');
    eq(r.status, 400, 'another hook at this service: 400');
    r = await call(port, 'POST', `/cds-services/${ids['order-sign']}`, JSON.stringify({ ...sign, hookInstance: undefined }), 'application/json');
    eq(r.status, 400, 'no hookInstance: 400');
    r = await call(port, 'POST', `/cds-services/${ids['order-sign']}`, JSON.stringify({ ...sign, prefetch: { patient: sign.prefetch.patient } }), 'application/json');
    eq(r.status, 412, 'no coverage prefetch: 412');
    r = await call(port, 'POST', `/cds-services/${ids['order-sign']}`, JSON.stringify({ ...sign, context: { patientId: 'pat-1', draftOrders: { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Observation', id: 'o' } }] } } }), 'application/json');
    eq(r.status, 400, 'no orders: 400');
    r = await call(port, 'POST', `/cds-services/${ids['order-sign']}`, JSON.stringify(sign), 'application/x-ndjson');
    eq(r.status, 415, 'CDS Hooks takes application/json: 415');
    r = await call(port, 'GET', `/cds-services/${ids['order-sign']}`);
    eq(r.status, 405, 'GET a service: 405');
    // a FHIR resource that maps to nothing PCR can decide on: an error card, no assertion
    const bad = JSON.parse(JSON.stringify(sign));
    bad.context.draftOrders.entry = [{ resource: { resourceType: 'ServiceRequest', id: 'x', status: 'draft', code: 'not a CodeableConcept', occurrenceDateTime: 12 } }];
    r = await call(port, 'POST', `/cds-services/${ids['order-sign']}`, JSON.stringify(bad), 'application/json');
    eq(r.status, 200, 'malformed order: 200');
    if (r.json) {
        checkResponse(r.json, bad, 'malformed order');
        eq(r.json.systemActions.length, 0, 'malformed order: no coverage assertion');
        ok(r.json.cards.length === 1 && /could not be determined: .*service_date/.test(r.json.cards[0].detail), 'malformed order: a card says why');
    }
    // the CDS calls are counted in /metrics, their orders' decisions too
    const m = await call(port, 'GET', '/metrics');
    ok(/^pcr_http_requests_total\{path="\/cds-services",status="412"\} 1$/m.test(m.text), 'metrics: CDS statuses');
    ok(/^pcr_decisions_total\{decision="not_covered"\} 1$/m.test(m.text), 'metrics: CDS decisions', (/^pcr_decisions_total\{decision="not_covered"\}.*$/m.exec(m.text) || [''])[0]);
    // a payer without a policy: a card, no assertion
    const other = JSON.parse(JSON.stringify(sign));
    other.prefetch.coverage.entry[0].resource.payor = [{ display: 'Nobody Health' }];
    r = await call(port, 'POST', `/cds-services/${ids['order-sign']}`, JSON.stringify(other), 'application/json');
    eq(r.status, 200, 'unknown payer: 200');
    if (r.json) eq([r.json.systemActions.length, r.json.cards.every((c) => /no policy/.test(c.detail))], [0, true], 'unknown payer: cards, no assertions');
}

startServer().then(async (srv) => {
    try { await main(srv.port); await feedback(srv, { 'order-sign': 'pcr-order-sign' }); }
    catch (e) { failed++; console.log('FAIL: ' + (e.stack || e)); }
    finally {
        srv.kill('SIGTERM');
        const t = setTimeout(() => srv.kill('SIGKILL'), 30000);
        srv.on('exit', (code) => {
            clearTimeout(t);
            ok(code === 0, 'server exit status 0 after SIGTERM', String(code));
            console.log(`crd: ${passed} passed, ${failed} failed`);
            process.exit(failed ? 1 : 0);
        });
    }
}, (e) => { console.log('FAIL: ' + e.message); process.exit(1); });
