#!/usr/bin/env python3
"""make-seeds.py: regenerates the seed corpora of tests/fuzz/corpus/.

    python3 tests/fuzz/make-seeds.py PCRC

PCRC is a built bin/pcrc (used to compile the policies and the small
policies below into .pcrb seeds). Run from the repository root. The seeds
are kept small: the payer policies are cut into self-contained pieces (the
header, a few rules with the code sets they name, and the tests that check
only those rules) instead of being copied whole.

Seeds come from policies/, policies/examples/ and tests/golden/, plus the
hand-written files of tests/fuzz/seeds/ (edge cases per target).

It also rebuilds the bytecode reproducers of tests/fuzz/regressions/bytecode/
(docs/reliability.md, F1, F2 and F7) from this pcrc's output, so that they stay
of the format version the loader reads: a file of another version is
rejected before the loader reaches what it reproduces (test_bc checks that
none is)."""
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

DECL = re.compile(r'^(use|policy|schema|codeset|calendar|rule|test)\b')
IDENT = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
CHUNK_MAX = 6000
PER_POLICY = 8


def decls(text):
    """Top-level declarations as (kind, name, text), comments between them dropped."""
    out, cur = [], None
    for line in text.splitlines(keepends=True):
        m = DECL.match(line)
        if m:
            if cur:
                out.append(cur)
            words = line.split()
            cur = [m.group(1), words[1] if len(words) > 1 else '', '']
        if cur is None or (line.lstrip().startswith('#') and not m):
            continue
        if '"' not in line and '#' in line:  # trailing comments inside code set lists
            line = line[:line.index('#')].rstrip() + '\n'
        cur[2] += line
    if cur:
        out.append(cur)
    return [tuple(d) for d in out]


def chunks(path):
    ds = decls(open(path).read())
    head = ''.join(t for k, _, t in ds if k in ('use', 'policy'))
    sets = {n: t for k, n, t in ds if k == 'codeset'}
    rules = [(n, t) for k, n, t in ds if k == 'rule']
    tests = [t for k, _, t in ds if k == 'test']
    rule_names = {n for n, _ in rules}

    def needed(text, have):
        todo = [w for w in IDENT.findall(text) if w in sets and w not in have]
        for w in todo:
            if w not in have:
                have.append(w)
                needed(sets[w], have)
        return have

    out = []
    rng = random.Random(path)
    picks = rules[:]
    rng.shuffle(picks)
    for i in range(0, len(picks), 3):
        group = picks[i:i + 3]
        names = {n for n, _ in group}
        refs = {w for _, t in group for w in IDENT.findall(t) if w in rule_names}
        if not refs <= names:  # an exemption naming a rule left out
            continue
        body = ''.join(t for _, t in group)
        used = needed(body, [])
        text = head + ''.join(sets[s] for s in reversed(used)) + body
        for t in tests:
            m = re.search(r'rules\s*\[([^\]]*)\]', t)
            if m and set(IDENT.findall(m.group(1))) <= names and len(text) + len(t) < CHUNK_MAX:
                text += t
        if len(text) <= CHUNK_MAX:
            out.append(text)
        if len(out) == PER_POLICY:
            break
    return out


def compiles(pcrc, path, out=None):
    inc = ['-I', os.path.abspath('policies'), '-I', os.path.abspath('tests/golden/diag')]
    args = [pcrc] + inc + ([path, '-o', out] if out else ['--check', path])
    return subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def sections(data):
    """The .pcrb image's sections, as [tag, bytes] (docs/bytecode.md)."""
    body = data[40:]
    n = struct.unpack_from('<I', body, 0)[0]
    out = []
    for i in range(n):
        tag, off, ln = struct.unpack_from('<4sII', body, 4 + 12 * i)
        out.append([tag, body[off:off + ln]])
    return out


def image(header, secs):
    """A .pcrb image of header's first 40 bytes and secs, the section
    directory, the body length and the checksum made to fit."""
    body, off = bytearray(struct.pack('<I', len(secs))), 4 + 12 * len(secs)
    for tag, data in secs:
        body += struct.pack('<4sII', tag, off, len(data))
        off += len(data)
    for _, data in secs:
        body += data
    out = bytearray(header[:40]) + body
    struct.pack_into('<II', out, 16, len(body), 0)
    struct.pack_into('<I', out, 20, zlib.crc32(bytes(out)))
    return bytes(out)


def compiled(pcrc, src, tmp):
    """The bytecode of src, compiled into tmp (the script stops if it does not compile)."""
    out = os.path.join(tmp, os.path.basename(src) + 'b')
    if not compiles(pcrc, src, out):
        sys.exit('cannot compile ' + src)
    return open(out, 'rb').read()


def regressions(pcrc, tmp):
    """The bytecode reproducers of docs/reliability.md (F1, F2, F7, F9), rebuilt."""
    reg = 'tests/fuzz/regressions/bytecode'
    data = compiled(pcrc, 'tests/fuzz/seeds/compile/tiny.pcr', tmp)
    # F1: every code set empty (W501), so the loader's table of intervals
    # has no entry
    if not compiles(pcrc, 'tests/golden/diag/w501_empty_set.pcr',
                    os.path.join(reg, 'F1-empty-sets-null-ranges.pcrb')):
        sys.exit('cannot compile tests/golden/diag/w501_empty_set.pcr')
    # F1: tiny with one index segment of no rules, so the table of segment
    # entries has none (its keys in order, so that the verifier reaches the
    # segment's rules)
    secs = sections(data)
    for sec in secs:
        if sec[0] == b'INDX':
            nseg, nent, nalways = struct.unpack_from('<III', sec[1], 0)
            if (nseg, nent) != (0, 0):
                sys.exit('tiny.pcr has an indexed rule')
            seg = struct.pack('<QQII', 0x10000000, 0x110000000, 0, 0)
            sec[1] = struct.pack('<III', 1, 0, nalways) + seg + sec[1][12:]
    put(reg, 'F1-empty-segment-null-seg-rules.pcrb', image(data, secs))
    # F2: tiny with its id field called "iq"
    secs = sections(data)
    for sec in secs:
        if sec[0] == b'STRS':
            i = sec[1].index(struct.pack('<I', 2) + b'id')
            sec[1] = sec[1][:i + 4] + b'iq' + sec[1][i + 6:]
    put(reg, 'F2-id-field-renamed.pcrb', image(data, secs))
    # F7: own_schema with every constant the largest int (no source can
    # write it: integers have at most 18 digits), where the sample records
    # tried the constant plus one
    data = compiled(pcrc, 'tests/fuzz/seeds/compile/own_schema.pcr', tmp)
    secs = sections(data)
    for sec in secs:
        if sec[0] == b'CNST':
            n = struct.unpack_from('<I', sec[1], 0)[0]
            if n == 0:
                sys.exit('own_schema.pcr has no constant')
            sec[1] = struct.pack('<I', n) + struct.pack('<q', 2**63 - 1) * n
    put(reg, 'F7-int-constant-at-max.pcrb', image(data, secs))
    # F9: the demo policy with its last code set's last interval at the
    # largest key (still sorted and disjoint), where building the code
    # table's search tree read past it
    data = compiled(pcrc, 'policies/examples/demo.pcr', tmp)
    secs = sections(data)
    for sec in secs:
        if sec[0] == b'SETS':
            nsets, nint = struct.unpack_from('<II', sec[1], 0)
            if nint == 0:
                sys.exit('demo.pcr has no code set')
            at = 8 + 12 * nsets + 16 * (nint - 1)
            body = bytearray(sec[1])
            struct.pack_into('<QQ', body, at, 2**64 - 1, 2**64 - 1)
            sec[1] = bytes(body)
    put(reg, 'F9-interval-at-largest-key.pcrb', image(data, secs))


def put(dirname, name, data):
    os.makedirs(dirname, exist_ok=True)
    mode = 'wb' if isinstance(data, bytes) else 'w'
    with open(os.path.join(dirname, name), mode) as f:
        f.write(data)


def main():
    pcrc = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else 'bin/pcrc')
    corpus = 'tests/fuzz/corpus'
    for t in ('compile', 'bytecode', 'records', 'decoder_diff'):
        shutil.rmtree(os.path.join(corpus, t), ignore_errors=True)
    comp, bc = os.path.join(corpus, 'compile'), os.path.join(corpus, 'bytecode')

    # fuzz_compile: small real sources, golden files, pieces of the payer policies
    sources = ['policies/examples/demo.pcr', 'policies/std/request.pcr']
    for d in ('tests/golden/diag', 'tests/golden/parse', 'tests/fuzz/seeds/compile'):
        if os.path.isdir(d):
            sources += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith('.pcr'))
    for s in sources:
        put(comp, s.replace('/', '_'), open(s).read())
    tmp = tempfile.mkdtemp()
    pieces = []
    for p in sorted(f for f in os.listdir('policies') if f.endswith('.pcr')):
        for i, text in enumerate(chunks(os.path.join('policies', p))):
            where = os.path.join(tmp, 'piece.pcr')
            open(where, 'w').write(text)
            if compiles(pcrc, where):
                put(comp, 'piece_%s_%d.pcr' % (p[:-4], i), text)
                pieces.append(('piece_%s_%d' % (p[:-4], i), text))

    # fuzz_bytecode: the shipped policies and every small source that compiles
    for p in sorted(f for f in os.listdir('policies') if f.endswith('.pcr')) + ['examples/demo.pcr']:
        out = os.path.join(bc, os.path.basename(p)[:-4] + '.pcrb')
        os.makedirs(bc, exist_ok=True)
        if not compiles(pcrc, os.path.join('policies', p), out):
            sys.exit('cannot compile policies/%s' % p)
    small = [(os.path.basename(s)[:-4], open(s).read()) for s in sources] + pieces
    for name, text in small:
        where = os.path.join(tmp, 'small.pcr')
        open(where, 'w').write(text)
        compiles(pcrc, where, os.path.join(bc, name + '.pcrb'))
    regressions(pcrc, tmp)
    shutil.rmtree(tmp)

    # fuzz_records: batches of 4 lines; fuzz_decoder_diff: single lines
    rec, dd = os.path.join(corpus, 'records'), os.path.join(corpus, 'decoder_diff')
    for src in ('policies/examples/requests.jsonl', 'policies/examples/demo-requests.jsonl'):
        lines = open(src).read().splitlines(keepends=True)
        step = max(1, len(lines) // 60)
        for i in range(0, len(lines), step * 4):
            put(rec, '%s_%03d.jsonl' % (os.path.basename(src)[:-6], i), ''.join(lines[i:i + 4]))
        for i in range(0, len(lines), step * 3):
            put(dd, '%s_%03d.json' % (os.path.basename(src)[:-6], i), lines[i].rstrip('\n'))
    for t, d in (('records', rec), ('decoder_diff', dd)):
        seeds = 'tests/fuzz/seeds/' + t
        if os.path.isdir(seeds):
            for f in sorted(os.listdir(seeds)):
                put(d, f, open(os.path.join(seeds, f), 'rb').read())
    for t in ('compile', 'bytecode', 'records', 'decoder_diff'):
        d = os.path.join(corpus, t)
        n = len(os.listdir(d))
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print('%-13s %4d files %8d bytes' % (t, n, size))


if __name__ == '__main__':
    main()
