#!/usr/bin/env python3
"""Build the conformance fixtures: one source tree, archived by several
independent tar writers.

    python3 tools/mkfixtures.py OUTDIR [--libtar-write PATH]

Writes OUTDIR/tree/ (the source tree) and OUTDIR/<writer>.tar plus
OUTDIR/<writer>.tar.gz for each writer:
  gnu        GNU tar --format=gnu   (GNU long names 'L'/'K')
  pax        GNU tar --format=pax   (pax extended headers)
  bsdtar     bsdtar (libarchive's default: restricted pax)
  pytar      Python tarfile, PAX_FORMAT
  pygnu      Python tarfile, GNU_FORMAT
  libtar     libtar (tools/libtar_write), GNU long names; no pax
and multimember.tar.gz: the pax archive as two concatenated gzip members.
The tree covers long names (over 100 and over 255 bytes), unicode names,
empty files, files of 511/512/513 bytes, symlinks (relative, dangling
inside the tree), hardlinks, empty directories, several modes and
sub-second mtimes.  Everything is deterministic.
"""

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tarfile

MTIME = 1700000000  # fixed, so archives are reproducible


def write(path, data, mode=0o644, mtime_ns=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    os.chmod(path, mode)
    ns = mtime_ns if mtime_ns is not None else MTIME * 10**9
    os.utime(path, ns=(ns, ns))


def pattern(n, seed):
    """Deterministic non-repeating-ish bytes (so gzip has work to do)."""
    out = bytearray()
    x = seed
    while len(out) < n:
        x = (x * 1103515245 + 12345) & 0x7fffffff
        out += x.to_bytes(4, 'little')
    return bytes(out[:n])


def make_tree(root, long_names=True):
    """The source tree.  long_names=False leaves out what v7 and ustar
    cannot store (names over 99 bytes, or over 255 split at a '/', link
    targets over 99 bytes), so those formats archive the same tree minus
    those members."""
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    write(f'{root}/top/empty', b'')
    for n in (1, 511, 512, 513, 1024, 10240, 100000):
        write(f'{root}/top/sizes/f{n}', pattern(n, n))
    write(f'{root}/top/exec.sh', b'#!/bin/sh\necho hi\n', 0o755)
    write(f'{root}/top/readonly', b'read only\n', 0o444)
    write(f'{root}/top/private', b'secret\n', 0o600)
    write(f'{root}/top/nsec', b'subsecond\n', mtime_ns=MTIME * 10**9 + 123456789)
    long1 = 'l' * 120
    deep = '/'.join(['d%03d' % i + 'x' * 40 for i in range(7)])  # > 255 bytes
    if long_names:
        write(f'{root}/top/{long1}', b'long name over 100 bytes\n')
        write(f'{root}/top/{deep}/leaf.txt', b'deep leaf\n')
    write(f'{root}/top/unicode/caf\u00e9-\u65e5\u672c\u8a9e-\U0001f600.txt',
          'unicode name\n'.encode())
    os.makedirs(f'{root}/top/emptydir')
    os.makedirs(f'{root}/top/emptydir2/nested_empty')
    os.symlink('sizes/f512', f'{root}/top/link_rel')
    os.symlink('../exec.sh', f'{root}/top/unicode/link_up')
    os.symlink('does-not-exist-yet', f'{root}/top/dangling')
    os.link(f'{root}/top/sizes/f513', f'{root}/top/hardlink_f513')
    if long_names:
        os.symlink('t' * 150, f'{root}/top/long_target_link')  # long link name
        os.link(f'{root}/top/{long1}', f'{root}/top/hard_{long1}')  # long link
    os.chmod(f'{root}/top/emptydir2', 0o750)
    # directory mtimes last, deepest first, after their contents exist
    for dirpath, dirnames, filenames in sorted(os.walk(root), reverse=True):
        for name in filenames + dirnames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                os.utime(p, ns=(MTIME * 10**9, MTIME * 10**9),
                         follow_symlinks=False)
        os.utime(dirpath, ns=(MTIME * 10**9, MTIME * 10**9))


def run(cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def gnu_tar(tree, out, fmt):
    run(['tar', '--format=' + fmt, '--sort=name', '--owner=0', '--group=0',
         '--numeric-owner', '-cf', out, '-C', tree, 'top'])


def bsdtar(tree, out):
    run(['bsdtar', '--uid', '0', '--gid', '0', '-cf', out, '-C', tree, 'top'])


def python_tar(tree, out, fmt):
    def reset(ti):
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = 'root'
        return ti
    with tarfile.open(out, 'w', format=fmt) as tf:
        tf.add(os.path.join(tree, 'top'), arcname='top', filter=reset)


def gzip_file(src, dst, members=1):
    data = open(src, 'rb').read()
    cut = len(data) // 2 if members == 2 else len(data)
    with open(dst, 'wb') as f:
        f.write(gzip.compress(data[:cut], mtime=0))
        if members == 2:
            f.write(gzip.compress(data[cut:], mtime=0))


# ---------------------------------------------------------------- corpus
# The conformance corpus (tests/test_conformance.py, issue 8 section 4):
# every producer in every format it writes, crossed with every compression.

# name -> (needs the short tree, command builder).  v7 and ustar cannot
# store the long names, so they archive the short tree.
def _gnu(fmt):
    return lambda tree, out, _lt: gnu_tar(tree, out, fmt)


def _bsd(fmt):
    return lambda tree, out, _lt: run(
        ['bsdtar', '--format', fmt, '--uid', '0', '--gid', '0', '-cf', out,
         '-C', tree, 'top'])


def _py(fmt):
    return lambda tree, out, _lt: python_tar(tree, out, fmt)


def _libtar(*opts):
    def make(tree, out, libtar_write):
        if not libtar_write:
            raise RuntimeError('libtar producer needs --libtar-write')
        run([libtar_write] + list(opts) + [out, tree, 'top'])
    return make


# bsdtar's other --format values (cpio, shar, zip, 7zip, iso9660, mtree,
# xar, warc, raw, ar) are not tar; 'paxr' (restricted pax) is its default.
PRODUCERS = {
    'gnutar-v7': (True, _gnu('v7')),
    'gnutar-oldgnu': (False, _gnu('oldgnu')),
    'gnutar-gnu': (False, _gnu('gnu')),
    'gnutar-ustar': (True, _gnu('ustar')),
    'gnutar-posix': (False, _gnu('posix')),
    'bsdtar-v7': (True, _bsd('v7')),
    'bsdtar-ustar': (True, _bsd('ustar')),
    'bsdtar-gnutar': (False, _bsd('gnutar')),
    'bsdtar-pax': (False, _bsd('pax')),
    'bsdtar-paxr': (False, _bsd('paxr')),
    'pytarfile-gnu': (False, _py(tarfile.GNU_FORMAT)),
    'pytarfile-pax': (False, _py(tarfile.PAX_FORMAT)),
    'pytarfile-ustar': (True, _py(tarfile.USTAR_FORMAT)),
    'libtar-gnu': (False, _libtar()),
    'libtar-ustar': (True, _libtar('--ustar')),
}

# extension -> compressor command (stdin to stdout).  Each is the format's
# reference tool from Debian; .lzma is xz's lzma-alone, .lz4 the frame
# format.
COMPRESSORS = {
    'gz': ['gzip', '-9', '-n', '-c'],
    'xz': ['xz', '-6', '-c'],
    'zst': ['zstd', '-q', '-19', '-c'],
    'bz2': ['bzip2', '-9', '-c'],
    'lz4': ['lz4', '-q', '-c'],
    'lzma': ['xz', '--format=lzma', '-c'],
    'Z': ['compress', '-c'],
}


def compress(src, ext, dst=None):
    """Compress src with COMPRESSORS[ext] into dst (default src.ext)."""
    dst = dst or '%s.%s' % (src, ext)
    with open(src, 'rb') as fin, open(dst + '.tmp', 'wb') as fout:
        p = subprocess.run(COMPRESSORS[ext], stdin=fin, stdout=fout)
    # compress(1) exits 2 when the output is not smaller; it is still valid
    if p.returncode not in ((0, 2) if ext == 'Z' else (0,)):
        raise RuntimeError('%s failed with status %d' % (COMPRESSORS[ext][0],
                                                          p.returncode))
    os.replace(dst + '.tmp', dst)
    return dst


def build_corpus(outdir, libtar_write):
    """Write outdir/long/ and outdir/short/ (the two source trees) and
    outdir/<producer>.tar for every producer.  Returns {producer: (tar,
    tree root)}.  Compressed copies are made by compress_all."""
    os.makedirs(outdir, exist_ok=True)
    trees = {}
    for short in (False, True):
        root = os.path.join(outdir, 'short' if short else 'long')
        make_tree(root, long_names=not short)
        trees[short] = root
    made = {}
    for name, (short, make) in PRODUCERS.items():
        tar = os.path.join(outdir, name + '.tar')
        make(trees[short], tar, libtar_write)
        made[name] = (tar, trees[short])
    return made


# Formats libtar can read (no pax headers): the header differential
# (tests/libtar_ref.c --fields) runs on these.
LIBTAR_READABLE = [p for p in PRODUCERS
                   if p not in ('gnutar-posix', 'bsdtar-pax', 'bsdtar-paxr',
                                'pytarfile-pax')]


def build_special(outdir, libtar_write):
    """Archives with a FIFO and character and block devices (made with
    mknod, so root only; v7 cannot store them), for the header differential alone: extracting
    them is a policy matter (--keep-special-files), not a format one.
    Returns {producer: tar}."""
    root = os.path.join(outdir, 'special')
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root + '/top')
    os.mkfifo(root + '/top/fifo', 0o640)
    os.mknod(root + '/top/null', 0o666 | 0o020000, os.makedev(1, 3))
    os.mknod(root + '/top/loop7', 0o660 | 0o060000, os.makedev(7, 7))
    os.mknod(root + '/top/bigdev', 0o600 | 0o020000, os.makedev(259, 123456))
    write(root + '/top/plain', b'plain\n')
    for n, mode in (('fifo', 0o640), ('null', 0o666), ('loop7', 0o660),
                    ('bigdev', 0o600), ('.', 0o755)):
        os.chmod(root + '/top/' + n, mode)
        os.utime(root + '/top/' + n, ns=(MTIME * 10**9, MTIME * 10**9))
    made = {}
    for name in ('gnutar-gnu', 'gnutar-ustar', 'bsdtar-ustar',
                 'bsdtar-gnutar', 'pytarfile-gnu', 'pytarfile-ustar',
                 'libtar-gnu', 'libtar-ustar'):
        tar = os.path.join(outdir, 'special-%s.tar' % name)
        PRODUCERS[name][1](root, tar, libtar_write)
        made['special-' + name] = tar
    return made


def compress_all(tar):
    """tar.<ext> for every compression; returns {ext: path}."""
    return {ext: compress(tar, ext) for ext in COMPRESSORS}


# ------------------------------------------------------- real-world archives
# Pinned by version and SHA-256.  The test setup fetches them (Debian's
# archive and the npm registry are reachable from CI); a failed fetch or a
# wrong digest is an error, never a skip.
NPM_PACKAGE = ('semver', '7.6.0',
               '49ef76bfe28857daa79115d5acc80bfbec8a7852f15dc3c2ac2e6b8777255c0f')
# bzip2's data.tar.xz has hardlinks (bzip2, bzcat -> bunzip2) and symlinks.
DEBIAN_PACKAGE = ('bzip2', '1.0.8-5+b1', 'amd64',
                  '438871b3f5c5c7a357a9840951dab9dab8db7eb1ff760a563226fafa111b99e5')


def sha256_file(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def _checked(path, want, what):
    got = sha256_file(path)
    if got != want:
        raise RuntimeError('%s: SHA-256 %s, pinned %s (the upstream file '
                           'changed; re-pin only after checking why)'
                           % (what, got, want))
    return path


def fetch_npm(cachedir):
    """npm pack PKG@VER (or the same tarball straight from the registry
    when npm is not installed: npm pack downloads exactly that file)."""
    name, ver, sha = NPM_PACKAGE
    path = os.path.join(cachedir, '%s-%s.tgz' % (name, ver))
    if os.path.exists(path) and sha256_file(path) == sha:
        return path
    os.makedirs(cachedir, exist_ok=True)
    what = 'npm %s@%s' % (name, ver)
    if shutil.which('npm'):
        p = subprocess.run(['npm', 'pack', '--silent', '%s@%s' % (name, ver)],
                           cwd=cachedir, capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 0:
            raise RuntimeError('%s: npm pack failed: %s' % (what, p.stderr.strip()))
    else:
        import urllib.request
        url = 'https://registry.npmjs.org/%s/-/%s-%s.tgz' % (name, name, ver)
        with urllib.request.urlopen(url, timeout=60) as r, \
                open(path + '.tmp', 'wb') as f:
            shutil.copyfileobj(r, f)
        os.replace(path + '.tmp', path)
    return _checked(path, sha, what)


def fetch_deb_data(cachedir):
    """apt-get download PKG=VER, then the .deb's data.tar.xz (taken out
    with ar, as dpkg-deb would)."""
    name, ver, arch, sha = DEBIAN_PACKAGE
    deb = os.path.join(cachedir, '%s_%s_%s.deb' % (name, ver.replace(':', '%3a'), arch))
    data = os.path.join(cachedir, '%s_%s_data.tar.xz' % (name, ver))
    what = 'Debian %s=%s (%s)' % (name, ver, arch)
    if not (os.path.exists(deb) and sha256_file(deb) == sha):
        os.makedirs(cachedir, exist_ok=True)
        p = subprocess.run(['apt-get', 'download', '%s:%s=%s' % (name, arch, ver)],
                           cwd=cachedir, capture_output=True, text=True,
                           timeout=300)
        if p.returncode != 0:
            raise RuntimeError('%s: apt-get download failed: %s'
                               % (what, p.stderr.strip()))
    _checked(deb, sha, what)
    members = subprocess.run(['ar', 't', deb], check=True, capture_output=True,
                             text=True).stdout.split()
    if 'data.tar.xz' not in members:
        raise RuntimeError('%s: no data.tar.xz in the .deb (has %s)' % (what, members))
    with open(data + '.tmp', 'wb') as f:
        subprocess.run(['ar', 'p', deb, 'data.tar.xz'], stdout=f, check=True)
    os.replace(data + '.tmp', data)
    return data


def decompress_to(src, dst, tool):
    with open(dst + '.tmp', 'wb') as f:
        subprocess.run(tool + ['-dc', src], stdout=f, check=True)
    os.replace(dst + '.tmp', dst)
    return dst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('outdir')
    ap.add_argument('--libtar-write', default=None,
                    help='path of the libtar fixture writer (tools/libtar_write)')
    ap.add_argument('--corpus', action='store_true',
                    help='write the conformance corpus (every producer and '
                    'compression) into OUTDIR instead')
    args = ap.parse_args()
    out = args.outdir
    if args.corpus:
        made = build_corpus(out, args.libtar_write)
        for tar, _tree in made.values():
            compress_all(tar)
        print('corpus: %d producers x %d compressions in %s'
              % (len(made), len(COMPRESSORS), out))
        return 0
    os.makedirs(out, exist_ok=True)
    tree = os.path.join(out, 'tree')
    make_tree(tree)
    made = []
    gnu_tar(tree, f'{out}/gnu.tar', 'gnu'); made.append('gnu')
    gnu_tar(tree, f'{out}/pax.tar', 'pax'); made.append('pax')
    bsdtar(tree, f'{out}/bsdtar.tar'); made.append('bsdtar')
    python_tar(tree, f'{out}/pytar.tar', tarfile.PAX_FORMAT); made.append('pytar')
    python_tar(tree, f'{out}/pygnu.tar', tarfile.GNU_FORMAT); made.append('pygnu')
    if args.libtar_write:
        run([args.libtar_write, f'{out}/libtar.tar', tree, 'top'])
        made.append('libtar')
    for name in made:
        gzip_file(f'{out}/{name}.tar', f'{out}/{name}.tar.gz')
    gzip_file(f'{out}/pax.tar', f'{out}/multimember.tar.gz', members=2)
    print('fixtures: ' + ' '.join(made) + ' (+ multimember) in ' + out)


if __name__ == '__main__':
    sys.exit(main())
