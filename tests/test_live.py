"""Installing into a live system (issue 7), as root on real mounts:

- merged /usr (bin -> usr/bin), with and without a directory entry for
  bin in the archive, and -C SYSROOT with an absolute bin -> /usr/bin;
- a destination symlink that leads outside: refused, naming it, nothing
  published;
- a tmpfs mounted inside the destination;
- kill -9 during staging and during the merge, then a re-run;
- two concurrent runs into one absent destination; a live run's staging
  is never touched by another run;
- the destination's own mode and mtime, --replace on / and on a mount
  point, a destination that is a symlink;
- the containment and rename fallbacks forced by tests/seccomp_launch (a
  real seccomp filter).

Archives are written with Python's tarfile."""

import io
import os
import signal
import stat
import subprocess
import tarfile
import time

from harness import Skip, snapshot


def _tar(path, members):
    """members: (name, bytes) files, (name, None) dirs, (name, int) dirs
    with that mode, (name, '->target') symlinks."""
    with tarfile.open(path, 'w', format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1600000000
            if data is None or isinstance(data, int):
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755 if data is None else data
                t.addfile(ti)
            elif isinstance(data, str):
                ti.type = tarfile.SYMTYPE
                ti.linkname = data[2:]
                t.addfile(ti)
            else:
                ti.size = len(data)
                ti.mode = 0o644
                t.addfile(ti, io.BytesIO(data))
    return path


def _need_root():
    if os.geteuid() != 0:
        raise Skip('needs root (mounts)')


def _staging(*dirs):
    return [os.path.join(d, n) for d in dirs if os.path.isdir(d)
            for n in os.listdir(d) if 'rzup' in n]


def _read(p):
    with open(p, 'rb') as f:
        return f.read()


def _merged_usr(root):
    os.makedirs(os.path.join(root, 'usr', 'bin'))
    os.makedirs(os.path.join(root, 'usr', 'lib'))
    with open(os.path.join(root, 'usr', 'bin', 'sh'), 'w') as f:
        f.write('sh\n')
    os.symlink('usr/bin', os.path.join(root, 'bin'))
    os.symlink('usr/lib', os.path.join(root, 'lib'))


# ------------------------------------------------------------ merged /usr

def test_merged_usr_with_and_without_dir_entry(ctx):
    for with_dir in (False, True):
        root = ctx.mkdtemp('usr')
        _merged_usr(root)
        members = [('bin', None)] if with_dir else []
        members += [('bin/tool', b'tool\n'), ('lib/libx.so', b'lib\n'),
                    ('bin/sub', 0o750), ('bin/sub/f', b'f\n'),
                    ('usr/share/doc', b'doc\n')]
        a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'), members)
        mode_before = stat.S_IMODE(os.stat(os.path.join(root, 'usr/bin')).st_mode)
        r = ctx.run('-C', root, a)
        assert r.rc == 0, r
        for link in ('bin', 'lib'):
            assert os.path.islink(os.path.join(root, link)), \
                '%s was replaced (dir entry: %s)' % (link, with_dir)
        assert _read(os.path.join(root, 'usr/bin/sh')) == b'sh\n'
        assert _read(os.path.join(root, 'usr/bin/tool')) == b'tool\n'
        assert _read(os.path.join(root, 'usr/lib/libx.so')) == b'lib\n'
        assert _read(os.path.join(root, 'usr/bin/sub/f')) == b'f\n'
        # a new directory below the link gets the archive's mode; the
        # link's own target keeps its mode even when the archive names bin
        assert stat.S_IMODE(os.stat(os.path.join(root, 'usr/bin/sub')).st_mode) == 0o750
        assert stat.S_IMODE(os.stat(os.path.join(root, 'usr/bin')).st_mode) == mode_before
        assert not _staging(root, os.path.dirname(root))


def test_sysroot_absolute_link_taken_in_root(ctx):
    sysroot = ctx.mkdtemp('sysroot')
    os.makedirs(os.path.join(sysroot, 'usr', 'bin'))
    os.symlink('/usr/bin', os.path.join(sysroot, 'bin'))
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
             [('bin/rzup-test-tool', b'tool\n')])
    r = ctx.run('-C', sysroot, a)
    assert r.rc == 0, r
    assert _read(os.path.join(sysroot, 'usr/bin/rzup-test-tool')) == b'tool\n'
    assert not os.path.exists('/usr/bin/rzup-test-tool'), 'wrote to the host /usr/bin'
    assert os.readlink(os.path.join(sysroot, 'bin')) == '/usr/bin'


def test_outside_symlink_refused(ctx):
    for target in ('../outside', 'OUTSIDE_ABS', 'usr/../../outside'):
        box = ctx.mkdtemp('box')
        root = os.path.join(box, 'root')
        outside = os.path.join(box, 'outside')
        os.makedirs(outside)
        _merged_usr(root)
        os.symlink(outside if target == 'OUTSIDE_ABS' else target,
                   os.path.join(root, 'opt'))
        a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
                 [('aaa', b'first\n'), ('bin/tool', b'tool\n'),
                  ('opt/x', b'pwned\n')])
        before = snapshot(root)
        r = ctx.run('-C', root, a)
        assert r.rc == 6, r
        assert 'entry: opt' in r.err and 'symlink' in r.err, r
        assert snapshot(root) == before, 'something was published'
        assert os.listdir(outside) == []
        assert not _staging(root, box)


# ------------------------------------------------------------ mounts

class _Tmpfs:
    def __init__(self, where, size='16m'):
        self.where = where
        os.makedirs(where, exist_ok=True)
        p = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=' + size,
                            'tmpfs', where], capture_output=True, text=True)
        if p.returncode != 0:
            raise Skip('cannot mount tmpfs: ' + p.stderr.strip())

    def __enter__(self):
        return self

    def __exit__(self, *a):
        subprocess.run(['umount', '-l', self.where])


def test_tmpfs_inside_destination(ctx):
    _need_root()
    root = ctx.mkdtemp('mnt')
    with open(os.path.join(root, 'keep'), 'w') as f:
        f.write('keep\n')
    with _Tmpfs(os.path.join(root, 'mnt')):
        mnt = os.path.join(root, 'mnt')
        with open(os.path.join(mnt, 'old'), 'w') as f:
            f.write('old\n')
        with open(os.path.join(mnt, 'was_file'), 'w') as f:
            f.write('file\n')
        os.makedirs(os.path.join(mnt, 'kept_dir'))
        a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
                 [('aaa', b'a\n'), ('mnt/old', b'new\n'), ('mnt/f', b'f\n'),
                  ('mnt/newdir', 0o750), ('mnt/newdir/deep/g', b'g\n'),
                  ('mnt/was_file', None), ('mnt/was_file/in', b'in\n'),
                  ('mnt/kept_dir/k', b'k\n'), ('mnt/link', '->f'),
                  ('zzz', b'z\n')])
        r = ctx.run('-C', root, a)
        assert r.rc == 0, r
        assert _read(os.path.join(mnt, 'old')) == b'new\n'
        assert _read(os.path.join(mnt, 'f')) == b'f\n'
        assert _read(os.path.join(mnt, 'newdir/deep/g')) == b'g\n'
        assert stat.S_IMODE(os.stat(os.path.join(mnt, 'newdir')).st_mode) == 0o750
        assert _read(os.path.join(mnt, 'was_file/in')) == b'in\n'
        assert _read(os.path.join(mnt, 'kept_dir/k')) == b'k\n'
        assert os.readlink(os.path.join(mnt, 'link')) == 'f'
        assert os.stat(os.path.join(mnt, 'f')).st_mtime == 1600000000
        assert _read(os.path.join(root, 'zzz')) == b'z\n'
        assert not _staging(root, mnt, os.path.dirname(root)), \
            _staging(root, mnt, os.path.dirname(root))


def test_full_mount_stops_merge_and_next_run_completes(ctx):
    _need_root()
    root = ctx.mkdtemp('full')
    with _Tmpfs(os.path.join(root, 'mnt'), size='1m'):
        mnt = os.path.join(root, 'mnt')
        a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
                 [('mnt/big', b'B' * (3 << 20)), ('mnt/small', b's\n')])
        r = ctx.run('-C', root, a)
        assert r.rc == 7 and 'stopped part-way' in r.err, r
        assert 'nothing was installed' not in r.err, r
        left = _staging(root)
        assert len(left) == 1, left
        subprocess.run(['mount', '-o', 'remount,size=8m', mnt], check=True)
        r = ctx.run('-v', '-C', root, _tar(os.path.join(ctx.mkdtemp('b'), 'b.tar'),
                                           [('x', b'x')]))
        assert r.rc == 0 and 'completed the merge' in r.err, r
        assert _read(os.path.join(mnt, 'big')) == b'B' * (3 << 20)
        assert _read(os.path.join(mnt, 'small')) == b's\n'
        assert not _staging(root, mnt), _staging(root, mnt)


# ------------------------------------------------------------ kill -9

def _wait_stopped(p, timeout=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if p.poll() is not None:
            raise AssertionError('the run ended (rc %d) before the hook' % p.returncode)
        with open('/proc/%d/stat' % p.pid) as f:
            if f.read().rsplit(')', 1)[1].split()[0] == 'T':
                return
        time.sleep(0.02)
    raise AssertionError('the run did not stop')


def test_kill9_during_merge_then_rerun(ctx):
    n = 3000
    root = ctx.mkdtemp('k9')
    _merged_usr(root)
    os.makedirs(os.path.join(root, 'd'))
    for i in range(n):
        with open(os.path.join(root, 'd', 'f%05d' % i), 'w') as f:
            f.write('old')
    members = [('d/f%05d' % i, b'new') for i in range(n)]
    members += [('bin/sub', 0o750), ('bin/sub/x', b'x'), ('e', 0o700),
                ('e/y', b'y')]
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'), members)
    env = dict(os.environ, RZUP_TEST_STOP_AFTER_RENAMES='1000')
    p = subprocess.Popen([ctx.binary, '-C', root, a], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_stopped(p)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    new = sum(_read(os.path.join(root, 'd', 'f%05d' % i)) == b'new' for i in range(n))
    assert 0 < new < n, 'the kill did not land mid-merge (%d new)' % new
    left = _staging(root)
    assert len(left) == 1 and os.path.getsize(os.path.join(left[0], 'lock')) > 0, left
    # the next run into the same destination, with another archive
    b = _tar(os.path.join(ctx.mkdtemp('b'), 'b.tar'), [('other', b'o\n')])
    r = ctx.run('-v', '-C', root, b)
    assert r.rc == 0, r
    assert 'completed the merge of a killed run' in r.err, r
    new = sum(_read(os.path.join(root, 'd', 'f%05d' % i)) == b'new' for i in range(n))
    assert new == n, '%d of %d new after the re-run' % (new, n)
    assert _read(os.path.join(root, 'usr/bin/sub/x')) == b'x'
    assert stat.S_IMODE(os.stat(os.path.join(root, 'usr/bin/sub')).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(os.path.join(root, 'e')).st_mode) == 0o700
    assert os.path.islink(os.path.join(root, 'bin'))
    assert _read(os.path.join(root, 'other')) == b'o\n'
    assert not _staging(root, os.path.dirname(root))


def test_kill9_during_merge_across_mount_then_rerun(ctx):
    _need_root()
    root = ctx.mkdtemp('k9m')
    with _Tmpfs(os.path.join(root, 'mnt')):
        n = 400
        a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
                 [('mnt/f%04d' % i, b'data%d' % i) for i in range(n)])
        env = dict(os.environ, RZUP_TEST_STOP_AFTER_RENAMES='150')
        p = subprocess.Popen([ctx.binary, '-C', root, a], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_stopped(p)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        r = ctx.run('-C', root, _tar(os.path.join(ctx.mkdtemp('b'), 'b.tar'),
                                     [('x', b'x')]))
        assert r.rc == 0, r
        for i in range(n):
            assert _read(os.path.join(root, 'mnt', 'f%04d' % i)) == b'data%d' % i
        assert not _staging(root, os.path.join(root, 'mnt')), \
            _staging(root, os.path.join(root, 'mnt'))


class _Drip:
    """A run reading the archive from a pipe we feed: stops where we stop."""

    def __init__(self, ctx, dest, archive, extra=()):
        self.data = _read(archive)
        self.p = subprocess.Popen([ctx.binary, '-C', dest] + list(extra) + ['-'],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        self.p.stdin.write(self.data[:len(self.data) // 2])
        self.p.stdin.flush()

    def finish(self):
        self.p.stdin.write(self.data[len(self.data) // 2:])
        self.p.stdin.close()
        return self.p.wait(30), self.p.stderr.read().decode()


def _wait_staging(dirs, timeout=10):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        left = _staging(*dirs)
        if left and all(os.path.exists(os.path.join(x, 'lock')) for x in left):
            return left
        time.sleep(0.02)
    raise AssertionError('no staging appeared in %s' % (dirs,))


def test_kill9_during_staging_then_rerun(ctx):
    big = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
               [('f%04d' % i, b'x' * 2000) for i in range(600)])
    small = _tar(os.path.join(ctx.mkdtemp('b'), 'b.tar'), [('s', b's\n')])
    for mode in ('absent', 'merge', 'replace'):
        parent = ctx.mkdtemp('k9s')
        dest = os.path.join(parent, 'dest')
        if mode != 'absent':
            os.makedirs(dest)
            with open(os.path.join(dest, 'keep'), 'w') as f:
                f.write('keep\n')
        before = snapshot(parent)
        d = _Drip(ctx, dest, big, ['--replace'] if mode == 'replace' else [])
        left = _wait_staging([parent, dest])
        os.kill(d.p.pid, signal.SIGKILL)
        d.p.wait()
        assert _staging(parent, dest) == left
        view = snapshot(parent)
        for k in list(view):
            if 'rzup' in k:
                del view[k]
        if mode == 'merge':     # the staging dir inside changed its mtime
            view['dest']['mtime'] = before['dest']['mtime']
        assert view == before, '%s: the destination changed before the commit' % mode
        # the next run removes the staging (and puts dest's mtime back)
        r = ctx.run('-C', dest, small)
        assert r.rc == 0, r
        assert _read(os.path.join(dest, 's')) == b's\n'
        assert not _staging(parent, dest), (mode, _staging(parent, dest))
        if mode == 'merge':
            assert os.stat(dest).st_mtime_ns == before['dest']['mtime']


# ------------------------------------------------------------ concurrency

def test_two_runs_into_absent_destination(ctx):
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
             [('d%d/f%d' % (i % 20, i), b'x' * 300) for i in range(1500)]
             + [('top', 0o750)])
    for trial in range(2):
        parent = ctx.mkdtemp('two')
        dest = os.path.join(parent, 'dest')
        ps = [subprocess.Popen([ctx.binary, '-v', '-C', dest, a],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
              for _ in range(2)]
        res = [(p.wait(60), p.stderr.read().decode()) for p in ps]
        assert all(rc == 0 for rc, _ in res), res
        files = sum(len(f) for _, _, f in os.walk(dest))
        assert files == 1500, files
        assert stat.S_IMODE(os.stat(os.path.join(dest, 'top')).st_mode) == 0o750
        assert not _staging(parent, dest), _staging(parent, dest)


def test_live_staging_is_never_touched(ctx):
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
             [('f%04d' % i, b'y' * 2000) for i in range(400)])
    b = _tar(os.path.join(ctx.mkdtemp('b'), 'b.tar'), [('other', b'o\n')])
    for mode in ('absent', 'merge'):
        parent = ctx.mkdtemp('live')
        dest = os.path.join(parent, 'dest')
        if mode == 'merge':
            os.makedirs(dest)
        d = _Drip(ctx, dest, a)
        left = _wait_staging([parent, dest])
        r = ctx.run('-v', '-C', dest, b)       # runs while the first lives
        assert r.rc == 0, r
        assert _staging(parent, dest) == left, 'a live staging was touched'
        rc, err = d.finish()
        assert rc == 0, err
        assert _read(os.path.join(dest, 'other')) == b'o\n'
        assert len(os.listdir(dest)) == 401
        assert not _staging(parent, dest)


# ------------------------------------------------------------ metadata

def test_destination_keeps_its_mode_and_mtime(ctx):
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'), [('.', 0o700), ('f', b'f\n')])
    dest = ctx.mkdtemp('meta')
    os.chmod(dest, 0o751)
    os.utime(dest, (1000000000, 1000000000))
    r = ctx.run('-C', dest, a)
    assert r.rc == 0, r
    st = os.stat(dest)
    assert stat.S_IMODE(st.st_mode) == 0o751, oct(st.st_mode)
    assert st.st_mtime == 1000000000, st.st_mtime
    fresh = ctx.path('fresh')
    r = ctx.run('-C', fresh, a)
    assert r.rc == 0, r
    st = os.stat(fresh)
    assert stat.S_IMODE(st.st_mode) == 0o700 and st.st_mtime == 1600000000


def test_replace_refuses_root_and_mount_points(ctx):
    _need_root()
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'), [('f', b'f\n')])
    r = ctx.run('--replace', '-C', '/', a)
    assert r.rc == 7 and 'root directory' in r.err and 'drop --replace' in r.err, r
    root = ctx.mkdtemp('mp')
    with _Tmpfs(os.path.join(root, 'mnt')):
        mnt = os.path.join(root, 'mnt')
        with open(os.path.join(mnt, 'old'), 'w') as f:
            f.write('old\n')
        before = snapshot(root)
        r = ctx.run('--replace', '-C', mnt, a)
        assert r.rc == 7 and 'mount point' in r.err, r
        assert snapshot(root) == before
        assert not _staging(root)
        r = ctx.run('-C', mnt, a)              # merging into it works
        assert r.rc == 0, r


def test_destination_symlink_same_in_every_mode(ctx):
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'), [('f', b'new\n')])
    for mode in ('merge', 'replace'):
        box = ctx.mkdtemp('dl')
        real = os.path.join(box, 'real')
        os.makedirs(real)
        with open(os.path.join(real, 'old'), 'w') as f:
            f.write('old\n')
        link = os.path.join(box, 'link')
        os.symlink('real', link)
        r = ctx.run('-C', link, a, *(['--replace'] if mode == 'replace' else []))
        assert r.rc == 0, r
        assert os.readlink(link) == 'real', '%s replaced the link' % mode
        assert _read(os.path.join(real, 'f')) == b'new\n'
        assert os.path.exists(os.path.join(real, 'old')) == (mode == 'merge')
        assert not _staging(box, real)
    for extra in ([], ['--replace']):
        box = ctx.mkdtemp('dang')
        os.symlink('nowhere', os.path.join(box, 'link'))
        r = ctx.run('-C', os.path.join(box, 'link'), a, *extra)
        assert r.rc == 7 and 'symlink' in r.err, r
        assert sorted(os.listdir(box)) == ['link']


# ------------------------------------------------------------ seccomp

def launcher(ctx):
    exe = os.path.join(ctx.builddir, 'tests', 'seccomp_launch')
    if not os.path.exists(exe):
        raise AssertionError('tests/seccomp_launch is not built')
    return exe


def _launch(ctx, mode, *args):
    p = subprocess.run([launcher(ctx), mode, ctx.binary] + list(args),
                       capture_output=True, timeout=60)
    return p.returncode, p.stderr.decode('utf-8', 'replace')


def test_seccomp_openat2_fallback(ctx):
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
             [('sub/deep/f', b'f\n'), ('sub/l', '->deep/f'), ('d', 0o700)])
    for mode, why in (('openat2-enosys', 'Function not implemented'),
                      ('openat2-eperm', 'Operation not permitted')):
        dest = ctx.path('sc')
        rc, err = _launch(ctx, mode, '-v', '-C', dest, a)
        assert rc == 0, err
        assert 'checked openat(O_NOFOLLOW) walk' in err and why in err, err
        assert _read(os.path.join(dest, 'sub/deep/f')) == b'f\n'
        root = ctx.mkdtemp('scm')
        _merged_usr(root)
        b = _tar(os.path.join(ctx.mkdtemp('b'), 'b.tar'), [('bin/tool', b't\n')])
        rc, err = _launch(ctx, mode, '-C', root, b)
        assert rc == 0, err
        assert _read(os.path.join(root, 'usr/bin/tool')) == b't\n'
    rc, err = ctx.run('-v', '-C', ctx.path('plain'), a).rc, ctx.run(
        '-v', '-C', ctx.path('plain2'), a).err
    assert rc == 0 and 'containment: openat2' in err, err


def test_merge_syncs_only_over_existing_entries(ctx):
    # syncfs fails under the filter, so whether a run calls it shows.  A
    # merge that replaces or merges into what DIR holds must sync the staged
    # tree before its commit (and stop, DIR untouched, when that fails); a
    # merge into an empty DIR replaces nothing, publishes like a rename, and
    # needs no sync (it cost half of a toolchain.tar run).
    m = 'syncfs-eio'
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
             [('top/f', b'new\n'), ('g', b'g\n')])
    empty = ctx.mkdtemp('se')
    rc, err = _launch(ctx, m, '-C', empty, a)
    assert rc == 0, err
    assert _read(os.path.join(empty, 'top/f')) == b'new\n'
    assert not _staging(empty)
    full = ctx.mkdtemp('sf')
    os.mkdir(os.path.join(full, 'top'))
    with open(os.path.join(full, 'top/f'), 'w') as f:
        f.write('old\n')
    rc, err = _launch(ctx, m, '-C', full, a)
    assert rc == 7 and 'Input/output error' in err, (rc, err)
    assert _read(os.path.join(full, 'top/f')) == b'old\n'
    assert sorted(os.listdir(full)) == ['top'], os.listdir(full)
    rc, err = _launch(ctx, 'openat2-enosys', '-C', full, a)   # no filter on syncfs
    assert rc == 0, err
    assert _read(os.path.join(full, 'top/f')) == b'new\n'


def test_seccomp_renameat2_fallback(ctx):
    m = 'renameat2-einval'
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'),
             [('x/y/z/f', b'f\n'), ('was_file', None), ('was_file/in', b'i\n'),
              ('new', b'n\n')])
    # publish into an absent destination
    parent = ctx.mkdtemp('rn')
    rc, err = _launch(ctx, m, '-v', '-C', os.path.join(parent, 'dest'), a)
    assert rc == 0, err
    assert 'check-then-rename' in err, err
    assert sorted(os.listdir(parent)) == ['dest']
    # merge (a directory over a file, a directory where none was)
    dest = ctx.mkdtemp('rnm')
    with open(os.path.join(dest, 'was_file'), 'w') as f:
        f.write('file\n')
    rc, err = _launch(ctx, m, '-C', dest, a)
    assert rc == 0, err
    assert _read(os.path.join(dest, 'was_file/in')) == b'i\n'
    assert not _staging(dest)
    # --replace
    parent = ctx.mkdtemp('rnr')
    os.makedirs(os.path.join(parent, 'dest', 'old'))
    rc, err = _launch(ctx, m, '--replace', '-C', os.path.join(parent, 'dest'), a)
    assert rc == 0, err
    assert sorted(os.listdir(os.path.join(parent, 'dest'))) == ['new', 'was_file', 'x']
    assert sorted(os.listdir(parent)) == ['dest']
    # cleanup after a failure: a deep staged tree is removed, as said
    bad = os.path.join(ctx.mkdtemp('bad'), 'bad.tar')
    data = open(_tar(bad + '.ok', [('a/b/c/d/e/f', b'f' * 5000)]), 'rb').read()
    with open(bad, 'wb') as f:
        f.write(data[:2048])
    for mode in ('absent', 'merge', 'replace'):
        parent = ctx.mkdtemp('rnc')
        dest = os.path.join(parent, 'dest')
        if mode != 'absent':
            os.makedirs(dest)
        rc, err = _launch(ctx, m, '-C', dest, bad,
                          *(['--replace'] if mode == 'replace' else []))
        assert rc == 5, err
        assert 'could not remove' not in err, err
        assert not _staging(parent, dest), (mode, _staging(parent, dest))


def test_kill9_between_the_two_renames_of_replace_fallback(ctx):
    """--replace without RENAME_EXCHANGE: killed when the old tree has
    moved aside and the new one not yet in place; the next run (even
    without the seccomp filter or --replace) puts the new tree there."""
    a = _tar(os.path.join(ctx.mkdtemp('a'), 'a.tar'), [('new', b'n\n')])
    parent = ctx.mkdtemp('rk')
    dest = os.path.join(parent, 'dest')
    os.makedirs(os.path.join(dest, 'old'))
    env = dict(os.environ, RZUP_TEST_STOP_AFTER_RENAMES='1')
    p = subprocess.Popen([launcher(ctx), 'renameat2-einval', ctx.binary,
                          '--replace', '-C', dest, a], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_stopped(p)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert not os.path.exists(dest), 'not killed between the renames'
    r = ctx.run('-v', '-C', dest, _tar(os.path.join(ctx.mkdtemp('b'), 'b.tar'),
                                       [('more', b'm\n')]))
    assert r.rc == 0 and 'published the tree a killed run had committed' in r.err, r
    assert sorted(os.listdir(dest)) == ['more', 'new'], os.listdir(dest)
    assert not _staging(parent, dest), _staging(parent, dest)
