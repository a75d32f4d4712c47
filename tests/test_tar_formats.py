"""Integration tests of tar as other implementations write it (issue 8
section 2, issue 12): sparse files from GNU tar in every sparse format, a
file over 8 GiB, the end of archive with and without proof of completeness,
-i, --xattrs, header-only entries that declare a size, and ambiguous
archives refused with nothing published.

Archives are made here by GNU tar, or by a small writer for headers GNU tar
will not write.  Nothing is downloaded except from nginx on 127.0.0.1."""

import gzip
import hashlib
import os
import subprocess
import tarfile

from harness import Skip

MIB = 1 << 20


# ------------------------------------------------------------ writer

def _octal(n, width):
    return (b'%0*o' % (width - 1, n)) + b'\0'


def _header(name, typeflag=b'0', size=0, link=b''):
    b = bytearray(512)
    b[0:len(name)] = name
    b[100:108] = _octal(0o644, 8)
    b[108:116] = _octal(1000, 8)
    b[116:124] = _octal(1000, 8)
    b[124:136] = _octal(size, 12)
    b[136:148] = _octal(1700000000, 12)
    b[156:157] = typeflag
    b[157:157 + len(link)] = link
    b[257:265] = b'ustar\x0000'
    b[148:156] = b' ' * 8
    b[148:156] = b'%06o\0 ' % sum(b)
    return bytes(b)


def _data(d):
    return d + b'\0' * (-len(d) % 512)


def _member(name, data=b'', typeflag=b'0', size=None, link=b''):
    return _header(name, typeflag, len(data) if size is None else size,
                   link) + _data(data)


def _pax(records):
    body = b''
    for k, v in records:
        rec = b' ' + k + b'=' + v + b'\n'
        n = len(rec)
        while len(b'%d' % n) + len(rec) != n:
            n = len(b'%d' % n) + len(rec)
        body += b'%d' % n + rec
    return _member(b'PaxHeader/x', body, b'x')


EOA = b'\0' * 1024


def _write(ctx, name, data):
    path = os.path.join(ctx.mkdtemp('arch'), name)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def _tmpfs(ctx, size='64m'):
    """A fresh tmpfs (so a file that does not get real holes fills it)."""
    if os.geteuid() != 0:
        raise Skip('needs root to mount a tmpfs')
    d = ctx.mkdtemp('tmpfs')
    r = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=' + size,
                        'tmpfs', d], capture_output=True)
    if r.returncode != 0:
        raise Skip('cannot mount a tmpfs: %s' % r.stderr.decode())
    return d


def _umount(d):
    subprocess.run(['umount', '-l', d], check=False)


def _sparse_source(path, size, pieces):
    with open(path, 'wb') as f:
        f.truncate(size)
        for off, data in pieces:
            f.seek(off)
            f.write(data)


def _digest(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(MIB), b''):
            h.update(chunk)
    return h.hexdigest()


SPARSE_FORMATS = [
    ('gnu', ['--format=gnu']),
    ('pax00', ['--format=pax', '--sparse-version=0.0']),
    ('pax01', ['--format=pax', '--sparse-version=0.1']),
    ('pax10', ['--format=pax', '--sparse-version=1.0']),
]


# ------------------------------------------------------------ sparse

def test_gnu_sparse_formats_extract_with_holes(ctx):
    src = ctx.mkdtemp('src')
    pieces = [(0, b'head'), (3 * MIB + 17, b'middle' * 1000), (40 * MIB - 3, b'end')]
    _sparse_source(os.path.join(src, 'disk.img'), 40 * MIB, pieces)
    want = _digest(os.path.join(src, 'disk.img'))
    for name, fmt in SPARSE_FORMATS:
        arch = os.path.join(ctx.mkdtemp('arch'), name + '.tar')
        subprocess.run(['tar', '-S', '-cf', arch, '-C', src, 'disk.img'] + fmt,
                       check=True)
        assert os.path.getsize(arch) < MIB, (name, os.path.getsize(arch))
        # -t shows the real name, never GNUSparseFile.N/...
        r = ctx.run('-t', arch)
        assert r.rc == 0 and r.out.splitlines() == ['disk.img'], (name, r)
        r = ctx.run('-tv', arch)
        assert ' %d ' % (40 * MIB) in r.out, (name, r.out)
        dest = ctx.path('out')
        r = ctx.run('-C', dest, arch)
        assert r.rc == 0, (name, r)
        out = os.path.join(dest, 'disk.img')
        assert os.listdir(dest) == ['disk.img'], (name, os.listdir(dest))
        assert os.path.getsize(out) == 40 * MIB, name
        assert _digest(out) == want, name
        # real holes: far fewer blocks than the size
        assert os.stat(out).st_blocks * 512 < 4 * MIB, (name, os.stat(out).st_blocks)


def test_sparse_expanded_size_counts_towards_limits(ctx):
    src = ctx.mkdtemp('src')
    _sparse_source(os.path.join(src, 's'), 20 * MIB, [(10 * MIB, b'x' * 100)])
    for name, fmt in SPARSE_FORMATS:
        arch = os.path.join(ctx.mkdtemp('arch'), name + '.tar')
        subprocess.run(['tar', '-S', '-cf', arch, '-C', src, 's'] + fmt, check=True)
        for opt in ('--max-size=10M', '--max-file-size=10M'):
            dest = ctx.path('out')
            r = ctx.run('-C', dest, opt, arch)
            assert r.rc == 6, (name, opt, r)
            assert not os.path.exists(dest), (name, opt)
        r = ctx.run('-C', ctx.path('out'), '--max-file-size=20M', arch)
        assert r.rc == 0, (name, r)


def test_sparse_absurd_map_fails_fast(ctx):
    # a pax 1.0 map declaring 10^15 chunks: refused on its first line
    body = b'1000000000000000\n'
    arch = _write(ctx, 'absurd.tar', _pax([
        (b'GNU.sparse.major', b'1'), (b'GNU.sparse.minor', b'0'),
        (b'GNU.sparse.name', b'f'), (b'GNU.sparse.realsize', b'%d' % (1 << 60))])
        + _member(b'GNUSparseFile.0/f', body) + EOA)
    dest = ctx.path('out')
    r = ctx.run('-C', dest, arch)
    assert r.rc == 5 and 'sparse' in r.err and '65536' in r.err, r
    assert not os.path.exists(dest)


def test_file_over_8_gib_round_trips(ctx):
    """9 GiB apparent size on a 64 MiB tmpfs: only real holes fit."""
    fs = _tmpfs(ctx)
    try:
        src = os.path.join(fs, 'src')
        os.makedirs(src)
        size = 9 * (1 << 30) + 12345
        _sparse_source(os.path.join(src, 'big'), size,
                       [(5, b'start'), (8 * (1 << 30) + 1, b'past 8 GiB'),
                        (size - 4, b'tail')])
        for name, fmt in SPARSE_FORMATS:
            arch = os.path.join(fs, name + '.tar')
            subprocess.run(['tar', '-S', '-cf', arch, '-C', src, 'big'] + fmt,
                           check=True)
            dest = os.path.join(fs, 'out-' + name)
            r = ctx.run('-C', dest, arch)
            assert r.rc == 0, (name, r)
            out = os.path.join(dest, 'big')
            assert os.path.getsize(out) == size, name
            with open(out, 'rb') as f:
                f.seek(8 * (1 << 30) + 1)
                assert f.read(10) == b'past 8 GiB', name
                f.seek(size - 4)
                assert f.read() == b'tail', name
            r = ctx.run('-tv', arch)
            assert ' %d ' % size in r.out, (name, r.out)
            os.unlink(out)
            os.unlink(arch)
    finally:
        _umount(fs)


# ------------------------------------------------------------ end of archive

def _no_eoa_tar(ctx):
    return _member(b'a', b'hello\n') + _member(b'b', b'world\n')


def test_missing_end_blocks_on_a_pipe_refused_without_claiming_truncation(ctx):
    for data in (_no_eoa_tar(ctx), _no_eoa_tar(ctx) + b'\0' * 512):
        dest = ctx.path('out')
        r = ctx.run('-C', dest, '-', input=data)
        assert r.rc == 5, r
        assert 'ended cleanly' in r.err, r.err
        assert 'truncated' not in r.err and 'cut short' in r.err, r.err
        assert not os.path.exists(dest)
        r = ctx.run('-C', dest, '--no-strict-trailer', '-', input=data)
        assert r.rc == 0, r
        assert 'warning' in r.err and '--no-strict-trailer' in r.err, r.err
        with open(os.path.join(dest, 'b'), 'rb') as f:
            assert f.read() == b'world\n'


def test_missing_end_blocks_accepted_when_the_outer_layer_proves_completeness(ctx):
    data = _no_eoa_tar(ctx)
    # a gzip trailer (CRC and length) was checked
    dest = ctx.path('out')
    r = ctx.run('-C', dest, '-', input=gzip.compress(data))
    assert r.rc == 0, r
    assert 'warning' in r.err and 'proven complete' in r.err, r.err
    assert sorted(os.listdir(dest)) == ['a', 'b']
    # a cut gzip stream is still an error (the decoder's)
    r = ctx.run('-C', ctx.path('out'), '-', input=gzip.compress(data)[:-9])
    assert r.rc != 0, r
    # HTTP delivered all of Content-Length
    name = 'tarformats-no-eoa.tar'
    with open(ctx.fixture(name), 'wb') as f:
        f.write(data)
    try:
        dest = ctx.path('out')
        r = ctx.run('-C', dest, ctx.url(name))
        assert r.rc == 0, r
        assert 'proven complete' in r.err, r.err
        assert sorted(os.listdir(dest)) == ['a', 'b']
    finally:
        os.unlink(ctx.fixture(name))


def test_ignore_zeros_reads_concatenated_archives(ctx):
    one = _member(b'one', b'1\n') + EOA + b'\0' * 8192
    two = _member(b'two', b'2\n') + EOA
    arch = _write(ctx, 'cat.tar', one + two)
    want = subprocess.run(['tar', '-itf', arch], capture_output=True,
                          text=True, check=True).stdout.split()
    assert want == ['one', 'two'], want
    for flag in ('-i', '--ignore-zeros'):
        dest = ctx.path('out')
        r = ctx.run('-C', dest, flag, arch)
        assert r.rc == 0, r
        assert sorted(os.listdir(dest)) == want
    r = ctx.run('-C', ctx.path('out'), arch)
    assert r.rc == 5 and 'after the end' in r.err, r


# ------------------------------------------------------------ entries

def test_header_only_entry_with_a_size_hides_nothing(ctx):
    hidden = _member(b'hidden', b'now you see me\n')          # 1024 bytes
    for tf, name, link in ((b'5', b'd/', b''), (b'2', b'l', b'target'),
                           (b'1', b'h', b'f'), (b'6', b'p', b'')):
        pre = _member(b'f', b'x\n') if tf == b'1' else b''
        arch = _write(ctx, 'ho.tar', pre + _header(name, tf, 1024, link)
                      + hidden + EOA)
        dest = ctx.path('out')
        r = ctx.run('-C', dest, arch)
        assert r.rc == 0, (tf, r)
        ref = ctx.gnu_tar_extract(arch)
        assert os.path.exists(os.path.join(ref, 'hidden')), tf
        with open(os.path.join(dest, 'hidden'), 'rb') as f:
            assert f.read() == b'now you see me\n', tf


def test_metadata_members_are_not_entries(ctx):
    arch = _write(ctx, 'meta.tar',
                  _member(b'label', b'', b'V')
                  + _member(b'f', b'user::rw-\0', b'A')
                  + _member(b'f', b'data\n')
                  + _member(b'dumpdir', b'Nx\0\0', b'D') + EOA)
    r = ctx.run('-t', arch)
    assert r.rc == 0 and r.out.split() == ['f', 'dumpdir'], r
    dest = ctx.path('out')
    r = ctx.run('-C', dest, arch)
    assert r.rc == 0 and 'Solaris ACL' in r.err, r
    assert os.path.isdir(os.path.join(dest, 'dumpdir'))


def test_xattrs_only_with_the_flag_and_only_user(ctx):
    arch = _write(ctx, 'xa.tar', _pax([
        (b'SCHILY.xattr.user.comment', b'hi\0there'),
        (b'SCHILY.xattr.security.capability', b'\x01\x02'),
        (b'SCHILY.xattr.trusted.x', b'y')]) + _member(b'f', b'data\n') + EOA)
    dest = ctx.path('out')
    r = ctx.run('-C', dest, arch)
    assert r.rc == 0, r
    assert os.listxattr(os.path.join(dest, 'f')) == []
    dest = ctx.path('out')
    r = ctx.run('-C', dest, '--xattrs', arch)
    assert r.rc == 0, r
    f = os.path.join(dest, 'f')
    assert os.getxattr(f, 'user.comment') == b'hi\0there'
    assert [n for n in os.listxattr(f) if not n.startswith('user.')] == []
    assert 'security.capability' in r.err, r.err


def test_pre_1970_mtime(ctx):
    src = ctx.mkdtemp('src')
    p = os.path.join(src, 'old')
    with open(p, 'w') as f:
        f.write('old\n')
    os.utime(p, (-86400 * 365, -86400 * 365))
    for fmt in ('gnu', 'pax'):
        arch = os.path.join(ctx.mkdtemp('arch'), fmt + '.tar')
        subprocess.run(['tar', '--format=' + fmt, '-cf', arch, '-C', src, 'old'],
                       check=True)
        dest = ctx.path('out')
        r = ctx.run('-C', dest, arch)
        assert r.rc == 0, (fmt, r)
        assert os.stat(os.path.join(dest, 'old')).st_mtime == -86400 * 365, fmt


# ------------------------------------------------------------ ambiguity

def test_ambiguous_archives_exit_5_and_publish_nothing(ctx):
    smuggle = (_pax([(b'size', b'4')]) + _pax([])
               + _header(b'outer', b'0', 1028) + b'abcd' + b'\0' * 508
               + _member(b'smuggled', b'evil\n') + EOA)
    long_vs_pax = (_member(b'././@LongLink', b'gnu-name\0', b'L')
                   + _pax([(b'path', b'pax-name')]) + _member(b'hdr') + EOA)
    glob = _pax([(b'path', b'glob')])
    glob = glob[:156] + b'g' + glob[157:]           # the same, as global
    glob = bytearray(glob)
    glob[148:156] = b' ' * 8
    glob[148:156] = b'%06o\0 ' % sum(glob[:512])
    glob = bytes(glob) + _member(b'f') + EOA
    prefix = bytearray(_header(b'f'))
    prefix[257:265] = b'ustarX00'
    prefix[345:348] = b'pre'
    prefix[148:156] = b' ' * 8
    prefix[148:156] = b'%06o\0 ' % sum(prefix)
    cases = [
        (smuggle, 'two pax extended headers in a row'),
        (long_vs_pax, 'GNU long name and pax path disagree'),
        (glob, 'global header sets path'),
        (bytes(prefix) + EOA, 'ustar magic with a bad version and a prefix'),
    ]
    for data, msg in cases:
        dest = ctx.path('out')
        r = ctx.run('-C', dest, '-', input=data)
        assert r.rc == 5, (msg, r)
        assert msg in r.err and 'disagree' in r.err, (msg, r.err)
        assert not os.path.exists(dest), msg
        r = ctx.run('-t', '-', input=data)
        assert r.rc == 5, (msg, r)


def test_python_tarfile_pax_and_gnu_still_read(ctx):
    """Long names in both formats, the way Python writes them."""
    src = ctx.mkdtemp('src')
    deep = os.path.join(src, 'a' * 120, 'b' * 120)
    os.makedirs(deep)
    with open(os.path.join(deep, 'f' * 150), 'w') as f:
        f.write('x\n')
    os.symlink('f' * 150, os.path.join(deep, 'l' * 120))
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        arch = os.path.join(ctx.mkdtemp('arch'), 'py.tar')
        with tarfile.open(arch, 'w', format=fmt) as t:
            t.add(src, arcname='top')
        dest = ctx.path('out')
        r = ctx.run('-C', dest, arch)
        assert r.rc == 0, (fmt, r)
        got = os.path.join(dest, 'top', 'a' * 120, 'b' * 120)
        assert os.readlink(os.path.join(got, 'l' * 120)) == 'f' * 150


def test_git_archive_global_comment_reads(ctx):
    """git archive starts with a global header holding only a comment."""
    if subprocess.run(['git', '--version'], capture_output=True).returncode:
        raise Skip('git is not installed')
    repo = ctx.mkdtemp('repo')
    with open(os.path.join(repo, 'f'), 'w') as f:
        f.write('tracked\n')
    env = dict(os.environ, GIT_AUTHOR_NAME='n', GIT_AUTHOR_EMAIL='n@x',
               GIT_COMMITTER_NAME='n', GIT_COMMITTER_EMAIL='n@x')
    for cmd in (['init', '-q'], ['add', 'f'], ['commit', '-qm', 'm']):
        subprocess.run(['git', '-C', repo] + cmd, check=True, env=env)
    arch = os.path.join(ctx.mkdtemp('arch'), 'git.tar')
    with open(arch, 'wb') as out:
        subprocess.run(['git', '-C', repo, 'archive', '--format=tar',
                        '--prefix=top/', 'HEAD'], stdout=out, check=True)
    with open(arch, 'rb') as f:
        assert f.read(512)[156:157] == b'g'
    dest = ctx.path('out')
    r = ctx.run('-C', dest, arch)
    assert r.rc == 0, r
    with open(os.path.join(dest, 'top', 'f')) as f:
        assert f.read() == 'tracked\n'
