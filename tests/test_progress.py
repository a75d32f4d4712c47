"""What a person or a log sees: --progress json/plain/bar (the bar read back
from a real terminal, tmux's), -v line by line on a pipe, -tv, include and
exclude globs, --strip-components before the name checks, and the digest
forms (sha256:HEX, a sha256sum line, --sha256-url).
"""

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time

import harness
from harness import Skip


def _archive(ctx, name='prog', files=40, size=100000, extra=None):
    """A .tar.gz with pkg/{bin,lib,doc}/..., made with GNU tar."""
    d = ctx.mkdtemp('arc')
    top = os.path.join(d, 'src', 'pkg')
    for i in range(files):
        sub = ('bin', 'lib', 'doc')[i % 3]
        os.makedirs(os.path.join(top, sub), exist_ok=True)
        ext = ('', '.so', '.txt')[i % 3]
        with open(os.path.join(top, sub, 'f%03d%s' % (i, ext)), 'wb') as f:
            f.write(os.urandom(size))
    path = os.path.join(d, name + '.tar.gz')
    subprocess.run(['tar', '-czf', path, '-C', os.path.join(d, 'src'), 'pkg'],
                   check=True)
    return path


def _drip_url(ctx, body, first=65536, step=16384, pause=0.05):
    def drip(c, body, stop):
        c.sendall(body[:first])
        for off in range(first, len(body), step):
            if stop.is_set():
                return
            c.sendall(body[off:off + step])
            time.sleep(pause)
    return ctx.raw_server(body, len(body), drip)


def _files(root):
    out = {}
    for dp, dn, fn in os.walk(root):
        for n in fn:
            p = os.path.join(dp, n)
            out[os.path.relpath(p, root)] = hashlib.sha256(
                open(p, 'rb').read()).hexdigest()
    return out


# ----------------------------------------------------------------- json

def _json(err):
    return [json.loads(line) for line in err.splitlines()]


def test_json_progress_single_run(ctx):
    arc = _archive(ctx)
    size = os.path.getsize(arc)
    with tarfile.open(arc) as t:
        members = len(t.getmembers())
    for src, name, total in ((arc, arc, size),):
        r = ctx.run('--progress=json', '-C', ctx.path(), src)
        assert r.rc == 0, r
        ev = _json(r.err)
        assert ev[0]['event'] == 'start' and ev[-1]['event'] == 'done', ev
        done = ev[-1]
        assert done['component'] == name
        assert done['bytes'] == size and done['total'] == total, done
        assert done['entries'] == members, (done, members)
        for e in ev:
            assert set(e) >= {'event', 'component', 'bytes', 'total',
                              'entries'}, e


def test_json_progress_over_http_and_stdin(ctx):
    arc = _archive(ctx)
    size = os.path.getsize(arc)
    body = open(arc, 'rb').read()
    url = _drip_url(ctx, body, step=65536, pause=0.1)
    r = ctx.run('--progress=json', '-C', ctx.path(), url)
    assert r.rc == 0, r
    ev = _json(r.err)
    kinds = [e['event'] for e in ev]
    assert kinds[0] == 'start' and kinds[-1] == 'done', kinds
    assert 'progress' in kinds, kinds      # the drip takes > 1 s
    prog = [e for e in ev if e['event'] == 'progress']
    assert all(0 < e['bytes'] <= size and e['total'] == size for e in prog)
    assert [e['bytes'] for e in prog] == sorted(e['bytes'] for e in prog)
    assert ev[-1]['bytes'] == size and ev[-1]['component'] == url
    # stdin: no total
    r = ctx.run('--progress=json', '-C', ctx.path(), input=body)
    assert r.rc == 0, r
    done = _json(r.err)[-1]
    assert done == dict(done, event='done', component='stdin', bytes=size,
                        total=None), done


def test_json_error_event(ctx):
    arc = _archive(ctx, files=3)
    bad = hashlib.sha256(b'x').hexdigest()
    r = ctx.run('--progress=json', '--sha256', bad, '-C', ctx.path(), arc)
    assert r.rc == 4, r
    ev = _json(r.err)       # nothing but JSON on stderr
    err = ev[-1]
    assert err['event'] == 'error' and err['code'] == 4, err
    assert 'SHA-256' in err['message'] and err['bytes'] == os.path.getsize(arc)


def test_json_retry_event(ctx):
    arc = _archive(ctx, files=3)
    body = open(arc, 'rb').read()
    url = ctx.lying_server(body, len(body), len(body) // 2)
    sha = hashlib.sha256(body).hexdigest()   # lets an unvalidated resume
    r = ctx.run('--progress=json', '--retries', '1', '--retry-delay', '0.01',
                '--sha256', sha, '-C', ctx.path(), url)
    assert r.rc == 3, r
    ev = _json(r.err)
    kinds = [e['event'] for e in ev]
    assert kinds == ['start', 'retry', 'error'], kinds
    assert 'retry 1/1' in ev[1]['message'], ev[1]


# ----------------------------------------------------------------- plain

def test_plain_progress_in_a_log(ctx):
    arc = _archive(ctx, files=60)
    body = open(arc, 'rb').read()
    # about 6 s of download: past the 3 s quiet start, several 10% steps
    url = _drip_url(ctx, body, step=len(body) // 60, pause=0.1)
    r = ctx.run('--progress=plain', '-C', ctx.path(), url)
    assert r.rc == 0, r
    lines = [l for l in r.err.splitlines() if l]
    assert lines, r
    pat = re.compile(r'^rzup-extract: \S+: +(\d+)%  [\d.]+ [KMG]?i?B / '
                     r'[\d.]+ [KMG]?i?B  [\d.]+ [KMG]?i?B/s(  ETA (\d+:)?\d+:\d\d|  ETA --:--)?'
                     r'  \d+ entries$')
    steps = [int(pat.match(l).group(1)) for l in lines[:-1]]
    assert steps and steps == sorted(steps), lines
    assert len(lines) <= 6, lines              # at most one per 3 s
    assert lines[-1].startswith('rzup-extract: %s: done: ' % url), lines
    assert '\033' not in r.err and '\r' not in r.err
    # a quick run prints nothing at all
    r = ctx.run('--progress=plain', '-C', ctx.path(), arc)
    assert r.rc == 0 and r.err == '', r


# ----------------------------------------------------------------- -v

def test_verbose_names_arrive_line_by_line(ctx):
    # 60 files of 40 kB: the decoded stream is many of the handoff's
    # 256 KiB slots, dripped over about 2 s, so names are written (and
    # must be printed) long before the end
    arc = _archive(ctx, files=60, size=40000)
    body = open(arc, 'rb').read()
    url = _drip_url(ctx, body, first=65536, step=65536, pause=0.05)
    # unbuffered: communicate() reads the fd, so nothing may sit in a buffer
    p = subprocess.Popen([ctx.binary, '-v', '-C', ctx.path(), url], bufsize=0,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = p.stdout.readline()
        t_first = time.monotonic()
        rest, err = p.communicate(timeout=60)
        t_end = time.monotonic()
    finally:
        if p.poll() is None:
            p.kill()
    assert first == b'pkg/\n', first
    assert t_end - t_first > 0.5, 'the first name came only at exit'
    assert p.returncode == 0, err
    names = (first + rest).decode().splitlines()
    assert len(names) == 64, names             # 60 files, 4 directories
    assert 'rzup-extract: 64 entries' in err.decode(), err


# ----------------------------------------------------------------- tty

class Tmux:
    """A real terminal (tmux) of a fixed size, read back as a person sees it."""

    def __init__(self, ctx, cols=100, rows=30):
        if not shutil.which('tmux'):
            raise Skip('tmux is not installed')
        self.sock = 'rzup-test-%d-%d' % (os.getpid(), time.monotonic_ns())
        self.cols, self.rows = cols, rows

    def run(self, cmd):
        subprocess.run(['tmux', '-L', self.sock, '-f', '/dev/null',
                        'new-session', '-d', '-x', str(self.cols),
                        '-y', str(self.rows), 'sh', '-c',
                        cmd + '; echo "EXIT=$?"; sleep 60'], check=True)

    def screen(self, history=False):
        """What the pane shows (with history: and what scrolled off)."""
        return subprocess.run(['tmux', '-L', self.sock, 'capture-pane', '-p',
                               '-J'] + (['-S', '-'] if history else []),
                              capture_output=True, text=True).stdout

    def wait_for(self, pred, timeout=30):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.05)
        raise AssertionError('screen never matched:\n' + self.screen())

    def close(self):
        subprocess.run(['tmux', '-L', self.sock, 'kill-server'],
                       capture_output=True)


BAR = re.compile(r'\[[#-]{20}\] +(\d+)%  [\d.]+ [KMG]?i?B / [\d.]+ [KMG]?i?B'
                 r'  [\d.]+ [KMG]?i?B/s(  ETA (\d+:)?\d+:\d\d|  ETA --:--)?'
                 r'  \d+ entries')


def test_tty_bar_single_run(ctx):
    arc = _archive(ctx, files=60)
    body = open(arc, 'rb').read()
    url = _drip_url(ctx, body, step=len(body) // 40, pause=0.08)
    dest = ctx.path()
    t = Tmux(ctx)
    try:
        t.run('%s -C %s %s' % (ctx.binary, dest, url))
        mid = t.wait_for(lambda s: BAR.search(s) and 'ETA' in s)
        bar_lines = [l for l in mid.splitlines() if BAR.search(l)]
        assert len(bar_lines) == 1, mid         # redrawn in place
        line = bar_lines[0]
        assert len(line) < t.cols, line
        assert re.search(r'entries  pkg/', line), line   # the current entry
        end = t.wait_for(lambda s: 'EXIT=' in s)
        assert 'EXIT=0' in end, end
        # the bar is erased when the run ends: a clean screen
        assert not BAR.search(end) and '%' not in end, end
        assert os.path.isdir(os.path.join(dest, 'pkg'))
    finally:
        t.close()


def test_tty_bar_install_one_line_per_component(ctx):
    d = ctx.mkdtemp('srv')
    comps = []
    for n in ('rust', 'cpp', 'gdb'):
        arc = _archive(ctx, name=n, files=30)
        body = open(arc, 'rb').read()
        url = _drip_url(ctx, body, step=len(body) // 30, pause=0.08)
        comps.append((n, url, hashlib.sha256(body).hexdigest()))
    root = ctx.mkdtemp('root')
    m = os.path.join(d, 'm.yaml')
    with open(m, 'w') as f:
        f.write('root: %s\ncomponents:\n' % root)
        for n, url, sha in comps:
            f.write('  - name: %s\n    url: %s\n    sha256: %s\n'
                    '    dest: %s/1.0\n' % (n, url, sha, n))
    t = Tmux(ctx)
    try:
        t.run('%s install %s' % (ctx.binary, m))
        mid = t.wait_for(lambda s: len(BAR.findall(s)) == 3)
        lines = mid.splitlines()
        for n, _, _ in comps:
            mine = [l for l in lines if l.startswith(n + ' ')]
            assert len(mine) == 1 and BAR.search(mine[0]), mid
        end = t.wait_for(lambda s: 'EXIT=' in s)
        assert 'EXIT=0' in end, end
        for n, _, _ in comps:
            final = [l for l in end.splitlines() if l.startswith(n + ' ')]
            assert len(final) == 1 and 'done: ' in final[0], end
        assert '3 installed, 0 up to date, 0 failed' in end, end
        assert not BAR.search(end), end
    finally:
        t.close()


# ----------------------------------------------------------------- -tv

def test_list_verbose_sizes_and_modes(ctx):
    d = ctx.mkdtemp('tv')
    src = os.path.join(d, 'src')
    os.makedirs(os.path.join(src, 'pkg', 'bin'))
    with open(os.path.join(src, 'pkg', 'bin', 'tool'), 'wb') as f:
        f.write(b'x' * 12345)
    os.chmod(os.path.join(src, 'pkg', 'bin', 'tool'), 0o750)
    os.symlink('bin/tool', os.path.join(src, 'pkg', 'link'))
    arc = os.path.join(d, 'a.tar')
    subprocess.run(['tar', '-cf', arc, '--owner=0', '--group=0',
                    '--numeric-owner', '-C', src, 'pkg'], check=True)
    r = ctx.run('-tv', arc)
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert re.match(r'^drwxr-xr-x 0/0 +0 \d{4}-\d\d-\d\d \d\d:\d\d pkg/$',
                    lines[0]), lines
    tool = [l for l in lines if l.endswith('pkg/bin/tool')][0]
    assert re.match(r'^-rwxr-x--- 0/0 +12345 ', tool), tool
    link = [l for l in lines if 'pkg/link' in l][0]
    assert link.startswith('lrwxrwxrwx') and link.endswith(
        'pkg/link -> bin/tool'), link
    r = ctx.run('-t', arc)
    gnu = subprocess.run(['tar', '-tf', arc], capture_output=True, text=True)
    assert r.out.splitlines() == gnu.stdout.splitlines(), r


# ----------------------------------------------------------------- globs

def test_include_exclude_like_gnu_tar(ctx):
    arc = _archive(ctx, files=12, size=100)
    cases = [
        (['--include', 'pkg/bin/*'], ['--wildcards', 'pkg/bin/*']),
        (['--include', 'pkg/lib'], ['pkg/lib']),
        (['--exclude', '*.so'], ['--exclude', '*.so']),
        (['--exclude', 'doc'], ['--exclude', 'doc']),
        (['--include', 'pkg/*', '--exclude', '*.txt'],
         ['--wildcards', '--exclude', '*.txt', 'pkg/*']),
        (['--include', '*/f00?'], ['--wildcards', '*/f00?']),
    ]
    for ours, tars in cases:
        dest = ctx.path()
        r = ctx.run('-C', dest, *ours, arc)
        assert r.rc == 0, (ours, r)
        ref = ctx.mkdtemp('ref')
        subprocess.run(['tar', '-xzf', arc, '-C', ref] + tars, check=True)
        assert _files(dest) == _files(ref), (ours, sorted(_files(dest)),
                                             sorted(_files(ref)))
        assert _files(dest), ours
        # the listing filters the same way
        r = ctx.run('-t', *ours, arc)
        listed = [n for n in r.out.splitlines() if not n.endswith('/')]
        assert sorted(listed) == sorted(_files(ref)), (ours, listed)


def test_strip_components_before_the_name_checks(ctx):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as t:
        for name in ('../pkg/bin/tool', '../pkg/README'):
            ti = tarfile.TarInfo(name)
            ti.size = 3
            t.addfile(ti, io.BytesIO(b'abc'))
    data = buf.getvalue()
    dest = ctx.path()
    r = ctx.run('--strip-components', '1', '-C', dest, '-', input=data)
    assert r.rc == 0, r
    assert sorted(_files(dest)) == ['pkg/README', 'pkg/bin/tool']
    # not stripped: refused, nothing written
    dest = ctx.path()
    r = ctx.run('-C', dest, '-', input=data)
    assert r.rc == 6 and "'..'" in r.err, r
    assert not os.path.exists(dest)


# ----------------------------------------------------------------- digests

def test_sha256_forms(ctx):
    arc = _archive(ctx, files=3, size=100)
    hexd = hashlib.sha256(open(arc, 'rb').read()).hexdigest()
    for form in (hexd, 'sha256:' + hexd, 'SHA256:' + hexd.upper(),
                 '%s  %s' % (hexd, os.path.basename(arc)),
                 '%s *%s\n' % (hexd, arc)):
        r = ctx.run('--sha256', form, '-C', ctx.path(), arc)
        assert r.rc == 0, (form, r)
    for bad in ('md5:' + hexd[:32], 'sha512:' + hexd, hexd[:-1],
                hexd + 'x', hexd + '\n' + hexd):
        r = ctx.run('--sha256', bad, '-C', ctx.path(), arc)
        assert r.rc == 2, (bad, r)
    r = ctx.run('--sha256', 'md5:' + hexd[:32], arc)
    assert "'md5:' is not a SHA-256 digest" in r.err, r


def test_sha256_url(ctx):
    d = ctx.mkdtemp('dig')
    arc = _archive(ctx, files=3, size=100)
    name = 'rust-1.81.0-x86_64-unknown-linux-gnu.tar.gz'
    shutil.copy(arc, os.path.join(d, name))
    hexd = hashlib.sha256(open(arc, 'rb').read()).hexdigest()
    with open(os.path.join(d, name + '.sha256'), 'w') as f:
        f.write('%s  %s\n' % (hexd, name))          # as rustup publishes
    with open(os.path.join(d, 'many.sha256'), 'w') as f:
        f.write('%s  other.tar.gz\n%s  dist/%s\n' % ('0' * 64, hexd, name))
    with open(os.path.join(d, 'wrong.sha256'), 'w') as f:
        f.write('%s  %s\n' % ('1' * 64, name))
    with open(os.path.join(d, 'none.sha256'), 'w') as f:
        f.write('%s  a.tgz\n%s  b.tgz\n' % ('1' * 64, '2' * 64))
    srv = harness.Context(ctx.top, ctx.builddir, ctx.binary, d)
    try:
        url = srv.url(name)
        for digest_file, rc, words in ((name + '.sha256', 0, ''),
                                       ('many.sha256', 0, ''),
                                       ('wrong.sha256', 4, 'does not match'),
                                       ('none.sha256', 2, 'none is for'),
                                       ('missing.sha256', 3, 'HTTP 404')):
            dest = ctx.path()
            r = ctx.run('--sha256-url', srv.url(digest_file), '-C', dest, url)
            assert r.rc == rc and words in r.err, (digest_file, r)
            assert os.path.exists(dest) == (rc == 0)
        # -H goes to the digest file only on the archive's own origin
        # (/private/ wants X-Token: sesame)
        tok = ('-H', 'X-Token: sesame')
        priv = srv.url('private/' + name)
        r = ctx.run(*tok, '--sha256-url', priv + '.sha256', '-C', ctx.path(),
                    priv)
        assert r.rc == 0, r
        other = harness.Context(ctx.top, ctx.builddir, ctx.binary, d)
        try:
            r = ctx.run(*tok, '--sha256-url',
                        other.url('private/' + name + '.sha256'),
                        '-C', ctx.path(), priv)
            assert r.rc == 3 and 'HTTP 403' in r.err, r
        finally:
            other.close()
    finally:
        srv.close()


# ----------------------------------------------------------------- package

def test_help_fits_one_screen_and_help_all_has_every_option(ctx):
    r = ctx.run('--help')
    lines = r.out.splitlines()
    assert r.rc == 0 and len(lines) <= 23, len(lines)   # + the prompt: 24
    assert max(len(l) for l in lines) <= 80
    assert '--help all' in r.out
    full = ctx.run('--help', 'all')
    assert full.rc == 0 and len(full.out.splitlines()) > len(lines)
    src = open(os.path.join(ctx.top, 'pipeline', 'main.c')).read()
    opts = re.findall(r'^    \{"([a-z0-9-]+)", (?:no|required)_argument', src,
                      re.M)
    assert len(opts) > 30, opts
    for o in opts:
        assert '--' + o in full.out, o
    # and the man page documents each of them
    man = open(os.path.join(ctx.top, 'docs', 'rzup-extract.1')).read()
    for o in opts:
        assert '\\-\\-' + o.replace('-', '\\-') in man, o


def test_ninja_install_with_prefix_and_destdir(ctx):
    if not shutil.which('ninja'):
        raise Skip('ninja is not installed')
    dest = ctx.mkdtemp('pkg')
    env = dict(os.environ, PREFIX='/usr', DESTDIR=dest)
    p = subprocess.run(['ninja', 'install'], cwd=ctx.top, env=env,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    b = os.path.join(dest, 'usr', 'bin', 'rzup-extract')
    assert os.access(b, os.X_OK)
    assert subprocess.run([b, '--version'], capture_output=True).returncode == 0
    man = os.path.join(dest, 'usr', 'share', 'man', 'man1', 'rzup-extract.1.gz')
    assert subprocess.run(['gzip', '-t', man]).returncode == 0
    comp = os.path.join(dest, 'usr', 'share', 'bash-completion', 'completions',
                        'rzup-extract')
    assert subprocess.run(['bash', '-n', comp]).returncode == 0
    assert 'complete -F _rzup_extract rzup-extract' in open(comp).read()


def test_tty_bar_more_components_than_rows(ctx):
    d = ctx.mkdtemp('srv')
    arc = _archive(ctx, name='c', files=10, size=30000)
    body = open(arc, 'rb').read()
    sha = hashlib.sha256(body).hexdigest()
    root = ctx.mkdtemp('root')
    m = os.path.join(d, 'm.yaml')
    with open(m, 'w') as f:
        f.write('root: %s\njobs: 3\ncomponents:\n' % root)
        for i in range(12):
            url = _drip_url(ctx, body, step=len(body) // 20, pause=0.08)
            f.write('  - name: comp%02d\n    url: %s\n    sha256: %s\n'
                    '    dest: c%02d\n' % (i, url, sha, i))
    t = Tmux(ctx, cols=100, rows=10)
    try:
        t.run('%s install %s' % (ctx.binary, m))
        mid = t.wait_for(lambda s: BAR.search(s) and '(and ' in s)
        lines = [l for l in mid.splitlines() if l.strip()]
        assert len(lines) <= 8, mid
        names = [l.split()[0] for l in lines if l.startswith('comp')]
        assert len(names) == len(set(names)) and 1 <= len(names) <= 3, mid
        more = [l for l in lines if l.startswith('(and ')][0]
        assert re.match(r'\(and \d+ more: \d+ waiting, \d+ done, 0 up to '
                        r'date, 0 failed\)', more), more
        t.wait_for(lambda s: 'EXIT=' in s)
        end = t.screen(history=True)
        assert 'EXIT=0' in end and '12 installed' in end, end
        # nothing drawn over: each component's summary line is intact
        for i in range(12):
            assert re.search(r'^  comp%02d +installed: ' % i, end, re.M), end
    finally:
        t.close()
