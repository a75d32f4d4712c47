"""`rzup-extract install MANIFEST.yaml` against nginx on 127.0.0.1: parallel
components, one failing while the others publish, receipts (a re-run with
the server stopped downloads nothing), and every kind of malformed manifest
refused with file, line and column before any request is made.

Each test serves its own archives (GNU tar, gzip) from a private nginx, so
it can stop that server without disturbing the other tests.
"""

import hashlib
import json
import os
import subprocess
import tarfile
import time

import harness
from harness import assert_same_tree


def _make_component(d, name, files, size):
    """A .tar.gz shaped like a toolchain: NAME-1.0/{bin,lib,share}/..."""
    src = os.path.join(d, 'src-' + name)
    top = os.path.join(src, name + '-1.0')
    rnd = hashlib.sha256(name.encode()).digest()
    for i in range(files):
        sub = ('bin', 'lib', 'share/doc')[i % 3]
        os.makedirs(os.path.join(top, sub), exist_ok=True)
        with open(os.path.join(top, sub, 'f%03d' % i), 'wb') as f:
            # incompressible enough that sizes are real
            chunk = hashlib.sha256(rnd + b'%d' % i).digest()
            f.write(os.urandom(size // 2) + chunk * (size // 64))
    os.symlink('bin/f000', os.path.join(top, 'link'))
    archive = os.path.join(d, name + '.tar.gz')
    subprocess.run(['tar', '-czf', archive, '-C', src, name + '-1.0'],
                   check=True)
    return archive, src


class Served:
    """A private nginx serving `root` (a harness.Context of its own)."""

    def __init__(self, ctx, root):
        self.c = harness.Context(ctx.top, ctx.builddir, ctx.binary, root)

    def url(self, name):
        return self.c.url(name)

    def requests(self):
        log = os.path.join(self.c.tmp, 'nginx', 'access.log')
        return open(log).read().count('\n') if os.path.exists(log) else 0

    def stop(self):
        self.c.nginx.terminate()
        self.c.nginx.wait(5)

    def close(self):
        self.c.close()


def _setup(ctx, names=('rust', 'cpp', 'gdb'), files=12, size=60000):
    d = ctx.mkdtemp('srv')
    comps = {}
    for n in names:
        archive, src = _make_component(d, n, files, size)
        comps[n] = {'archive': archive, 'src': src,
                    'sha256': hashlib.sha256(open(archive, 'rb').read()).hexdigest(),
                    'size': os.path.getsize(archive)}
    return d, comps


def _manifest(path, root, entries, extra=''):
    lines = ['root: %s' % root] + ([extra] if extra else []) + ['components:']
    for e in entries:
        lines.append('  - name: %s' % e['name'])
        for k in ('url', 'sha256', 'dest', 'strip-components', 'include',
                  'exclude'):
            if k in e:
                lines.append('    %s: %s' % (k, e[k]))
        if 'headers' in e:
            lines.append('    headers:')
            for hk, hv in e['headers'].items():
                lines.append('      %s: %s' % (hk, hv))
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def _entries(srv, comps, **over):
    out = []
    for n, c in comps.items():
        e = {'name': n, 'url': srv.url(os.path.basename(c['archive'])),
             'sha256': c['sha256'], 'dest': 'toolchains/%s/1.0' % n,
             'strip-components': 1}
        e.update(over.get(n, {}))
        out.append(e)
    return out


def _drv(driver):
    return ['--driver=' + driver] if driver else []


def _install(ctx, driver, *args):
    """`rzup-extract install ARGS`, with --driver=DRIVER when given."""
    return ctx.run('install', *_drv(driver), *args)


def _json_lines(err):
    events = []
    for line in err.splitlines():
        events.append(json.loads(line))   # every line is one object
    return events


def _check_tree(ctx, dest, comp, name):
    """Identical to GNU tar's extraction of the same archive."""
    ref = ctx.gnu_tar_extract(comp['archive'], '--strip-components=1')
    assert_same_tree(dest_without_receipt(dest), ref, name)


def dest_without_receipt(dest):
    receipt = os.path.join(dest, '.rzup-receipt')
    text = open(receipt).read()
    os.rename(receipt, dest + '.receipt-moved')
    dest_without_receipt.last = text
    return dest


def _restore_receipt(dest):
    os.rename(dest + '.receipt-moved', os.path.join(dest, '.rzup-receipt'))


def test_three_components_in_parallel(ctx, driver=None):
    d, comps = _setup(ctx)
    srv = Served(ctx, d)
    try:
        # gdb comes from a server that drips: it is still downloading when
        # the other two have published, which only parallel runs allow.
        slow_body = open(comps['gdb']['archive'], 'rb').read()

        def drip(c, body, stop):
            for off in range(0, len(body), 16384):
                if stop.is_set():
                    return
                c.sendall(body[off:off + 16384])
                time.sleep(0.03)
        slow_url = srv.c.raw_server(slow_body, len(slow_body), drip)
        root = ctx.mkdtemp('root')
        m = _manifest(os.path.join(d, 'rzup.yaml'), root,
                      _entries(srv, comps, gdb={'url': slow_url}))
        r = _install(ctx, driver, '--progress=json', m)
        assert r.rc == 0, r
        ev = _json_lines(r.err)
        order = [(e['event'], e['component']) for e in ev
                 if e['event'] in ('start', 'done')]
        starts = [i for i, (k, _) in enumerate(order) if k == 'start']
        first_done = min(i for i, (k, _) in enumerate(order) if k == 'done')
        assert len(starts) == 3 and max(starts) < first_done, order
        assert order[-1] == ('done', 'gdb'), order
        for n, c in comps.items():
            dest = os.path.join(root, 'toolchains', n, '1.0')
            _check_tree(ctx, dest, c, n)
            receipt = dest_without_receipt.last
            assert 'sha256 %s\n' % c['sha256'] in receipt, receipt
            assert 'name %s\n' % n in receipt, receipt
            _restore_receipt(dest)
            ctx.assert_no_staging(os.path.dirname(dest))
            done = [e for e in ev if e['event'] == 'done'
                    and e['component'] == n][0]
            assert done['bytes'] == c['size'] == done['total'], done
            with tarfile.open(c['archive']) as t:
                assert done['entries'] == len(t.getmembers()), done
    finally:
        srv.close()


def test_one_bad_digest_others_publish(ctx, driver=None):
    d, comps = _setup(ctx)
    srv = Served(ctx, d)
    try:
        root = ctx.mkdtemp('root')
        bad = hashlib.sha256(b'something else').hexdigest()
        m = _manifest(os.path.join(d, 'rzup.yaml'), root,
                      _entries(srv, comps, cpp={'sha256': bad}))
        r = _install(ctx, driver, '--progress=plain', m)
        assert r.rc == 4, r
        # the summary names the failure and why
        assert 'cpp' in r.err and 'FAILED' in r.err, r
        assert 'SHA-256 of the download does not match' in r.err, r
        assert '2 installed, 0 up to date, 1 failed' in r.err, r
        assert not os.path.exists(os.path.join(root, 'toolchains', 'cpp', '1.0'))
        ctx.assert_no_staging(os.path.join(root, 'toolchains', 'cpp'))
        for n in ('rust', 'gdb'):
            dest = os.path.join(root, 'toolchains', n, '1.0')
            _check_tree(ctx, dest, comps[n], n)
            _restore_receipt(dest)
        # fixing the digest installs only the missing one
        m = _manifest(os.path.join(d, 'rzup.yaml'), root, _entries(srv, comps))
        before = srv.requests()
        r = _install(ctx, driver, m)
        assert r.rc == 0, r
        assert '1 installed, 2 up to date, 0 failed' in r.err, r
        assert srv.requests() == before + 1
    finally:
        srv.close()


def test_rerun_with_server_stopped_downloads_nothing(ctx, driver=None):
    d, comps = _setup(ctx)
    srv = Served(ctx, d)
    try:
        root = ctx.mkdtemp('root')
        m = _manifest(os.path.join(d, 'rzup.yaml'), root, _entries(srv, comps))
        r = _install(ctx, driver, m)
        assert r.rc == 0, r
        assert '3 installed' in r.err, r
        snap = harness.snapshot(root)
        srv.stop()
        r = _install(ctx, driver, '--progress=json', m)
        assert r.rc == 0, r
        ev = _json_lines(r.err)
        dones = [e for e in ev if e['event'] == 'done']
        assert len(dones) == 3 and all(e['bytes'] == 0 for e in dones), ev
        assert harness.snapshot(root) == snap
        # a changed url is not up to date: it is fetched, and fails
        m2 = _manifest(os.path.join(d, 'rzup2.yaml'), root, _entries(
            srv, comps, rust={'url': srv.url('rust.tar.gz') + '?v=2'}))
        r = _install(ctx, driver, '--retries', '0', m2)
        assert r.rc == 3, r
        assert 'rust' in r.err and 'could not connect' in r.err, r
        assert harness.snapshot(root) == snap
        # --force ignores receipts
        r = _install(ctx, driver, '--force', '--retries', '0', m)
        assert r.rc == 3 and '0 up to date, 3 failed' in r.err, r
        assert harness.snapshot(root) == snap
    finally:
        srv.close()


def test_jobs_one_runs_in_order(ctx):
    d, comps = _setup(ctx, files=3)
    srv = Served(ctx, d)
    try:
        root = ctx.mkdtemp('root')
        m = _manifest(os.path.join(d, 'rzup.yaml'), root, _entries(srv, comps),
                      extra='jobs: 3')
        r = ctx.run('install', '--jobs', '1', '--progress=json', m)
        assert r.rc == 0, r
        order = [(e['event'], e['component']) for e in _json_lines(r.err)
                 if e['event'] in ('start', 'done')]
        assert order == [('start', 'rust'), ('done', 'rust'),
                         ('start', 'cpp'), ('done', 'cpp'),
                         ('start', 'gdb'), ('done', 'gdb')], order
    finally:
        srv.close()


def test_headers_reach_only_their_component(ctx, driver=None):
    d, comps = _setup(ctx, names=('priv', 'pub'), files=2)
    srv = Served(ctx, d)
    try:
        root = ctx.mkdtemp('root')
        # /private/ on the harness's nginx wants X-Token: sesame
        ents = _entries(srv, comps)
        ents[0]['url'] = srv.url('private/priv.tar.gz')
        ents[0]['headers'] = {'X-Token': 'sesame'}
        m = _manifest(os.path.join(d, 'rzup.yaml'), root, ents)
        r = _install(ctx, driver, m)
        assert r.rc == 0, r
        ents[1]['url'] = srv.url('private/pub.tar.gz')
        ents[1]['dest'] = 'other/pub'
        m = _manifest(os.path.join(d, 'rzup.yaml'), root, ents)
        r = _install(ctx, driver, m)
        assert r.rc == 3 and 'HTTP 403' in r.err, r
    finally:
        srv.close()


# ----------------------------------------------------------- bad manifests

SHA = 'a' * 64
GOOD = """root: {root}
components:
  - name: rust
    url: {url}
    sha256: {sha}
    dest: rust/1.0
"""

BAD = [
    # (what, text, line, column, words in the message)
    ('malformed yaml', 'root: x\ncomponents:\n  - name: [a\n', 4, 1,
     'malformed YAML'),
    ('tab indentation', 'components:\n\t- name: a\n', 2, 1, 'malformed YAML'),
    ('not a mapping', '- a\n- b\n', 1, 1, 'must be a mapping'),
    ('unknown top key', 'rot: x\ncomponents: []\n', 1, 1, "unknown key 'rot'"),
    ('unknown component key',
     'components:\n  - name: a\n    url: http://x/a.tgz\n    sah256: ' + SHA +
     '\n    dest: a\n', 4, 5, "unknown key 'sah256'"),
    ('missing sha256', 'components:\n  - name: a\n    url: http://x/a.tgz\n'
     '    dest: a\n', 2, 5, "has no 'sha256'"),
    ('missing url', 'components:\n  - name: a\n    sha256: ' + SHA +
     '\n    dest: a\n', 2, 5, "has no 'url'"),
    ('missing components', 'root: /tmp\n', 1, 1, "no 'components'"),
    ('empty components', 'components: []\n', 1, 13, "is empty"),
    ('bad sha256', 'components:\n  - name: a\n    url: http://x/a.tgz\n'
     '    sha256: 1234\n    dest: a\n', 4, 13, 'sha256 must be'),
    ('md5 instead', 'components:\n  - name: a\n    url: http://x/a.tgz\n'
     '    sha256: md5:' + 'a' * 32 + '\n    dest: a\n', 4, 13,
     'is not a SHA-256 digest'),
    ('same dest', 'components:\n  - name: a\n    url: http://x/a.tgz\n'
     '    sha256: ' + SHA + '\n    dest: t/x\n  - name: b\n'
     '    url: http://x/b.tgz\n    sha256: ' + SHA + '\n    dest: t/./x/\n',
     6, 5, 'have the same dest'),
    ('dest inside another', 'components:\n  - name: a\n    url: http://x/a\n'
     '    sha256: ' + SHA + '\n    dest: t\n  - name: b\n'
     '    url: http://x/b\n    sha256: ' + SHA + '\n    dest: t/b\n',
     6, 5, 'inside one another'),
    ('same name', 'components:\n  - name: a\n    url: http://x/a\n'
     '    sha256: ' + SHA + '\n    dest: a\n  - name: a\n'
     '    url: http://x/b\n    sha256: ' + SHA + '\n    dest: b\n',
     6, 5, "two components named 'a'"),
    ('repeated key', 'components:\n  - name: a\n    name: b\n', 3, 5,
     "'name' given twice"),
    ('bad url', 'components:\n  - name: a\n    url: ftp://x/a\n', 3, 10,
     'must start with http://'),
    ('bad name', 'components:\n  - name: a/b\n', 2, 11, "name 'a/b'"),
    ('bad strip', 'components:\n  - name: a\n    strip-components: -1\n', 3,
     23, 'whole number'),
    ('bad jobs', 'jobs: 0\ncomponents: []\n', 1, 7, 'whole number'),
    ('list as url', 'components:\n  - name: a\n    url: [a, b]\n', 3, 10,
     'single value'),
    ('header line break', 'components:\n  - name: a\n    headers:\n'
     '      X-A: "one\\ntwo"\n', 4, 12, 'line break'),
    ('two documents', GOOD.replace('{root}', '/tmp/x').replace(
        '{url}', 'http://x/a').replace('{sha}', SHA) + '---\na: b\n', 8, 1,
     'second YAML document'),
    ('empty file', '', 1, 1, 'empty'),
]


def test_manifest_include_exclude_like_gnu_tar(ctx):
    """Per-component include/exclude globs select what GNU tar's
    --wildcards selects with the same patterns (before strip-components);
    a component without them gets everything."""
    d, comps = _setup(ctx, names=('rust', 'cpp'), files=9)
    srv = Served(ctx, d)
    try:
        root = ctx.mkdtemp('root')
        m = _manifest(os.path.join(d, 'rzup.yaml'), root, _entries(
            srv, comps, rust={'include': "['*/bin', 'rust-1.0/share']",
                              'exclude': "[f004, '*/doc/f00[57]']"}))
        r = ctx.run('install', m)
        assert r.rc == 0, r
        dest = os.path.join(root, 'toolchains', 'rust', '1.0')
        ref = ctx.gnu_tar_extract(comps['rust']['archive'], '--wildcards',
                                  '--strip-components=1', '--exclude=f004',
                                  '--exclude=*/doc/f00[57]', '*/bin',
                                  'rust-1.0/share')
        assert_same_tree(dest_without_receipt(dest), ref, 'rust')
        _restore_receipt(dest)
        names = sorted(os.listdir(dest))
        assert names == ['.rzup-receipt', 'bin', 'share'], names
        assert 'f004' not in os.listdir(os.path.join(dest, 'share', 'doc'))
        _check_tree(ctx, os.path.join(root, 'toolchains', 'cpp', '1.0'),
                    comps['cpp'], 'cpp')
        # a pattern that cannot match is refused before any download
        before = srv.requests()
        m = _manifest(os.path.join(d, 'bad.yaml'), root, _entries(
            srv, comps, cpp={'include': '[/usr/include]'}))
        r = ctx.run('install', '--force', m)
        assert r.rc == 2, r
        assert 'bad.yaml:13:15: pattern \'/usr/include\' in \'include\'' \
            in r.err, r
        assert srv.requests() == before
    finally:
        srv.close()


def test_malformed_manifests_refused_before_download(ctx):
    d = ctx.mkdtemp('srv')
    archive, _ = _make_component(d, 'rust', 2, 1000)
    srv = Served(ctx, d)
    try:
        url = srv.url('rust.tar.gz')
        root = ctx.mkdtemp('root')
        for what, text, line, col, words in BAD:
            # every bad manifest also names a real, downloadable component
            # first where it can: nothing may be fetched anyway
            path = os.path.join(d, 'bad.yaml')
            with open(path, 'w') as f:
                f.write(text.replace('http://x/a.tgz', url))
            before = srv.requests()
            r = ctx.run('install', path)
            assert r.rc == 2, (what, r)
            want = '%s:%d:%d: ' % (path, line, col)
            assert want in r.err and words in r.err, (what, want, words, r.err)
            assert r.err.count('\n') == 1, (what, r.err)
            assert srv.requests() == before, what
            assert os.listdir(root) == [], what
        # and the good one works
        with open(os.path.join(d, 'good.yaml'), 'w') as f:
            f.write(GOOD.format(root=root, url=url, sha=hashlib.sha256(
                open(archive, 'rb').read()).hexdigest()))
        r = ctx.run('install', os.path.join(d, 'good.yaml'))
        assert r.rc == 0, r
        assert os.path.isdir(os.path.join(root, 'rust', '1.0', 'rust-1.0'))
    finally:
        srv.close()


def test_manifest_paths_resolve(ctx):
    # no root: dests resolve against the manifest's directory; ~ is $HOME
    d = ctx.mkdtemp('srv')
    archive, _ = _make_component(d, 'rust', 2, 1000)
    sha = hashlib.sha256(open(archive, 'rb').read()).hexdigest()
    srv = Served(ctx, d)
    try:
        home = ctx.mkdtemp('home')
        mdir = ctx.mkdtemp('mdir')
        with open(os.path.join(mdir, 'm.yaml'), 'w') as f:
            f.write('components:\n  - name: a\n    url: %s\n    sha256: %s\n'
                    '    dest: here/a\n  - name: b\n    url: %s\n'
                    '    sha256: %s\n    dest: ~/there/b\n' % (
                        srv.url('rust.tar.gz'), sha, srv.url('rust.tar.gz'), sha))
        env = dict(os.environ, HOME=home)
        p = subprocess.run([ctx.binary, 'install', 'm.yaml'], cwd=mdir,
                           env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert os.path.isdir(os.path.join(mdir, 'here', 'a', 'rust-1.0'))
        assert os.path.isdir(os.path.join(home, 'there', 'b', 'rust-1.0'))
    finally:
        srv.close()


def test_install_usage_errors(ctx):
    assert ctx.run('install').rc == 2
    assert ctx.run('install', 'a.yaml', 'b.yaml').rc == 2
    r = ctx.run('install', os.path.join(ctx.tmp, 'missing.yaml'))
    assert r.rc == 2 and 'missing.yaml: No such file' in r.err, r
    assert ctx.run('install', '--jobs', '0', 'a.yaml').rc == 2
    assert ctx.run('install', '-t', 'a.yaml').rc == 2
    for opt in (('-C', '/tmp'), ('-H', 'A: b'), ('--sha256', 'a' * 64),
                ('--strip-components', '1'), ('--include', 'x')):
        r = ctx.run('install', *opt, 'a.yaml')
        assert r.rc == 2 and 'belong in the manifest' in r.err, (opt, r)


def test_ctrl_c_stops_every_component_and_installs_nothing(ctx, driver=None):
    import signal
    d, comps = _setup(ctx, files=20, size=100000)
    srv = Served(ctx, d)
    try:
        def drip(c, body, stop):
            for off in range(0, len(body), 8192):
                if stop.is_set():
                    return
                c.sendall(body[off:off + 8192])
                time.sleep(0.05)
        over = {n: {'url': srv.c.raw_server(open(c['archive'], 'rb').read(),
                                            c['size'], drip)}
                for n, c in comps.items()}
        root = ctx.mkdtemp('root')
        m = _manifest(os.path.join(d, 'rzup.yaml'), root,
                      _entries(srv, comps, **over))
        p = subprocess.Popen([ctx.binary, 'install'] + _drv(driver) + ['--progress=json', m],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        # wait until every component has begun writing
        seen = set()
        while len(seen) < 3:
            line = p.stderr.readline()
            assert line, 'ended early'
            e = json.loads(line)
            if e['event'] == 'progress' and e['entries'] > 0:
                seen.add(e['component'])
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        rest, err = p.communicate(timeout=10)
        took = time.monotonic() - t0
        assert p.returncode == 130, (p.returncode, err)
        assert took < 3, took
        errors = [json.loads(l) for l in err.splitlines()]
        assert sorted(e['component'] for e in errors
                      if e['event'] == 'error') == sorted(comps), errors
        assert all('interrupted' in e['message'] for e in errors
                   if e['event'] == 'error'), errors
        for n in comps:
            parent = os.path.join(root, 'toolchains', n)
            assert os.listdir(parent) == [], os.listdir(parent)
    finally:
        srv.close()
