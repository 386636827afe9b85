#!/usr/bin/env node
/*
 * check.js: tests editors/tree-sitter-pcr/grammar.js without the tree-sitter
 * CLI (whose npm package downloads its binary from GitHub at install time,
 * which a machine with only Debian and npm cannot reach).
 *
 *   node editors/tree-sitter-pcr/test/check.js FILE.pcr...
 *
 * 1. Loads grammar.js with a small implementation of tree-sitter's grammar
 *    DSL (grammar, seq, choice, repeat, optional, token, prec, field, alias)
 *    and checks that every rule it references is defined.
 * 2. Checks that every node name used in queries/highlights.scm is a rule,
 *    an alias or a literal token of the grammar.
 * 3. Parses each FILE with an Earley parser built from the grammar (it
 *    accepts exactly the grammar's language, ambiguities included) and a
 *    context-aware lexer in tree-sitter's manner: at each position only the
 *    tokens some parse expects are tried, after skipping the extras
 *    (whitespace, comments) unless the token is immediate; the longest match
 *    wins, and a literal string beats a pattern of the same length (so
 *    keywords beat identifiers, system names beat codes). A file is
 *    accepted when a whole-file parse exists: tree-sitter would give it a
 *    tree without ERROR nodes.
 *
 * What it does not check: tree-sitter's LR(1) conflict analysis (done only
 * by `tree-sitter generate`), so a grammar this accepts can still need a
 * `conflicts` entry or a precedence; docs/editors.md says how to run the
 * real CLI where it can be installed.
 *
 * Prints one line per file that fails (with the line, column and expected
 * tokens) and, last, "N passed, N failed". Exit status 1 on any failure.
 */
'use strict';

const fs = require('fs');
const path = require('path');

// ---- the DSL --------------------------------------------------------------

function norm(x) {
  if (typeof x === 'string') return {type: 'STRING', value: x};
  if (x instanceof RegExp) return {type: 'PATTERN', value: x.source};
  if (x && x.type) return x;
  throw new Error('grammar: not a rule: ' + String(x));
}
const dsl = {
  seq: (...m) => ({type: 'SEQ', members: m.map(norm)}),
  choice: (...m) => ({type: 'CHOICE', members: m.map(norm)}),
  repeat: (x) => ({type: 'REPEAT', content: norm(x)}),
  repeat1: (x) => ({type: 'REPEAT1', content: norm(x)}),
  optional: (x) => ({type: 'CHOICE', members: [norm(x), {type: 'BLANK'}]}),
  blank: () => ({type: 'BLANK'}),
  field: (_name, x) => norm(x),
  alias: (x, to) => {
    if (to && to.type === 'SYMBOL') aliasUses.set(to.name, (aliasUses.get(to.name) || 0) + 1);
    return norm(x);
  },
};
/* Names used as alias targets ($.type_name in alias(x, $.type_name)): they
 * name nodes, not rules. */
const aliasUses = new Map();
const token = (x) => ({type: 'TOKEN', content: norm(x), immediate: false});
token.immediate = (x) => ({type: 'TOKEN', content: norm(x), immediate: true});
const prec = (a, b) => norm(b === undefined ? a : b);
prec.left = prec;
prec.right = prec;
prec.dynamic = prec;
Object.assign(dsl, {token, prec});

/* Loads grammar.js; returns {rules: {name: node}, extras: [node], word}. */
function loadGrammar(file) {
  const src = fs.readFileSync(file, 'utf8');
  let def = null;
  const grammar = (d) => {
    def = d;
    return d;
  };
  const mod = {exports: {}};
  const fn = new Function('module', 'exports', 'require', 'grammar', ...Object.keys(dsl), src);
  fn(mod, mod.exports, require, grammar, ...Object.values(dsl));
  if (!def) throw new Error(file + ': no grammar() call');
  const refs = new Map();
  const $ = new Proxy({}, {
    get: (_t, name) => {
      refs.set(String(name), (refs.get(String(name)) || 0) + 1);
      return {type: 'SYMBOL', name: String(name)};
    },
  });
  const rules = {};
  for (const [name, f] of Object.entries(def.rules)) rules[name] = norm(f($));
  const extras = def.extras ? def.extras($).map(norm) : [{type: 'PATTERN', value: '\\s'}];
  if (def.word) def.word($);
  if (def.conflicts) def.conflicts($);
  const missing = [...refs].filter(([r, n]) => !(r in rules) && n > (aliasUses.get(r) || 0))
      .map(([r]) => r);
  return {name: def.name, rules, extras, missing, start: Object.keys(def.rules)[0]};
}

// ---- tokens as regular expressions ----------------------------------------

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\\/]/g, '\\$&');

/* The regex source of a token's content (strings, patterns, seq, choice,
 * repeat, optional, nested prec/token). */
function tokenSource(n, rules) {
  switch (n.type) {
    case 'STRING': return escapeRe(n.value);
    case 'PATTERN': return '(?:' + n.value + ')';
    case 'SEQ': return n.members.map((m) => tokenSource(m, rules)).join('');
    case 'CHOICE': return '(?:' + n.members.map((m) => tokenSource(m, rules)).join('|') + ')';
    case 'REPEAT': return '(?:' + tokenSource(n.content, rules) + ')*';
    case 'REPEAT1': return '(?:' + tokenSource(n.content, rules) + ')+';
    case 'BLANK': return '';
    case 'TOKEN': return tokenSource(n.content, rules);
    case 'SYMBOL': return tokenSource(rules[n.name], rules);
    default: throw new Error('token: unsupported ' + n.type);
  }
}

/* Is rule node n a single token (a string, a pattern or token())? */
const isTokenNode = (n) => n.type === 'STRING' || n.type === 'PATTERN' || n.type === 'TOKEN';

// ---- the grammar as Earley productions ------------------------------------

/*
 * Symbols are numbers: nonterminals index `nts`, terminals index `terms`.
 * A named rule whose body is a single token is a terminal itself.
 */
function compile(g) {
  const terms = [];     // {key, re, literal, immediate, label}
  const termIndex = new Map();
  const nts = [];       // names
  const prods = [];     // {lhs, rhs: [{t: bool, i}]}
  const ntIndex = new Map();

  const term = (key, source, literal, immediate, label) => {
    const k = key + (immediate ? '!imm' : '');
    if (!termIndex.has(k)) {
      termIndex.set(k, terms.length);
      terms.push({key: k, re: new RegExp(source, 'y'), literal, immediate, label});
    }
    return {t: true, i: termIndex.get(k)};
  };
  const nt = (name) => {
    if (!ntIndex.has(name)) {
      ntIndex.set(name, nts.length);
      nts.push(name);
    }
    return {t: false, i: ntIndex.get(name)};
  };
  let fresh = 0;
  const anon = () => nt('_anon' + (fresh++));

  const namedTokens = new Map();
  for (const [name, body] of Object.entries(g.rules)) if (isTokenNode(body)) namedTokens.set(name, body);

  /* The symbol sequence for node n (adds helper productions). */
  const symbols = (n) => {
    switch (n.type) {
      case 'BLANK': return [];
      case 'STRING': return [term('s:' + n.value, escapeRe(n.value), true, false, JSON.stringify(n.value))];
      case 'PATTERN': return [term('p:' + n.value, n.value, false, false, '/' + n.value + '/')];
      case 'TOKEN': {
        const src = tokenSource(n.content, g.rules);
        const literal = n.content.type === 'STRING';
        return [term('t:' + src, src, literal, n.immediate, literal ? JSON.stringify(n.content.value) : '/' + src + '/')];
      }
      case 'SYMBOL': {
        if (namedTokens.has(n.name)) {
          const body = namedTokens.get(n.name);
          const src = tokenSource(body, g.rules);
          return [term('n:' + n.name, src, body.type === 'STRING', body.type === 'TOKEN' && body.immediate, n.name)];
        }
        return [nt(n.name)];
      }
      case 'SEQ': return n.members.flatMap(symbols);
      case 'CHOICE': {
        const a = anon();
        for (const m of n.members) prods.push({lhs: a.i, rhs: symbols(m)});
        return [a];
      }
      case 'REPEAT': {
        const a = anon();
        prods.push({lhs: a.i, rhs: []});
        prods.push({lhs: a.i, rhs: [a, ...symbols(n.content)]});
        return [a];
      }
      case 'REPEAT1': {
        const a = anon();
        const body = symbols(n.content);
        prods.push({lhs: a.i, rhs: body});
        prods.push({lhs: a.i, rhs: [a, ...body]});
        return [a];
      }
      default: throw new Error('unsupported rule node ' + n.type);
    }
  };

  for (const [name, body] of Object.entries(g.rules)) {
    if (namedTokens.has(name)) continue;
    const lhs = nt(name);
    if (body.type === 'CHOICE') for (const m of body.members) prods.push({lhs: lhs.i, rhs: symbols(m)});
    else prods.push({lhs: lhs.i, rhs: symbols(body)});
  }
  const extras = g.extras.map((e) => new RegExp(
      e.type === 'SYMBOL' ? tokenSource(g.rules[e.name], g.rules) : tokenSource(e, g.rules), 'y'));

  const byLhs = nts.map(() => []);
  prods.forEach((p, i) => byLhs[p.lhs].push(i));
  // Nullable nonterminals, to a fixed point.
  const nullable = new Array(nts.length).fill(false);
  for (let changed = true; changed;) {
    changed = false;
    for (const p of prods) {
      if (!nullable[p.lhs] && p.rhs.every((s) => !s.t && nullable[s.i])) {
        nullable[p.lhs] = changed = true;
      }
    }
  }
  return {terms, nts, prods, byLhs, nullable, extras, start: ntIndex.get(g.start)};
}

// ---- Earley ---------------------------------------------------------------

function skipExtras(G, text, pos) {
  for (let moved = true; moved && pos < text.length;) {
    moved = false;
    for (const re of G.extras) {
      re.lastIndex = pos;
      const m = re.exec(text);
      if (m && m[0].length > 0) {
        pos += m[0].length;
        moved = true;
      }
    }
  }
  return pos;
}

/* Parses text; returns null when accepted, else {pos, expected}. */
function parse(G, text) {
  const n = text.length;
  const sets = new Array(n + 1);
  const keys = new Array(n + 1);
  const add = (pos, prod, dot, origin) => {
    if (!sets[pos]) {
      sets[pos] = [];
      keys[pos] = new Set();
    }
    const key = prod + ':' + dot + ':' + origin;
    if (keys[pos].has(key)) return;
    keys[pos].add(key);
    sets[pos].push([prod, dot, origin]);
  };
  for (const p of G.byLhs[G.start]) add(0, p, 0, 0);
  let furthest = 0, furthestExpected = [];
  for (let pos = 0; pos <= n; pos++) {
    const set = sets[pos];
    if (!set) continue;
    // Predict and complete to a fixed point.
    const waiting = new Map(); // nt -> items waiting on it
    const completedHere = new Set(); // nts completed with origin == pos (nullable)
    for (let k = 0; k < set.length; k++) {
      const [prod, dot, origin] = set[k];
      const rhs = G.prods[prod].rhs;
      if (dot < rhs.length) {
        const s = rhs[dot];
        if (s.t) continue;
        if (!waiting.has(s.i)) waiting.set(s.i, []);
        waiting.get(s.i).push(k);
        for (const p of G.byLhs[s.i]) add(pos, p, 0, pos);
        if (G.nullable[s.i] || completedHere.has(s.i)) add(pos, prod, dot + 1, origin);
      } else {
        const lhs = G.prods[prod].lhs;
        if (origin === pos) completedHere.add(lhs);
        const src = origin === pos ? set : sets[origin];
        for (let j = 0; j < src.length; j++) {
          const [p2, d2, o2] = src[j];
          const r2 = G.prods[p2].rhs;
          if (d2 < r2.length && !r2[d2].t && r2[d2].i === lhs) add(pos, p2, d2 + 1, o2);
        }
      }
    }
    // Accept?
    if (skipExtras(G, text, pos) === n) {
      for (const [prod, dot, origin] of set) {
        if (origin === 0 && G.prods[prod].lhs === G.start && dot === G.prods[prod].rhs.length) return null;
      }
    }
    // Scan: the expected terminals, longest match, literals first.
    const expected = new Set();
    for (const [prod, dot] of set) {
      const rhs = G.prods[prod].rhs;
      if (dot < rhs.length && rhs[dot].t) expected.add(rhs[dot].i);
    }
    const after = skipExtras(G, text, pos);
    let best = -1, bestLiteral = false, chosen = [];
    for (const t of expected) {
      const term = G.terms[t];
      const start = term.immediate ? pos : after;
      term.re.lastIndex = start;
      const m = term.re.exec(text);
      if (!m || m[0].length === 0) continue;
      const end = start + m[0].length;
      const len = m[0].length;
      if (len > best || (len === best && term.literal && !bestLiteral)) {
        best = len;
        bestLiteral = term.literal;
        chosen = [[t, end]];
      } else if (len === best && term.literal === bestLiteral) {
        chosen.push([t, end]);
      }
    }
    if (pos >= furthest) {
      furthest = pos;
      furthestExpected = [...expected].map((t) => G.terms[t].label);
    }
    for (const [t, end] of chosen) {
      for (const [prod, dot, origin] of set) {
        const rhs = G.prods[prod].rhs;
        if (dot < rhs.length && rhs[dot].t && rhs[dot].i === t) add(end, prod, dot + 1, origin);
      }
    }
  }
  return {pos: skipExtras(G, text, furthest), expected: furthestExpected};
}

function lineCol(text, pos) {
  const before = text.slice(0, pos).split('\n');
  return [before.length, before[before.length - 1].length + 1];
}

// ---- highlight queries ------------------------------------------------------

/* Node names and literal tokens used in a query file. */
function queryNames(scm) {
  const body = scm.replace(/;[^\n]*/g, '');
  const named = [...body.matchAll(/\(([a-z_][a-z0-9_]*)/g)].map((m) => m[1]);
  const literal = [...body.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
  return {named, literal};
}

/* Every name a node can have: rules, aliases, literal strings. */
function grammarNames(file) {
  const src = fs.readFileSync(file, 'utf8');
  const names = new Set([...src.matchAll(/^\s*([a-z_][a-z0-9_]*): \$ =>/gm)].map((m) => m[1]));
  for (const m of src.matchAll(/\$\.([a-z_][a-z0-9_]*)/g)) names.add(m[1]);
  const literals = new Set([...src.matchAll(/'([^'\\]+)'/g)].map((m) => m[1]));
  return {names, literals};
}

// ---- main -----------------------------------------------------------------

function main(argv) {
  const dir = path.join(__dirname, '..');
  let failed = 0, passed = 0;
  const g = loadGrammar(path.join(dir, 'grammar.js'));
  if (g.missing.length) {
    console.log(`grammar.js: rules referenced but not defined: ${g.missing.join(', ')}`);
    failed++;
  }
  const G = compile(g);
  const known = grammarNames(path.join(dir, 'grammar.js'));
  const keywords = loadKeywordConstants(path.join(dir, 'grammar.js'));
  for (const k of keywords) known.literals.add(k);
  for (const q of ['highlights.scm']) {
    const scm = fs.readFileSync(path.join(dir, 'queries', q), 'utf8');
    const {named, literal} = queryNames(scm);
    const bad = named.filter((x) => !known.names.has(x) && x !== 'ERROR')
        .concat(literal.filter((x) => !known.literals.has(x)).map((x) => `"${x}"`));
    if (bad.length) {
      console.log(`queries/${q}: not in the grammar: ${[...new Set(bad)].join(', ')}`);
      failed++;
    }
  }
  for (const file of argv) {
    const text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
    const r = parse(G, text);
    if (r === null) {
      passed++;
    } else {
      failed++;
      const [l, c] = lineCol(text, r.pos);
      const exp = r.expected.slice(0, 12).join(' ');
      console.log(`${file}:${l}:${c}: the grammar does not accept this (expected one of: ${exp})`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

/* The KEYWORDS and SYSTEMS arrays of grammar.js (literal tokens too). */
function loadKeywordConstants(file) {
  const src = fs.readFileSync(file, 'utf8');
  const out = [];
  for (const m of src.matchAll(/const (KEYWORDS|SYSTEMS) = \[([^\]]*)\]/g)) {
    for (const k of m[2].matchAll(/'([^']+)'/g)) out.push(k[1]);
  }
  return out;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
module.exports = {loadGrammar, compile, parse};
