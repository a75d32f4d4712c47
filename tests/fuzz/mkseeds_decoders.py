#!/usr/bin/env python3
"""Seeds for fuzz_decoders (and fuzz_decoder_parser): a small tar made by
Python's tarfile, compressed by the real tools (gzip, xz, xz multi-block,
xz --format=lzma, zstd, bzip2, lz4, compress), each also concatenated with
itself, cut in half, and led by a skippable frame (zstd, lz4); plus an HTML
page, a zip and a plain tar whose first name starts with "BZh".

    python3 tests/fuzz/mkseeds_decoders.py OUTDIR
"""

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

TOOLS = {
    'gz': ['gzip', '-c'], 'xz': ['xz', '-c'],
    'mtxz': ['xz', '-c', '-T2', '--block-size=1KiB'],
    'lzma': ['xz', '--format=lzma', '-c'], 'zst': ['zstd', '-c', '-q'],
    'bz2': ['bzip2', '-c'], 'lz4': ['lz4', '-c', '-q'], 'Z': ['compress', '-c'],
}


def small_tar(first='hello.txt'):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode='w', format=tarfile.PAX_FORMAT) as t:
        for name, data in ((first, b'hello world\n' * 20),
                           ('dir/bin', bytes(range(256)) * 4)):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = []
    tar = small_tar()
    for kind, cmd in TOOLS.items():
        if not shutil.which(cmd[0]):
            continue
        z = subprocess.run(cmd, input=tar, capture_output=True).stdout
        seeds += [z, z + z, z[:len(z) // 2]]
        if kind in ('zst', 'lz4'):
            seeds.append(b'\x50\x2a\x4d\x18\x04\0\0\0skip' + z)
    seeds.append(small_tar('BZh91AY&SY'))
    seeds.append(b'<!DOCTYPE html><html><body>login</body></html>\n')
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, 'w') as zf:
        zf.writestr('a.txt', 'a')
    seeds.append(zb.getvalue())
    for s in seeds:
        with open(os.path.join(out, hashlib.sha1(s).hexdigest()), 'wb') as f:
            f.write(s)
    print('%d seeds in %s' % (len(seeds), out))


if __name__ == '__main__':
    main()
