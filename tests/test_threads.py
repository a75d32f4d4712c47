"""--threads: writer threads create the same tree as one thread, and report
the same failure, the first in archive order, whichever thread met it.

Archives are made with Python's tarfile.  Each failing case is run many
times under each thread count: a wrong answer would show as a flake here.
"""
import io
import os
import tarfile

COUNTS = ['1', '2', '4', '8']
REPEAT = 8


def _add(tf, name, data=b'', kind=tarfile.REGTYPE, link=''):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mtime = 1600000000
    ti.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    ti.linkname = link
    if kind == tarfile.REGTYPE:
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    else:
        tf.addfile(ti)


def _archive(ctx, name, last, pos, first_dir='x'):
    """Entry 2 fails (a file over the directory of entry 1), as does entry
    `pos` (`last`: 'file' over a directory, 'link' leaving the tree, 'cut':
    the archive ends inside it)."""
    path = os.path.join(ctx.mkdtemp('thr'), name)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w', format=tarfile.GNU_FORMAT) as tf:
        _add(tf, first_dir, kind=tarfile.DIRTYPE)
        _add(tf, 'x', b'entry two\n')                    # entry 2: fails
        for i in range(3, pos - 1):
            _add(tf, 'f/%03d/n%d' % (i % 7, i), b'%d\n' % i * (i % 50))
        _add(tf, 'f/z' if last == 'link' else 'y', kind=tarfile.DIRTYPE)
        cut = buf.tell() + 512 + 100
        if last == 'link':
            _add(tf, 'z', kind=tarfile.SYMTYPE, link='../../outside')
        else:
            _add(tf, 'yy' if last == 'cut' else 'y',
                 b'entry %d\n' % pos * 100)                # entry pos
    data = buf.getvalue()
    if last == 'cut':
        data = data[:cut]
    with open(path, 'wb') as f:
        f.write(data)
    return path


def _check_first(ctx, last):
    for pos in (500, 6):
        arc = _archive(ctx, 'a.tar', last, pos)
        for n in COUNTS:
            for _ in range(REPEAT):
                parent = ctx.mkdtemp('p')
                dest = os.path.join(parent, 'out')
                r = ctx.run('--threads', n, '-C', dest, arc)
                assert r.rc == 6, (pos, n, r)
                assert 'entry: x\n' in r.err or r.err.rstrip().endswith('entry: x'), (pos, n, r)
                assert 'entry: y' not in r.err and 'entry: z' not in r.err, (pos, n, r)
                assert os.listdir(parent) == [], (n, os.listdir(parent))


def test_first_failure_in_archive_order_later_file_fails_too(ctx):
    _check_first(ctx, 'file')


def test_first_failure_in_archive_order_later_link_refused(ctx):
    _check_first(ctx, 'link')


def test_first_failure_in_archive_order_archive_cut_later(ctx):
    _check_first(ctx, 'cut')


def test_later_failures_alone_are_reported(ctx):
    """Without the failure of entry 2 (its directory renamed), each later
    failure is reported for its own entry: the cases above do fail there."""
    for last, rc, name in (('file', 6, 'y'), ('link', 6, 'z'), ('cut', 5, 'yy')):
        arc = _archive(ctx, 'b.tar', last, 6, first_dir='w')
        for n in COUNTS:
            r = ctx.run('--threads', n, '-C', ctx.path('out'), arc)
            assert r.rc == rc, (last, n, r)
            if name:
                assert 'entry: ' + name in r.err, (last, n, r)
            assert 'entry: x' not in r.err, (last, n, r)


def _tree(root):
    out = []
    for d, dirs, files in os.walk(root):
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            body = os.readlink(p) if os.path.islink(p) else (
                open(p, 'rb').read() if os.path.isfile(p) else b'')
            out.append((rel, st.st_mode, st.st_mtime_ns, st.st_nlink, body))
    return sorted(out)


def test_same_tree_for_every_thread_count(ctx):
    """Duplicates (the last wins), a file replaced by a directory's entry
    and back, hardlinks to files just written, a directory named after
    its children (mode and mtime applied at the end), small and large
    files, an empty file."""
    arc = os.path.join(ctx.mkdtemp('thr'), 't.tar')
    with tarfile.open(arc, 'w', format=tarfile.PAX_FORMAT) as tf:
        for i in range(300):
            _add(tf, 'd%d/f%d' % (i % 5, i), b'v1 %d\n' % i * (i % 40))
            if i % 10 == 0:
                _add(tf, 'd%d/f%d' % (i % 5, i), b'v2 %d\n' % i)   # dup
            if i % 13 == 0:
                _add(tf, 'h%d' % i, kind=tarfile.LNKTYPE,
                     link='d%d/f%d' % (i % 5, i))
        _add(tf, 'big', os.urandom(300000))
        _add(tf, 'empty', b'')
        _add(tf, 's', kind=tarfile.SYMTYPE, link='d1/f1')
        for i in range(5):
            ti = tarfile.TarInfo('d%d' % i)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o750
            ti.mtime = 1500000000 + i
            tf.addfile(ti)
    trees = {}
    for n in COUNTS:
        dest = ctx.path('out')
        r = ctx.run('--threads', n, '-C', dest, arc)
        assert r.rc == 0, (n, r)
        trees[n] = _tree(dest)
    for n in COUNTS[1:]:
        assert trees[n] == trees['1'], n
    assert any(t[0] == 'd0/f0' and t[4] == b'v2 0\n' for t in trees['1'])


def test_threads_option_values(ctx):
    arc = os.path.join(ctx.mkdtemp('thr'), 'o.tar')
    with tarfile.open(arc, 'w') as tf:
        _add(tf, 'a', b'a\n')
    for bad in ['0', '17', 'x', '']:
        r = ctx.run('--threads', bad, '-C', ctx.path('o'), arc)
        assert r.rc == 2 and '--threads' in r.err, (bad, r)
    for good in ['auto', '1', '16']:
        dest = ctx.path('o')
        r = ctx.run('--threads', good, '-C', dest, arc)
        assert r.rc == 0 and open(os.path.join(dest, 'a')).read() == 'a\n', r


def test_limits_count_per_file_and_in_total_with_threads(ctx):
    """--max-file-size is per file and --max-size over all, whichever
    thread writes the file (the reader counts the bytes it hands over)."""
    arc = os.path.join(ctx.mkdtemp('thr'), 'l.tar')
    with tarfile.open(arc, 'w') as tf:
        for i in range(40):
            _add(tf, 'f%02d' % i, b'x' * 600)
    for n in COUNTS:
        dest = ctx.path('out')
        r = ctx.run('--threads', n, '--max-file-size', '1000', '-C', dest, arc)
        assert r.rc == 0 and len(os.listdir(dest)) == 40, (n, r)
        r = ctx.run('--threads', n, '--max-size', '6000', '-C', ctx.path('o'), arc)
        assert r.rc == 6 and 'entry: f10' in r.err, (n, r)
