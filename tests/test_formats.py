"""Integration tests for every compression format: the binary on .tar.gz,
.tar.xz (single- and multi-block), .tar.zst, .tar.bz2, .tar.lz4, .tar.lzma
and .tar.Z made by the real tools (gzip, pigz, xz, zstd, bzip2, lz4,
compress), each read from a path, through a real pipe and over HTTP from
nginx on 127.0.0.1; the tree must equal GNU tar's.  Then the refusals: an
HTML page, a zip file, an empty download, a zstd window over the limit."""

import os
import shutil
import subprocess
import tarfile
import zipfile

from harness import Skip, assert_same_tree

# (suffix, command that writes the compressed tar to stdout from stdin)
FORMATS = [
    ('tar.gz', ['gzip', '-c']),
    ('pigz.tar.gz', ['pigz', '-c', '-p', '2']),
    ('tar.xz', ['xz', '-c']),
    ('mt.tar.xz', ['xz', '-c', '-T2', '--block-size=256KiB']),
    ('tar.zst', ['zstd', '-c', '-q']),
    ('tar.bz2', ['bzip2', '-c']),
    ('tar.lz4', ['lz4', '-c', '-q']),
    ('tar.lzma', ['xz', '--format=lzma', '-c']),
    ('tar.Z', ['compress', '-c']),
]

_built = {}


def _tree(ctx):
    """A tar of a small tree (text, random data, a symlink, a subdir) and
    its compressed forms in the directory nginx serves."""
    if _built:
        return _built
    src = ctx.mkdtemp('fmt-src')
    top = os.path.join(src, 'pkg')
    os.makedirs(os.path.join(top, 'bin'))
    with open(os.path.join(top, 'README'), 'w') as f:
        f.write('formats test\n' * 5000)
    rnd = bytes((i * 7919 + (i >> 5) * 31) % 251 for i in range(400000))
    with open(os.path.join(top, 'bin', 'tool'), 'wb') as f:
        f.write(rnd + os.urandom(300000))
    os.chmod(os.path.join(top, 'bin', 'tool'), 0o755)
    os.symlink('bin/tool', os.path.join(top, 'tool'))
    tar = os.path.join(ctx.fixtures, 'fmt.tar')
    subprocess.run(['tar', '-cf', tar, '-C', src, 'pkg'], check=True)
    _built['tar'] = tar
    _built['ref'] = ctx.gnu_tar_extract(tar)
    for suffix, cmd in FORMATS:
        if not shutil.which(cmd[0]):
            continue
        out = os.path.join(ctx.fixtures, 'fmt.' + suffix)
        with open(tar, 'rb') as i, open(out, 'wb') as o:
            subprocess.run(cmd, stdin=i, stdout=o, check=True)
        _built[suffix] = out
    return _built


def _check_all(ctx, how):
    b = _tree(ctx)
    missing = [s for s, cmd in FORMATS if s not in b]
    for suffix, _ in FORMATS:
        if suffix not in b:
            continue
        dest = ctx.path('out')
        path = b[suffix]
        if how == 'path':
            r = ctx.run('-C', dest, path)
        elif how == 'pipe':
            with open(path, 'rb') as f:
                r = ctx.run('-C', dest, '-', stdin=f)
        else:
            r = ctx.run('-C', dest, ctx.url(os.path.basename(path)))
        assert r.rc == 0, (suffix, how, r)
        assert_same_tree(dest, b['ref'], '%s via %s' % (suffix, how))
        ctx.assert_no_staging(os.path.dirname(dest))
    if missing:
        raise Skip('tools not installed for: ' + ', '.join(missing))


def test_every_format_from_a_path(ctx):
    _check_all(ctx, 'path')


def test_every_format_through_a_pipe(ctx):
    _check_all(ctx, 'pipe')


def test_every_format_over_http(ctx):
    _check_all(ctx, 'http')


def test_multi_block_xz_is_really_multi_block(ctx):
    b = _tree(ctx)
    if 'mt.tar.xz' not in b:
        raise Skip('xz not installed')
    p = subprocess.run(['xz', '--robot', '--list', b['mt.tar.xz']],
                       capture_output=True, text=True, check=True)
    blocks = [l for l in p.stdout.splitlines() if l.startswith('file')]
    assert int(blocks[0].split('\t')[2]) > 1, p.stdout   # several blocks
    for threads in ('1', '2'):
        dest = ctx.path('out')
        r = ctx.run('--xz-threads', threads, '-C', dest, b['mt.tar.xz'])
        assert r.rc == 0, r
        assert_same_tree(dest, b['ref'], 'threads ' + threads)


def test_list_names_the_format(ctx):
    b = _tree(ctx)
    for suffix in ('tar.zst', 'tar.Z'):
        if suffix in b:
            r = ctx.run('-t', b[suffix])
            assert r.rc == 0 and 'pkg/bin/tool' in r.out, r


def test_html_page_served_with_200(ctx):
    page = os.path.join(ctx.fixtures, 'login.tar.gz')
    with open(page, 'w') as f:
        f.write('<!DOCTYPE html>\n<html><head><title>Sign in</title></head>'
                '<body><form>...</form></body></html>\n' * 20)
    dest = ctx.path('out')
    r = ctx.run('-C', dest, ctx.url('login.tar.gz'))
    assert r.rc == 5, r
    assert 'HTML page' in r.err and '3c 21 44 4f' in r.err, r.err
    assert not os.path.exists(dest)


def test_zip_archive_is_named(ctx):
    z = os.path.join(ctx.mkdtemp('zip'), 'a.tar.gz')
    with zipfile.ZipFile(z, 'w') as zf:
        zf.writestr('hello.txt', 'hello')
    r = ctx.run('-C', ctx.path('out'), z)
    assert r.rc == 5 and 'zip archive' in r.err, r


def test_empty_download_says_0_bytes(ctx):
    open(os.path.join(ctx.fixtures, 'empty.tar.xz'), 'w').close()
    for src in (ctx.url('empty.tar.xz'), os.path.join(ctx.fixtures, 'empty.tar.xz')):
        r = ctx.run('-C', ctx.path('out'), src)
        assert r.rc == 5 and '0 bytes were received' in r.err, r


def test_zstd_window_over_the_limit_names_the_option(ctx):
    if not shutil.which('zstd'):
        raise Skip('zstd not installed')
    b = _tree(ctx)
    big = os.path.join(ctx.mkdtemp('zw'), 'big.tar.zst')
    # streamed (size unknown), so the frame declares the whole 256 MiB window
    with open(b['tar'], 'rb') as i, open(big, 'wb') as o:
        subprocess.run(['zstd', '-q', '-c', '--long=28', '--no-content-size'],
                       stdout=o, check=True, input=i.read())
    dest = ctx.path('out')
    r = ctx.run('-C', dest, big)
    assert r.rc == 6 and '--zstd-max-window' in r.err, r
    assert not os.path.exists(dest)
    r = ctx.run('--zstd-max-window', '256M', '-C', dest, big)
    assert r.rc == 0, r
    assert_same_tree(dest, b['ref'], 'zstd --long=28')


def test_truncated_and_corrupt_streams_fail_cleanly(ctx):
    b = _tree(ctx)
    for suffix in ('tar.xz', 'tar.zst', 'tar.bz2', 'tar.lz4', 'tar.lzma'):
        if suffix not in b:
            continue
        data = open(b[suffix], 'rb').read()
        cut = os.path.join(ctx.mkdtemp('cut'), 'x.' + suffix)
        with open(cut, 'wb') as f:
            f.write(data[:len(data) * 2 // 3])
        dest = ctx.path('out')
        r = ctx.run('-C', dest, cut)
        assert r.rc == 5 and 'ends early' in r.err, (suffix, r)
        assert not os.path.exists(dest)
        bad = bytearray(data)
        bad[len(bad) // 2] ^= 0x55
        with open(cut, 'wb') as f:
            f.write(bad)
        r = ctx.run('-C', dest, cut)
        assert r.rc in (4, 5), (suffix, r)
        assert not os.path.exists(dest)


def test_plain_tar_with_magic_looking_first_name(ctx):
    src = ctx.mkdtemp('magicname')
    for name in ('BZh91AY&SY', '<html>', 'PK\x03\x04'):
        with open(os.path.join(src, name), 'w') as f:
            f.write('not what it seems\n')
    t = os.path.join(ctx.mkdtemp('mt'), 'odd.tar')
    with tarfile.open(t, 'w', format=tarfile.USTAR_FORMAT) as tf:
        for name in sorted(os.listdir(src)):
            tf.add(os.path.join(src, name), arcname=name)
    dest = ctx.path('out')
    r = ctx.run('-C', dest, t)
    assert r.rc == 0, r
    assert sorted(os.listdir(dest)) == sorted(os.listdir(src))
