#!/usr/bin/env python3
"""Write the seed corpora and nothing else (the committed corpus is these
seeds merged with what the fuzzers found; see README.md).

    python3 tests/fuzz/mkseeds.py FIXTURES_DIR OUTDIR

FIXTURES_DIR is tools/mkfixtures.py's output (its tree/ is re-archived
without the files over 1 KiB so each seed stays small).  Writes
OUTDIR/tar/*.tar (real writers, then hand-made hostile archives) and
OUTDIR/gz/*.tar.gz (the same, gzip-compressed, plus gzip edge cases).
"""

import gzip
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

BLOCK = 512


def octal(n, width):
    return ('%0*o' % (width - 1, n)).encode() + b'\0'


def header(name, typeflag=b'0', size=0, mode=0o644, linkname=b'',
           magic=b'ustar\x0000', prefix=b'', mtime=1700000000,
           size_field=None, chksum=None):
    """One 512-byte tar header; fields may be raw bytes for hostile ones."""
    h = bytearray(BLOCK)
    h[0:100] = name.ljust(100, b'\0')[:100]
    h[100:108] = octal(mode, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = size_field if size_field is not None else octal(size, 12)
    h[136:148] = octal(mtime, 12)
    h[156:157] = typeflag
    h[157:257] = linkname.ljust(100, b'\0')[:100]
    h[257:265] = magic
    h[265:297] = b'root'.ljust(32, b'\0')
    h[297:329] = b'root'.ljust(32, b'\0')
    h[345:500] = prefix.ljust(155, b'\0')[:155]
    h[148:156] = b' ' * 8
    s = sum(h) if chksum is None else chksum
    h[148:156] = ('%06o' % s).encode() + b'\0 '
    return bytes(h)


def pad(data):
    return data + b'\0' * (-len(data) % BLOCK)


def member(name, data=b'', **kw):
    return header(name, size=len(data), **kw) + pad(data)


def pax_record(key, value):
    body = b' ' + key + b'=' + value + b'\n'
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n += 1
    return str(n).encode() + body


def pax(records, typeflag=b'x', name=b'PaxHeaders/x'):
    data = b''.join(pax_record(k, v) for k, v in records)
    return member(name, data, typeflag=typeflag)


def gnu_long(typeflag, value):
    return member(b'././@LongLink', value + b'\0', typeflag=typeflag,
                  magic=b'ustar  \0')


EOA = b'\0' * (2 * BLOCK)


def base256(n, width):
    return bytes([0x80]) + n.to_bytes(width - 1, 'big')


def hostile():
    """Hand-made archives at the parser's and the sink's edges."""
    f1 = member(b'a', b'hello\n')
    return {
        'dotdot': member(b'../evil', b'x') + EOA,
        'dotdot_mid': member(b'a/../../evil', b'x') + EOA,
        'abs': member(b'/abs/file', b'x') + EOA,
        'symlink_out': header(b'l', b'2', linkname=b'../../..') +
                       member(b'l/x', b'x') + EOA,
        'symlink_abs': header(b'l', b'2', linkname=b'/tmp') + EOA,
        'symlink_chain': header(b'cur', b'2', linkname=b'.') +
                         header(b'par', b'2', linkname=b'cur/..') +
                         member(b'par/x', b'x') + EOA,
        'symlink_then_file': header(b'd', b'2', linkname=b'sub') +
                             header(b'sub', b'5', mode=0o755) +
                             member(b'd/f', b'x') + EOA,
        'hardlink_to_symlink': header(b's', b'2', linkname=b'a') + f1 +
                               header(b'h', b'1', linkname=b's') + EOA,
        'hardlink_ok': f1 + header(b'h', b'1', linkname=b'a') + EOA,
        'hardlink_missing': header(b'h', b'1', linkname=b'nope') + EOA,
        'file_over_dir': header(b'd', b'5') + member(b'd', b'x') + EOA,
        'dir_over_file': member(b'd', b'x') + header(b'd/', b'5') +
                         member(b'd/f', b'y') + EOA,
        'same_file_twice': member(b'a', b'one') + member(b'a', b'two') + EOA,
        'setuid': member(b'suid', b'x', mode=0o7777) + EOA,
        'devices': header(b'c', b'3') + header(b'b', b'4') +
                   header(b'p', b'6') + EOA,
        'unknown_type': member(b'u', b'data', typeflag=b'Z') + EOA,
        'sparse_S': member(b's', b'x' * 10, typeflag=b'S') + EOA,
        'contiguous': member(b'c7', b'x', typeflag=b'7') + EOA,
        'oldstyle_dir': header(b'olddir/', b'\0', magic=b'\0' * 8) + EOA,
        'v7': member(b'v7file', b'v7', magic=b'\0' * 8) + EOA,
        'prefix': member(b'name', b'p', prefix=b'some/prefix') + EOA,
        'base256_size': header(b'big', size_field=base256(5, 12)) +
                        pad(b'12345') + EOA,
        'base256_negative': header(b'neg', size_field=b'\xff' * 12) + EOA,
        'size_huge_octal': header(b'huge', size_field=b'77777777777\0') + EOA,
        'size_not_octal': header(b'bad', size_field=b'12x45\0      ') + EOA,
        'size_blank': header(b'blank', size_field=b' ' * 12) + EOA,
        'bad_checksum': header(b'a', chksum=1) + EOA,
        'lone_zero_block': f1 + b'\0' * BLOCK + f1 + EOA,
        'no_eoa': f1,
        'one_zero_block': f1 + b'\0' * BLOCK,
        'trailing_garbage': f1 + EOA + b'garbage',
        'trailing_zeros': f1 + EOA + b'\0' * 8192,
        'truncated_data': header(b'a', size=1000) + b'x' * 100,
        'truncated_header': f1[:300],
        'pax_path': pax([(b'path', b'pax/long/' + b'p' * 200)]) +
                    member(b'short', b'x') + EOA,
        'pax_linkpath': pax([(b'linkpath', b'target')]) +
                        header(b'l', b'2') + EOA,
        'pax_size': pax([(b'size', b'3')]) + header(b'a', size=0) +
                    pad(b'abc') + EOA,
        'pax_mtime': pax([(b'mtime', b'-1.25'), (b'uid', b'1000'),
                          (b'uname', b'user')]) + f1 + EOA,
        'pax_sparse': pax([(b'GNU.sparse.major', b'1'),
                           (b'GNU.sparse.name', b'real')]) +
                      member(b'sp', b'x') + EOA,
        'pax_global': pax([(b'mtime', b'5'), (b'path', b'ignored')],
                          typeflag=b'g') + f1 + EOA,
        'pax_empty_value': pax([(b'path', b'')]) + f1 + EOA,
        'pax_bad_len': member(b'PaxHeaders/x', b'99 path=a\n',
                              typeflag=b'x') + f1 + EOA,
        'pax_nul_path': pax([(b'path', b'a\0b')]) + f1 + EOA,
        'pax_dotdot': pax([(b'path', b'../../x')]) + f1 + EOA,
        'pax_too_big': header(b'PaxHeaders/x', b'x', size=2 * 1024 * 1024) +
                       EOA,
        'pax_orphan': pax([(b'path', b'x')]) + EOA,
        'pax_then_pax': pax([(b'path', b'one')]) + pax([(b'path', b'two')]) +
                        f1 + EOA,
        'gnu_longname': gnu_long(b'L', b'gnu/' + b'n' * 300) +
                        member(b'short', b'x', magic=b'ustar  \0') + EOA,
        'gnu_longlink': gnu_long(b'K', b'../' * 40) +
                        header(b'l', b'2', magic=b'ustar  \0') + EOA,
        'gnu_longname_nul': gnu_long(b'L', b'a\0hidden') + f1 + EOA,
        'gnu_orphan': gnu_long(b'L', b'x') + EOA,
        'long_component': member(b'c' * 99, b'x', prefix=b'p' * 154) + EOA,
        'deep': pax([(b'path', b'a/' * 1100 + b'f')]) + f1 + EOA,
        'dot_names': header(b'./', b'5') + member(b'./a/./b', b'x') +
                     member(b'a//c', b'y') + EOA,
        'dir_size_nonzero': header(b'dd', b'5', size=600) + b'z' * 1024 + EOA,
        'symlink_size_nonzero': header(b'sl', b'2', size=5, linkname=b't') +
                                pad(b'hello') + EOA,
    }


def writer_archives(fixtures, out):
    tmp = tempfile.mkdtemp()
    try:
        tree = os.path.join(tmp, 'tree')
        shutil.copytree(os.path.join(fixtures, 'tree'), tree, symlinks=True)
        for n in ('f1024', 'f10240', 'f100000'):
            os.unlink(os.path.join(tree, 'top', 'sizes', n))
        res = {}
        for fmt in ('gnu', 'pax', 'ustar'):
            p = os.path.join(tmp, fmt + '.tar')
            cmd = ['tar', '--format=' + fmt, '--sort=name', '--owner=0',
                   '--group=0', '--numeric-owner', '-b', '1']
            if fmt == 'ustar':  # ustar cannot hold the long names
                cmd += ['--exclude=d003*', '--exclude=l*', '--exclude=hard_*',
                        '--exclude=long_target_link']
            else:  # the long names and links; ustar has the rest
                cmd += ['--exclude=f51*', '--exclude=unicode',
                        '--exclude=emptydir*', '--exclude=d004*']
            if fmt == 'pax':  # a pax header per member: fewer members
                cmd += ['--exclude=d002*', '--exclude=sizes',
                        '--exclude=readonly', '--exclude=private',
                        '--exclude=empty']
            cmd += ['-cf', p, '-C', tree, 'top']
            subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
            res[fmt] = open(p, 'rb').read()
        for name, fmt in (('pytar', tarfile.PAX_FORMAT),
                          ('pygnu', tarfile.GNU_FORMAT)):
            p = os.path.join(tmp, name + '.tar')
            with tarfile.open(p, 'w', format=fmt) as tf:
                tf.add(os.path.join(tree, 'top', 'unicode'), arcname='u')
                tf.add(os.path.join(tree, 'top', 'sizes'), arcname='s')
            res[name] = open(p, 'rb').read().rstrip(b'\0')
            res[name] = pad(res[name]) + EOA
        bs = os.path.join(tmp, 'bsdtar.tar')
        subprocess.run(['bsdtar', '--uid', '0', '--gid', '0', '-cf', bs,
                        '-C', tree, 'top/unicode', 'top/link_rel',
                        'top/hardlink_f513', 'top/sizes/f513'], check=True)
        res['bsdtar'] = pad(open(bs, 'rb').read().rstrip(b'\0')) + EOA
        return res
    finally:
        shutil.rmtree(tmp)


def gz_edge(tar):
    g = gzip.compress(tar, mtime=0)
    half = len(tar) // 2
    return {
        'gz_two_members': gzip.compress(tar[:half], mtime=0) +
                          gzip.compress(tar[half:], mtime=0),
        'gz_zero_padding': g + b'\0' * 100,
        'gz_trailing': g + b'junk',
        'gz_truncated': g[:len(g) // 2],
        'gz_bad_crc': g[:-8] + bytes([g[-8] ^ 1]) + g[-7:],
        'gz_1f_only': g + b'\x1f',
        'gz_empty_member': gzip.compress(b'', mtime=0) + g,
        'zstd_magic': b'\x28\xb5\x2f\xfd' + b'\0' * 16,
        'xz_magic': b'\xfd7zXZ\0' + b'\0' * 16,
        'bzip2_magic': b'BZh91AY&SY' + b'\0' * 16,
        'bzh_tar_name': member(b'BZh9notbzip', b'x') + EOA,
        'short_1f8b': b'\x1f\x8b',
    }


def main():
    fixtures, out = sys.argv[1], sys.argv[2]
    tars = dict(writer_archives(fixtures, out))
    tars.update(hostile())
    for d in ('tar', 'gz'):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    for name, data in sorted(tars.items()):
        with open(os.path.join(out, 'tar', name + '.tar'), 'wb') as f:
            f.write(data)
        with open(os.path.join(out, 'gz', name + '.tar.gz'), 'wb') as f:
            f.write(gzip.compress(data, mtime=0))
    for name, data in gz_edge(tars['gnu']).items():
        with open(os.path.join(out, 'gz', name), 'wb') as f:
            f.write(data)
    big = [(n, len(d)) for n, d in tars.items() if len(d) > 20480]
    print('seeds: %d tar, %d gz in %s; over 20 KB: %s' % (
        len(tars), len(tars) + 12, out, big or 'none'))


if __name__ == '__main__':
    main()
