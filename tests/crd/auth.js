// tests/crd/auth.js: the CDS services' authentication of the EHR (CDS
// Hooks' Bearer JWT, docs/crd.md "Authenticating the EHR") and CORS, end to
// end.
//
//   node tests/crd/auth.js BIN_DIR   (make crd-test)
//
// Makes real keys with node's crypto (an ES384 and an RS384 key pair for one
// EHR, a shared HS256 secret for another), writes their public JWK Sets to a
// scratch directory, starts `pcrvm serve --jwt-issuer ... --public-url ...`
// and checks that signed tokens pass and that every broken one (no header,
// wrong scheme, not a JWS, alg none, alg confusion, tampered payload, wrong
// key, unknown issuer or kid, expired, issued in the future, wrong aud, no
// jti, replayed jti) gets 401 with WWW-Authenticate and no evaluation; that
// /v1/decide stays open; that SIGHUP re-reads a rotated key set; the CORS
// preflight and header; and that a server without --jwt-issuer warns.
'use strict';
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const BIN = process.argv[2] || 'bin';
const ROOT = path.resolve(__dirname, '..', '..');
const PUBLIC = 'https://payer.example.com/crd';
const EHR = 'https://ehr.example.org';
const EHR2 = 'https://clinic.example.net/fhir';
const SERVICE = '/cds-services/pcr-order-sign';

let passed = 0, failed = 0;
function ok(cond, name, extra) {
    if (cond) passed++;
    else { failed++; console.log(`FAIL: auth: ${name}${extra ? ': ' + extra : ''}`); }
}
function eq(got, want, name) {
    const g = JSON.stringify(got), w = JSON.stringify(want);
    ok(g === w, name, g === w ? '' : `got ${g}, want ${w}`);
}

const b64 = (buf) => Buffer.from(buf).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
let jtiCounter = 0;

// keys: two EC P-384, one RSA 2048, one HS256 secret
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
const ecNew = crypto.generateKeyPairSync('ec', { namedCurve: 'P-384' });
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const secret = crypto.randomBytes(32);
const jwk = (k, kid, alg) => Object.assign(k.publicKey.export({ format: 'jwk' }), { kid, alg, use: 'sig' });

// sign(header, claims, key): a compact JWS. key: {ec}, {rsa}, {hs} or {none}
function sign(header, claims, key) {
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
    let sig = Buffer.alloc(0);
    if (key.ec) sig = crypto.sign('sha384', Buffer.from(input), { key: key.ec, dsaEncoding: 'ieee-p1363' });
    else if (key.rsa) sig = crypto.sign('sha384', Buffer.from(input), key.rsa);
    else if (key.hs) sig = crypto.createHmac('sha256', key.hs).update(input).digest();
    return `${input}.${b64(sig)}`;
}
function claims(over) {
    return Object.assign({ iss: EHR, sub: 'client-1', aud: PUBLIC + SERVICE, iat: now(), exp: now() + 300,
        jti: `jti-${process.pid}-${++jtiCounter}` }, over || {});
}
const esToken = (over, kid) => sign({ alg: 'ES384', typ: 'JWT', kid: kid || 'ec-1' }, claims(over), { ec: ec.privateKey });

function startServer(args) {
    return new Promise((resolve, reject) => {
        const srv = spawn(path.join(BIN, 'pcrvm'), ['serve', '--listen', '127.0.0.1:0', '--threads', '2', ...args,
            'policies/healthlink.pcr'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
        srv.log = '';
        const timer = setTimeout(() => { srv.kill('SIGKILL'); reject(new Error('server did not start: ' + srv.log)); }, 30000);
        srv.stderr.on('data', (d) => {
            srv.log += d;
            const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(srv.log);
            if (m && !srv.port) { srv.port = Number(m[1]); clearTimeout(timer); resolve(srv); }
        });
        srv.on('exit', (code) => { srv.exitCode = code; clearTimeout(timer); if (!srv.port) resolve(srv); });
    });
}
function stopServer(srv) {
    return new Promise((resolve) => {
        if (srv.exitCode !== undefined && srv.exitCode !== null) return resolve(srv.exitCode);
        const t = setTimeout(() => srv.kill('SIGKILL'), 30000);
        srv.on('exit', (code) => { clearTimeout(t); resolve(code); });
        srv.kill('SIGTERM');
    });
}

async function call(port, method, urlPath, token, body, extra) {
    const headers = Object.assign({}, extra || {});
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token !== undefined) headers.Authorization = token.startsWith('Basic') ? token : `Bearer ${token}`;
    const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { method, body, headers, signal: AbortSignal.timeout(30000) });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { json = null; }
    return { status: res.status, json, text, headers: res.headers };
}

const hookBody = fs.readFileSync(path.join(__dirname, 'order-sign-bench.json'), 'utf8');

async function main(dir) {
    const set1 = path.join(dir, 'ehr.jwks'), set2 = path.join(dir, 'clinic.jwks');
    fs.writeFileSync(set1, JSON.stringify({ keys: [jwk(ec, 'ec-1', 'ES384'), jwk(rsa, 'rsa-1', 'RS384')] }));
    fs.writeFileSync(set2, JSON.stringify({ keys: [{ kty: 'oct', k: b64(secret) }] }));
    const srv = await startServer(['--jwt-issuer', `${EHR}=${set1}`, '--jwt-issuer', `${EHR2}=${set2}`,
        '--public-url', PUBLIC + '/']);
    ok(srv.port, 'server with --jwt-issuer starts', srv.log);
    if (!srv.port) return;
    const port = srv.port;
    ok(!/"event":"warning"/.test(srv.log), 'no open-services warning with --jwt-issuer');
    const post = (token) => call(port, 'POST', SERVICE, token, hookBody);

    // tokens that pass
    let r = await post(esToken());
    eq(r.status, 200, 'ES384 token: 200');
    ok(r.json && r.json.cards && r.json.cards.length === 1, 'ES384 token: the CRD answer');
    r = await post(sign({ alg: 'RS384', typ: 'JWT', kid: 'rsa-1' }, claims(), { rsa: rsa.privateKey }));
    eq(r.status, 200, 'RS384 token: 200');
    r = await post(sign({ alg: 'HS256', typ: 'JWT' }, claims({ iss: EHR2 }), { hs: secret }));
    eq(r.status, 200, 'HS256 token without kid (the issuer has one key): 200');
    r = await post(esToken({ aud: [PUBLIC + '/cds-services', 'https://other.example'] }));
    eq(r.status, 200, 'aud as an array naming /cds-services: 200');
    r = await call(port, 'GET', '/cds-services', esToken({ aud: PUBLIC + '/cds-services' }));
    eq(r.status, 200, 'discovery with a token: 200');

    // tokens that do not
    const refused = async (name, token, want, opts) => {
        const res = await (opts && opts.get ? call(port, 'GET', '/cds-services', token) : post(token));
        eq(res.status, 401, `${name}: 401`);
        const www = res.headers.get('www-authenticate') || '';
        ok(/^Bearer realm="cds-services"/.test(www), `${name}: WWW-Authenticate`, www);
        ok(res.json && res.json.status === 401 && want.test(res.json.error), `${name}: the reason`, res.text.slice(0, 200));
    };
    await refused('no Authorization', undefined, /no Authorization header/);
    await refused('discovery without a token', undefined, /no Authorization header/, { get: true });
    await refused('Basic scheme', 'Basic dXNlcjpwYXNz', /not a Bearer token/);
    await refused('not a JWS', 'abc.def', /not a compact JWS/);
    await refused('four parts', esToken() + '.x', /not a compact JWS/);
    await refused('bad base64url', 'a*b.c.d', /base64url JSON/);
    await refused('alg none', sign({ alg: 'none', typ: 'JWT' }, claims(), { none: true }), /alg is not/);
    await refused('alg RS256', sign({ alg: 'RS256', typ: 'JWT', kid: 'rsa-1' }, claims(), { rsa: rsa.privateKey }), /alg is not/);
    // alg confusion: an HMAC keyed with the EC issuer's public key bytes
    await refused('HS256 for an issuer with only public keys', sign({ alg: 'HS256', typ: 'JWT', kid: 'ec-1' }, claims(),
        { hs: ec.publicKey.export({ type: 'spki', format: 'pem' }) }), /no key of the issuer/);
    await refused('typ not JWT', sign({ alg: 'ES384', typ: 'JOSE+JSON', kid: 'ec-1' }, claims(), { ec: ec.privateKey }), /typ/);
    const good = esToken().split('.');
    const forged = b64(JSON.stringify(Object.assign(claims(), { sub: 'someone-else' })));
    await refused('tampered payload', `${good[0]}.${forged}.${good[2]}`, /signature does not verify/);
    await refused('signed by another key', sign({ alg: 'ES384', typ: 'JWT', kid: 'ec-1' }, claims(), { ec: ecNew.privateKey }), /signature does not verify/);
    await refused('RS384 signature under the EC kid', sign({ alg: 'RS384', typ: 'JWT', kid: 'ec-1' }, claims(), { rsa: rsa.privateKey }), /no key of the issuer/);
    await refused('unknown issuer', esToken({ iss: 'https://evil.example' }), /iss is not an allowed issuer/);
    await refused('no iss', esToken({ iss: undefined }), /no iss/);
    await refused('unknown kid', esToken({}, 'ec-9'), /no key of the issuer/);
    await refused('expired', esToken({ exp: now() - 120, iat: now() - 400 }), /expired/);
    await refused('no exp', esToken({ exp: undefined }), /no exp/);
    await refused('issued in the future', esToken({ iat: now() + 600, exp: now() + 900 }), /future/);
    await refused('wrong aud', esToken({ aud: 'https://payer.example.com/other/cds-services/pcr-order-sign' }), /aud/);
    await refused('aud of another service', esToken({ aud: PUBLIC + '/cds-services/pcr-order-select' }), /aud/);
    await refused('no jti', esToken({ jti: undefined }), /no jti/);
    const once = esToken();
    eq((await post(once)).status, 200, 'a token used once: 200');
    await refused('the same token again (replay)', once, /used before/);

    // nothing evaluated for a refused call, and the log says why
    const logged = srv.log.split('\n').filter((l) => /"status":401/.test(l));
    ok(logged.length >= 20 && logged.every((l) => /"records":0/.test(l) && /"auth":"/.test(l)),
        'refused calls: logged with the reason, no record evaluated', `${logged.length}`);

    // /v1/decide and /healthz are not CDS Hooks: no token asked
    r = await call(port, 'POST', '/v1/decide', undefined, '{"id":"a","payer":"healthlink","code":"70551","code_system":"CPT"}');
    eq(r.status, 200, '/v1/decide needs no token');

    // key rotation: a new set on disk, SIGHUP, the old key refused
    fs.writeFileSync(set1, JSON.stringify({ keys: [jwk(ecNew, 'ec-2', 'ES384')] }));
    srv.kill('SIGHUP');
    for (let i = 0; i < 100 && !/"event":"keys","ok":true/.test(srv.log); i++) await new Promise((res) => setTimeout(res, 100));
    ok(/"event":"keys","ok":true/.test(srv.log), 'SIGHUP: keys event');
    await refused('old kid after rotation', esToken(), /no key of the issuer/);
    r = await post(sign({ alg: 'ES384', typ: 'JWT', kid: 'ec-2' }, claims(), { ec: ecNew.privateKey }));
    eq(r.status, 200, 'new key after rotation: 200');
    fs.writeFileSync(set1, '{"keys": [{"kty": "EC", "crv": "P-256"}]}');
    srv.kill('SIGHUP');
    for (let i = 0; i < 100 && !/"event":"keys","ok":false/.test(srv.log); i++) await new Promise((res) => setTimeout(res, 100));
    ok(/"event":"keys","ok":false,"error":"[^"]*ehr.jwks: key 1: an EC key that is not a P-384/.test(srv.log), 'SIGHUP with a broken key set: logged');
    r = await post(sign({ alg: 'ES384', typ: 'JWT', kid: 'ec-2' }, claims(), { ec: ecNew.privateKey }));
    eq(r.status, 200, 'broken key set on reload: the old keys kept');

    // CORS
    r = await call(port, 'OPTIONS', SERVICE, undefined, undefined,
        { Origin: 'https://ehr.example.org', 'Access-Control-Request-Method': 'POST',
            'Access-Control-Request-Headers': 'authorization, content-type' });
    eq(r.status, 204, 'CORS preflight (no token): 204');
    eq([r.headers.get('access-control-allow-origin'), r.headers.get('access-control-allow-methods'),
        r.headers.get('access-control-allow-headers')], ['*', 'POST, OPTIONS', 'Authorization, Content-Type'],
    'CORS preflight headers');
    r = await post(undefined);
    eq(r.headers.get('access-control-allow-origin'), '*', 'CORS header on a 401');
    eq(await stopServer(srv), 0, 'server exit 0');

    // start-up errors and the open-services warning
    const bad = async (name, args, want) => {
        const s = await startServer(args);
        if (s.port) await stopServer(s);
        ok(!s.port && s.exitCode === 2 && want.test(s.log), name, s.log.trim());
    };
    await bad('--jwt-issuer without --public-url', ['--jwt-issuer', `${EHR}=${set2}`], /needs --public-url/);
    await bad('--jwt-issuer with a missing file', ['--jwt-issuer', `${EHR}=${dir}/none.jwks`, '--public-url', PUBLIC], /none\.jwks/);
    await bad('--jwt-issuer with a short secret', ['--public-url', PUBLIC, '--jwt-issuer',
        `${EHR}=${(fs.writeFileSync(path.join(dir, 'short.jwks'), '{"keys":[{"kty":"oct","k":"c2hvcnQ"}]}'), path.join(dir, 'short.jwks'))}`],
    /at least 32 bytes/);
    await bad('--jwt-issuer not ISS=FILE', ['--jwt-issuer', 'nofile', '--public-url', PUBLIC], /ISS=JWKS_FILE/);
    const open = await startServer(['--cors-origin', 'https://ehr.example.org']);
    ok(/"event":"warning","message":"the CDS services do not authenticate the EHR/.test(open.log), 'no --jwt-issuer: warning logged');
    r = await call(open.port, 'POST', SERVICE, undefined, hookBody);
    eq([r.status, r.headers.get('access-control-allow-origin')], [200, 'https://ehr.example.org'], 'open server: 200 and the configured origin');
    r = await call(open.port, 'OPTIONS', '/cds-services', undefined, undefined, { Origin: 'https://ehr.example.org' });
    eq([r.status, r.headers.get('access-control-allow-methods'), r.headers.get('vary')], [204, 'GET, OPTIONS', 'Origin'], 'discovery preflight');
    eq(await stopServer(open), 0, 'open server exit 0');
    const nocors = await startServer(['--cors-origin', 'none']);
    r = await call(nocors.port, 'OPTIONS', SERVICE);
    eq([r.status, r.headers.get('access-control-allow-origin')], [405, null], '--cors-origin none: no preflight, no header');
    eq(await stopServer(nocors), 0, 'no-CORS server exit 0');
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pcr-auth-'));
main(dir).catch((e) => { failed++; console.log('FAIL: auth: ' + (e.stack || e)); }).finally(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    console.log(`crd auth: ${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
});
