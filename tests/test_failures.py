"""Failures of the machine, not of the archive: disk full (a small tmpfs,
RLIMIT_FSIZE), a read-only destination, the destination's parent removed
mid-run, signals mid-extraction (slow pipe and a slow HTTP server), a
listing whose reader goes away, and two runs merging into one destination
at once.  Every failure must leave the destination exactly as it was, no
staging directory anywhere, and the filesystem's free space as it was.

Mounting needs root; without it the tmpfs tests are skipped (never passed).
"""

import contextlib
import io
import os
import re
import resource
import signal
import subprocess
import tarfile
import time

from harness import Skip, listing

FILE_SIZE = 600 * 1024


def _random_tar(path, names, size=FILE_SIZE, seed=0):
    """A plain tar of incompressible files (so gzip cannot shrink it);
    `size` is one size for all, or a list of one per name."""
    sizes = size if isinstance(size, list) else [size] * len(names)
    with tarfile.open(path, 'w', format=tarfile.PAX_FORMAT) as t:
        for i, name in enumerate(names):
            data = os.urandom(sizes[i]) if sizes[i] else b''
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1700000000 + seed + i
            t.addfile(ti, io.BytesIO(data))
    return path


def _big(ctx):
    """About 3.6 MB: six files of 600 KiB, larger than the 2 MiB tmpfs."""
    path = os.path.join(ctx.tmp, 'fail-big.tar')
    if not os.path.exists(path):
        _random_tar(path, ['top/f%d' % i for i in range(6)])
    return path


def _big_gz(ctx):
    path = _big(ctx) + '.gz'
    if not os.path.exists(path):
        subprocess.run(['gzip', '-k', '-1', _big(ctx)], check=True)
    return path


@contextlib.contextmanager
def _tmpfs(ctx, size='2m'):
    if os.geteuid() != 0:
        raise Skip('mounting a tmpfs needs root')
    d = ctx.mkdtemp('mnt')
    p = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=' + size, 'tmpfs', d],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip('cannot mount a tmpfs: ' + p.stderr.strip())
    try:
        yield d
    finally:
        if subprocess.run(['umount', d], capture_output=True).returncode != 0:
            subprocess.run(['umount', '-l', d], capture_output=True)


def _free(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize, st.f_favail


def _no_staging_anywhere(*dirs):
    for d in dirs:
        if os.path.isdir(d):
            left = [n for n in os.listdir(d) if 'rzup' in n]
            assert not left, 'staging left behind in %s: %s' % (d, left)


def _tree_and_mtime(path):
    return listing(path), os.stat(path).st_mtime_ns if os.path.exists(path) else None


def _written(err):
    m = re.search(r'(\d+) bytes written so far', err)
    assert m, 'no "bytes written so far" figure in: ' + err
    return int(m.group(1))


# ------------------------------------------------------------ disk full

def test_disk_full_absent_destination(ctx):
    with _tmpfs(ctx) as mnt:
        before = _free(mnt)
        dest = os.path.join(mnt, 'out')
        r = ctx.run('-C', dest, _big(ctx))
        assert r.rc == 7, r
        assert 'no space left' in r.err, r.err
        n = _written(r.err)
        assert 0 < n <= 2 * 1024 * 1024, r.err
        assert not os.path.exists(dest)
        assert os.listdir(mnt) == [], os.listdir(mnt)
        assert _free(mnt) == before, (_free(mnt), before)


def test_disk_full_existing_destination(ctx):
    with _tmpfs(ctx) as mnt:
        dest = os.path.join(mnt, 'out')
        os.makedirs(os.path.join(dest, 'sub'))
        with open(os.path.join(dest, 'keep'), 'w') as f:
            f.write('keep me\n')
        os.utime(dest, ns=(1, 1500000000123456789))
        was = _tree_and_mtime(dest)
        before = _free(mnt)
        r = ctx.run('-C', dest, _big_gz(ctx))
        assert r.rc == 7, r
        assert 'no space left' in r.err, r.err
        assert 0 < _written(r.err) <= 2 * 1024 * 1024, r.err
        assert _tree_and_mtime(dest) == was
        _no_staging_anywhere(mnt, dest)
        assert _free(mnt) == before, (_free(mnt), before)


def test_disk_full_replace(ctx):
    with _tmpfs(ctx) as mnt:
        dest = os.path.join(mnt, 'out')
        os.makedirs(dest)
        with open(os.path.join(dest, 'old'), 'w') as f:
            f.write('old\n')
        was = _tree_and_mtime(dest)
        before = _free(mnt)
        r = ctx.run('--replace', '-C', dest, _big(ctx))
        assert r.rc == 7 and 'no space left' in r.err, r
        assert _tree_and_mtime(dest) == was
        _no_staging_anywhere(mnt, dest)
        assert _free(mnt) == before


def _fsize_limit(ignore_xfsz):
    def pre():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))
        signal.signal(signal.SIGXFSZ,
                      signal.SIG_IGN if ignore_xfsz else signal.SIG_DFL)
    return pre


def _run_limited(ctx, dest, ignore_xfsz):
    big = os.path.join(ctx.tmp, 'fail-onebig.tar')
    if not os.path.exists(big):
        _random_tar(big, ['top/small', 'top/large'],
                    size=[512 * 1024, 1536 * 1024])
    p = subprocess.run([ctx.binary, '-C', dest, big], capture_output=True,
                       text=True, timeout=60,
                       preexec_fn=_fsize_limit(ignore_xfsz))
    assert 'Sanitizer' not in p.stderr and 'runtime error:' not in p.stderr, p.stderr
    return p


def test_file_size_limit_efbig(ctx):
    # SIGXFSZ ignored (inherited): write(2) fails with EFBIG, which the
    # tool reports as a local I/O failure like disk full.
    dest = ctx.path('out')
    p = _run_limited(ctx, dest, ignore_xfsz=True)
    assert p.returncode == 7, (p.returncode, p.stderr)
    assert 'File too large' in p.stderr and 'top/large' in p.stderr, p.stderr
    assert 'file size limit reached' in p.stderr, p.stderr
    # all of top/small, and top/large up to the 1 MiB limit
    assert _written(p.stderr) == 512 * 1024 + 1024 * 1024, p.stderr
    assert not os.path.exists(dest)
    _no_staging_anywhere(os.path.dirname(dest))


def test_file_size_limit_default_sigxfsz(ctx):
    # With SIGXFSZ at its default action the kernel would kill the
    # process at the first write past the limit, before any cleanup.  The
    # writer thread blocks it, so the write fails with EFBIG instead.
    dest = ctx.path('out')
    p = _run_limited(ctx, dest, ignore_xfsz=False)
    assert p.returncode != -signal.SIGXFSZ, (
        'killed by SIGXFSZ; staging left behind: %s'
        % os.listdir(os.path.dirname(dest)))
    assert p.returncode == 7, (p.returncode, p.stderr)
    assert 'File too large' in p.stderr, p.stderr
    assert not os.path.exists(dest)
    _no_staging_anywhere(os.path.dirname(dest))


# ------------------------------------------------------------ read-only

def test_read_only_destination(ctx):
    with _tmpfs(ctx, '1m') as mnt:
        dest = os.path.join(mnt, 'out')
        os.makedirs(dest)
        with open(os.path.join(dest, 'keep'), 'w') as f:
            f.write('keep\n')
        p = subprocess.run(['mount', '-o', 'remount,ro', mnt], capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise Skip('cannot remount read-only: ' + p.stderr.strip())
        was = _tree_and_mtime(dest)
        for d in (dest, os.path.join(mnt, 'absent')):
            for extra in ([], ['--replace']):
                r = ctx.run('-C', d, *extra, ctx.fixture('gnu.tar.gz'))
                assert r.rc == 7, r
                assert 'Read-only file system' in r.err, r.err
                assert 'destination is not usable' in r.err, r.err
        assert _tree_and_mtime(dest) == was
        assert sorted(os.listdir(mnt)) == ['out']
        _no_staging_anywhere(mnt, dest)


# ------------------------------------------------------------ slow sources

def _wait_for_staging(where, proc, timeout=10):
    """Until a staging directory exists in one of `where` (the run is
    writing), or fail."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for d in where:
            if os.path.isdir(d) and any('rzup' in n for n in os.listdir(d)):
                return
        assert proc.poll() is None, 'exited early: %s' % proc.communicate()[1]
        time.sleep(0.01)
    raise AssertionError('no staging directory appeared in %s' % (where,))


def _start_slow(ctx, dest, data, first, *extra):
    """Start a run reading a pipe, and write `first` bytes of `data`."""
    p = subprocess.Popen([ctx.binary, '-C', dest] + list(extra),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(data[:first])
    p.stdin.flush()
    return p


def _finish(p, rest=b'', timeout=10):
    try:
        if rest:
            p.stdin.write(rest)
        p.stdin.close()
    except BrokenPipeError:
        pass
    p.stdin = None     # closed: communicate must not flush it
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError('the run did not end within %d s' % timeout)
    err = err.decode('utf-8', 'replace')
    assert 'Sanitizer' not in err and 'runtime error:' not in err, err
    return p.returncode, err


def _vanish(ctx, existing):
    data = open(_big_gz(ctx), 'rb').read()
    grand = ctx.mkdtemp('grand')
    parent = os.path.join(grand, 'parent')
    dest = os.path.join(parent, 'out')
    os.makedirs(dest if existing else parent)
    p = _start_slow(ctx, dest, data, len(data) // 3)
    _wait_for_staging([parent, dest], p)
    subprocess.run(['rm', '-rf', parent])
    for _ in range(50):      # the run may still be creating entries in it
        if not os.path.exists(parent):
            break
        subprocess.run(['rm', '-rf', parent])
        time.sleep(0.02)
    rc, err = _finish(p, data[len(data) // 3:])
    # It cannot succeed (nothing is reachable to publish into), so it must
    # fail cleanly, and never create anything anywhere else.
    assert rc == 7, (rc, err)
    assert 'No such file or directory' in err, err
    assert os.listdir(grand) == [], os.listdir(grand)
    _no_staging_anywhere(ctx.tmp)


def test_vanished_parent_absent_destination(ctx):
    _vanish(ctx, existing=False)


def test_vanished_parent_existing_destination(ctx):
    _vanish(ctx, existing=True)


# ------------------------------------------------------------ signals

def _signal_mid_run(ctx, sig, existing):
    data = open(_big_gz(ctx), 'rb').read()
    parent = ctx.mkdtemp('sig')
    dest = os.path.join(parent, 'out')
    if existing:
        os.makedirs(os.path.join(dest, 'top'))
        with open(os.path.join(dest, 'top', 'f0'), 'w') as f:
            f.write('old f0\n')
    was = _tree_and_mtime(dest)
    p = _start_slow(ctx, dest, data, len(data) // 2)
    _wait_for_staging([parent, dest], p)
    t0 = time.monotonic()
    p.send_signal(sig)
    try:
        p.wait(5)     # stdin still open: the signal alone must end the run
    except subprocess.TimeoutExpired:
        pass
    took = time.monotonic() - t0
    rc, err = _finish(p)
    assert rc == 128 + sig, (sig, rc, err)
    assert took < 2, 'took %.2f s to stop' % took
    assert 'interrupted' in err, err
    assert _tree_and_mtime(dest) == was
    _no_staging_anywhere(parent, dest)


def test_signals_mid_extraction_existing_destination(ctx):
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        _signal_mid_run(ctx, sig, existing=True)


def test_signals_mid_extraction_absent_destination(ctx):
    for sig in (signal.SIGINT, signal.SIGTERM):
        _signal_mid_run(ctx, sig, existing=False)


def test_signal_with_end_of_input(ctx):
    # Ctrl-C in `curl URL | rzup-extract` hits both: the pipe ends at the
    # same moment.  The signal is the cause, not a truncated archive.
    # Racy by nature, so tried several times.
    data = open(_big_gz(ctx), 'rb').read()
    for sig in (signal.SIGINT, signal.SIGTERM) * 4:
        dest = ctx.path('out')
        p = _start_slow(ctx, dest, data, len(data) // 2)
        _wait_for_staging([os.path.dirname(dest)], p)
        p.send_signal(sig)
        rc, err = _finish(p)
        assert rc == 128 + sig and 'interrupted' in err, (rc, err)
        assert not os.path.exists(dest)
        _no_staging_anywhere(os.path.dirname(dest))


def _drip_server(ctx, body):
    """Serve `body` over HTTP: the first half at once, then 2 KiB every
    50 ms, so a download stays in progress for seconds."""
    def drip(c, body, stop):
        half = len(body) // 2
        c.sendall(body[:half])
        for off in range(half, len(body), 2048):
            if stop.is_set():
                break
            c.sendall(body[off:off + 2048])
            time.sleep(0.05)
    return ctx.raw_server(body, len(body), drip)


def test_signal_during_http_download(ctx):
    url = _drip_server(ctx, open(_big_gz(ctx), 'rb').read())
    for sig in (signal.SIGTERM, signal.SIGINT):
        dest = ctx.path('out')
        p = subprocess.Popen([ctx.binary, '-C', dest, url], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait_for_staging([os.path.dirname(dest)], p)
        time.sleep(0.2)
        t0 = time.monotonic()
        p.send_signal(sig)
        try:
            _, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise AssertionError('did not stop within 5 s of signal %d' % sig)
        took = time.monotonic() - t0
        err = err.decode('utf-8', 'replace')
        assert p.returncode == 128 + sig, (p.returncode, err)
        assert 'interrupted' in err and 'Sanitizer' not in err, err
        assert took < 2, 'took %.2f s to stop' % took
        assert not os.path.exists(dest)
        _no_staging_anywhere(os.path.dirname(dest))


def test_list_into_closed_pipe(ctx):
    # rzup-extract -t big.tar | head -1: the reader goes away after one
    # line; the run must end at once (SIGPIPE: 141), not list on.  Whether
    # the broken pipe or the signal is noticed first is a race, so the run
    # is repeated.
    many = os.path.join(ctx.tmp, 'fail-many.tar')
    if not os.path.exists(many):
        _random_tar(many, ['dir/a-rather-long-file-name-%05d' % i
                           for i in range(6000)], size=0)
    for _ in range(10):
        _list_into_closed_pipe(ctx, many)


def _list_into_closed_pipe(ctx, many):
    p = subprocess.Popen([ctx.binary, '-t', many], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    line = p.stdout.readline()
    assert line.startswith(b'dir/'), line
    t0 = time.monotonic()
    p.stdout.close()
    try:
        err = p.stderr.read().decode('utf-8', 'replace')
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError('listing did not stop after its reader went away')
    assert time.monotonic() - t0 < 2
    assert p.returncode == 128 + signal.SIGPIPE, (p.returncode, err)
    assert 'interrupted' in err and 'Sanitizer' not in err, err


# ------------------------------------------------------------ concurrency

def test_two_runs_into_one_destination(ctx):
    # Both runs are mid-extraction at the same time and publish at nearly
    # the same moment, into the same existing directory, with many
    # directories in common (each must create or merge them, whichever
    # comes first).
    dirs = ['top/d%03d' % i for i in range(150)]
    a = _random_tar(os.path.join(ctx.tmp, 'fail-a.tar'),
                    [d + '/a' for d in dirs] + ['top/common'], size=2048, seed=1)
    b = _random_tar(os.path.join(ctx.tmp, 'fail-b.tar'),
                    [d + '/b' for d in dirs] + ['top/common'], size=2048, seed=2)
    for rnd in range(3):
        dest = ctx.mkdtemp('both')
        with open(os.path.join(dest, 'mine'), 'w') as f:
            f.write('mine\n')
        da, db = open(a, 'rb').read(), open(b, 'rb').read()
        pa = _start_slow(ctx, dest, da, len(da) - 2048)
        pb = _start_slow(ctx, dest, db, len(db) - 2048)
        _wait_for_staging([dest], pa)
        time.sleep(0.1)
        for p, d in ((pa, da), (pb, db)):
            p.stdin.write(d[len(d) - 2048:])
            p.stdin.flush()
        ra, ea = _finish(pa)
        rb, eb = _finish(pb)
        assert ra == 0 and rb == 0, (rnd, ra, ea, rb, eb)
        for d in dirs:
            assert sorted(os.listdir(os.path.join(dest, d))) == ['a', 'b'], d
        want = {}
        for name, arc in (('a', a), ('b', b)):
            with tarfile.open(arc) as t:
                for m in t.getmembers():
                    want.setdefault(m.name, []).append(t.extractfile(m).read())
        for name, contents in want.items():
            with open(os.path.join(dest, name), 'rb') as f:
                assert f.read() in contents, name
        assert open(os.path.join(dest, 'mine')).read() == 'mine\n'
        _no_staging_anywhere(dest, os.path.dirname(dest))


def test_deep_tree_cleanup_with_low_fd_limit(ctx):
    # A hostile archive of 1023 nested directories, refused at its very end
    # (trailing garbage), must be cleaned up even when few fds are allowed:
    # removing the staging tree must not need one fd per level.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo('/'.join(['d'] * 1023) + '/f')
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b'x'))
    archive = os.path.join(ctx.mkdtemp('deep'), 'deep.tar')
    with open(archive, 'wb') as f:
        f.write(buf.getvalue() + b'garbage' + bytes(505))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low_soft = 256 if hard == resource.RLIM_INFINITY else min(256, hard)

    # a low soft limit (the tool raises it), and a low hard limit (removal
    # must then work with a handful of fds, whatever the depth)
    for limits in ((low_soft, hard), (64, 64)):
        for existing in (False, True):
            dest = ctx.mkdtemp('dest') if existing else ctx.path('out')
            before = listing(dest)
            p = subprocess.run(
                [ctx.binary, '-C', dest, archive], capture_output=True, text=True,
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, limits),
                timeout=120)
            assert p.returncode == 5 and 'after the end' in p.stderr, (
                limits, p.returncode, p.stderr)
            assert listing(dest) == before
            _no_staging_anywhere(os.path.dirname(dest), dest)
