"""Conformance corpus (issue 8 sections 3 and 4): archives from every
producer we can run, in every format it writes, crossed with every
compression, extracted by rzup-extract and compared with GNU tar's
extraction of the same archive (content, type, permissions, mtime, link
targets, hardlink identity: harness.snapshot).

Producers (tools/mkfixtures.py PRODUCERS): GNU tar --format v7, oldgnu,
gnu, ustar, posix; bsdtar --format v7, ustar, gnutar, pax, paxr; Python
tarfile GNU, PAX, USTAR; libtar with and without TAR_GNU; and two real
archives fetched here, pinned by version and SHA-256: `npm pack` of an npm
package and a Debian .deb's data.tar.xz (`apt-get download`).  A failed
fetch fails those tests; it never skips them.

Compressions: none, gz, xz, zst, bz2, lz4, lzma, Z.  Each is probed first
with a one-file archive; one the binary cannot decode is counted as SKIP
with the binary's own message, once per archive, so the summary line shows
how much is missing.  Every compression is also fed through a pipe once,
since detection is by magic bytes, not by name.

libtar: its archives are also extracted and compared with the very tree
libtar was given (not with GNU tar's reading of them), mtimes in whole
seconds since ustar stores no fraction.
"""

import importlib.util
import os
import subprocess
import tarfile

from harness import Skip, assert_same_tree, snapshot

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    'mkfixtures', os.path.join(os.path.dirname(HERE), 'tools', 'mkfixtures.py'))
mkfixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mkfixtures)

COMPRESSIONS = ['tar'] + list(mkfixtures.COMPRESSORS)
REALWORLD = ['npm-semver', 'debian-bzip2-data']
_state = {}


def _st(ctx):
    """Per-run state: the corpus (built on first use), GNU tar's reference
    extractions, the compression probe."""
    s = _state.get(id(ctx))
    if s is None:
        s = _state[id(ctx)] = {'refs': {}, 'probe': {}, 'corpus': None,
                               'real': None, 'real_error': None}
    return s


def _corpus(ctx):
    s = _st(ctx)
    if s['corpus'] is None:
        d = os.path.join(ctx.fixtures, 'corpus')
        lt = os.path.abspath(os.path.join(ctx.builddir, 'tools', 'libtar_write'))
        s['corpus'] = mkfixtures.build_corpus(d, lt)
    return s['corpus']


def _realworld(ctx):
    """{name: plain .tar} for the fetched archives, plus the originals
    (npm's .tgz, Debian's data.tar.xz) kept as they came."""
    s = _st(ctx)
    if s['real_error']:
        raise AssertionError(s['real_error'])
    if s['real'] is None:
        cache = os.path.abspath(os.path.join(ctx.builddir, 'realworld'))
        out = os.path.join(ctx.fixtures, 'realworld')
        os.makedirs(out, exist_ok=True)
        try:
            tgz = mkfixtures.fetch_npm(cache)
            data = mkfixtures.fetch_deb_data(cache)
        except Exception as e:  # noqa: BLE001 - the fetch must fail the tests
            s['real_error'] = 'fetching the pinned real-world archives failed: %s' % e
            raise AssertionError(s['real_error'])
        s['real'] = {
            'npm-semver': (mkfixtures.decompress_to(
                tgz, os.path.join(out, 'npm-semver.tar'), ['gzip']), tgz, 'gz'),
            'debian-bzip2-data': (mkfixtures.decompress_to(
                data, os.path.join(out, 'debian-bzip2-data.tar'), ['xz']), data, 'xz'),
        }
    return s['real']


def _supported(ctx, ext):
    """None if the binary decodes this compression, else its message."""
    s = _st(ctx)
    if ext not in s['probe']:
        d = ctx.mkdtemp('probe')
        with open(os.path.join(d, 'hello'), 'w') as f:
            f.write('hello\n')
        tar = os.path.join(d, 'probe.tar')
        subprocess.run(['tar', '-cf', tar, '-C', d, 'hello'], check=True)
        path = tar if ext == 'tar' else mkfixtures.compress(tar, ext)
        r = ctx.run('-t', path)
        if r.rc == 0 and r.out.split() == ['hello']:
            s['probe'][ext] = None
        else:
            s['probe'][ext] = 'rc=%d %s' % (r.rc, (r.err.strip().splitlines() or [''])[0])
    return s['probe'][ext]


def _gnu_ref(ctx, key, tar):
    refs = _st(ctx)['refs']
    if key not in refs:
        refs[key] = ctx.gnu_tar_extract(tar)
    return refs[key]


def _archive(tar, ext):
    if ext == 'tar':
        return tar
    path = '%s.%s' % (tar, ext)
    if not os.path.exists(path):
        mkfixtures.compress(tar, ext, path)
    return path


def _check(ctx, key, tar, ext, archive=None, pipe=False):
    why = _supported(ctx, ext)
    if why:
        raise Skip('.%s not supported by this binary (%s)' % (ext, why))
    archive = archive or _archive(tar, ext)
    ref = _gnu_ref(ctx, key, tar)
    dest = ctx.path('dest')
    if pipe:
        with open(archive, 'rb') as f:
            r = ctx.run('-C', dest, stdin=f)
    else:
        r = ctx.run('-C', dest, archive)
    assert r.rc == 0, '%s: %r' % (os.path.basename(archive), r)
    assert snapshot(ref), 'GNU tar extracted nothing from %s' % tar
    assert_same_tree(dest, ref, os.path.basename(archive) + (' (pipe)' if pipe else ''),
                     ignore_mtime=_implicit_dirs(tar))


def _implicit_dirs(tar):
    """Directories the archive creates without a member of their own (npm
    packs none): both tools give them the time of extraction, so their
    mtimes are not compared."""
    with tarfile.open(tar) as tf:
        names = [m.name.rstrip('/') for m in tf.getmembers()]
    members = {os.path.normpath(n) for n in names}
    implicit = set()
    for n in members:
        d = os.path.dirname(n)
        while d and d not in members and d not in implicit:
            implicit.add(d)
            d = os.path.dirname(d)
    return implicit


def _producer_test(producer, ext):
    def test(ctx):
        tar, _tree = _corpus(ctx)[producer]
        _check(ctx, producer, tar, ext)
    return test


def _realworld_test(name, ext):
    def test(ctx):
        tar, original, orig_ext = _realworld(ctx)[name]
        # the archive as published is tested as it came; the other
        # compressions are made from its tar
        _check(ctx, name, tar, ext, archive=original if ext == orig_ext else None)
    return test


def _pipe_test(ext):
    def test(ctx):
        tar, _tree = _corpus(ctx)['gnutar-posix']
        _check(ctx, 'gnutar-posix', tar, ext, pipe=True)
    return test


def _libtar_tree_test(producer):
    def test(ctx):
        tar, tree = _corpus(ctx)[producer]
        dest = ctx.path('dest')
        r = ctx.run('-C', dest, tar)
        assert r.rc == 0, r
        got, want = snapshot(dest), snapshot(tree)
        for snap in (got, want):
            for e in snap.values():
                if 'mtime' in e:
                    e['mtime'] //= 10**9
        problems = ['%s:\n    got  %s\n    want %s' % (k, got.get(k), want.get(k))
                    for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)]
        assert not problems, '%s vs the tree libtar archived:\n  %s' % (
            producer, '\n  '.join(problems[:15]))
    return test


def _fields(ctx, tar):
    exe = os.path.join(ctx.builddir, 'tests', 'libtar_ref')
    p = subprocess.run([exe, '--fields', tar], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.rstrip().endswith('identical'), (
        'libtar and our parser decode %s differently (rc=%d):\n%s%s' % (
            os.path.basename(tar), p.returncode,
            '\n'.join(l for l in p.stdout.splitlines() if ' = ' not in l)[:3000],
            p.stderr))


def _fields_test(producer):
    def test(ctx):
        _fields(ctx, _corpus(ctx)[producer][0])
    return test


def _fields_special_test(producer):
    def test(ctx):
        if os.geteuid() != 0:
            raise Skip('mknod needs root')
        s = _st(ctx)
        if 'special' not in s:
            lt = os.path.abspath(os.path.join(ctx.builddir, 'tools', 'libtar_write'))
            s['special'] = mkfixtures.build_special(
                os.path.join(ctx.fixtures, 'corpus'), lt)
        _fields(ctx, s['special']['special-' + producer])
    return test


def _fields_realworld_test(name):
    def test(ctx):
        _fields(ctx, _realworld(ctx)[name][0])
    return test


def _name(*parts):
    return 'test_' + '__'.join(p.replace('-', '_') for p in parts)


for _p in mkfixtures.PRODUCERS:
    for _e in COMPRESSIONS:
        globals()[_name(_p, _e)] = _producer_test(_p, _e)
for _r in REALWORLD:
    for _e in COMPRESSIONS:
        globals()[_name(_r, _e)] = _realworld_test(_r, _e)
for _e in COMPRESSIONS:
    globals()[_name('pipe', _e)] = _pipe_test(_e)
for _p in mkfixtures.LIBTAR_READABLE:
    globals()[_name('libtar_fields', _p)] = _fields_test(_p)
for _p in ('gnutar-gnu', 'gnutar-ustar', 'bsdtar-ustar',
           'bsdtar-gnutar', 'pytarfile-gnu', 'pytarfile-ustar', 'libtar-gnu',
           'libtar-ustar'):
    globals()[_name('libtar_fields', 'special', _p)] = _fields_special_test(_p)
for _r in REALWORLD:
    globals()[_name('libtar_fields', _r)] = _fields_realworld_test(_r)
for _p in ('libtar-gnu', 'libtar-ustar'):
    globals()[_name(_p, 'matches_source_tree')] = _libtar_tree_test(_p)


def test_corpus_is_complete(ctx):
    """Every producer made an archive with every kind of member in it, so a
    producer that quietly dropped entries cannot pass the comparisons."""
    for producer, (tar, tree) in _corpus(ctx).items():
        want = snapshot(tree)
        kinds = {e['type'] for e in want.values()}
        assert kinds == {'file', 'dir', 'symlink'}, (producer, kinds)
        assert any(len(e.get('links', [])) > 1 for e in want.values()), producer
        ref = snapshot(_gnu_ref(ctx, producer, tar))
        assert set(ref) == set(want), (
            '%s: GNU tar extracted %d entries, the tree has %d; missing %s'
            % (producer, len(ref), len(want), sorted(set(want) - set(ref))[:5]))
