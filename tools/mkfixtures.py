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


def make_tree(root):
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
    write(f'{root}/top/{long1}', b'long name over 100 bytes\n')
    deep = '/'.join(['d%03d' % i + 'x' * 40 for i in range(7)])  # > 255 bytes
    write(f'{root}/top/{deep}/leaf.txt', b'deep leaf\n')
    write(f'{root}/top/unicode/caf\u00e9-\u65e5\u672c\u8a9e-\U0001f600.txt',
          'unicode name\n'.encode())
    os.makedirs(f'{root}/top/emptydir')
    os.makedirs(f'{root}/top/emptydir2/nested_empty')
    os.symlink('sizes/f512', f'{root}/top/link_rel')
    os.symlink('../exec.sh', f'{root}/top/unicode/link_up')
    os.symlink('does-not-exist-yet', f'{root}/top/dangling')
    os.symlink('t' * 150, f'{root}/top/long_target_link')  # long link name
    os.link(f'{root}/top/sizes/f513', f'{root}/top/hardlink_f513')
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('outdir')
    ap.add_argument('--libtar-write', default=None,
                    help='path of the libtar fixture writer (tools/libtar_write)')
    args = ap.parse_args()
    out = args.outdir
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
