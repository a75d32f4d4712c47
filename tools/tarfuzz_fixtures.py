#!/usr/bin/env python3
"""tarfuzz_fixtures: hand-built diff fixtures for the narrowed ambiguity
rules (issue 12, README "Ambiguity").

    tools/tarfuzz_fixtures.py [tests/diff-fixtures]

Each narrowing gets an archive the readers agree on (now accepted) and the
variant they still split on (still refused).  The files are written from
scratch here, byte by byte, with header checksums computed; the shapes come
from the over-strict groups of tarfuzz runs (seed 4).  tests/
test_diff_fixtures.py judges every one of them with Python's tarfile,
bsdtar, GNU tar and rzup-extract on each test run; the parser unit tests
(tests/test_tar_parser.c) hold the same cases split at every offset.
"""

import os
import sys

B = 512
MTIME = 1700000000


def octal(v, n):
    return b'%0*o\0' % (n - 1, v)


def header(tf, name, size=0, link=b'', magic=b'ustar\x0000', mode=0o644,
           mtime=MTIME, uid=0, gid=0, prefix=b'', uname=b'root',
           gname=b'root', fields=None):
    b = bytearray(B)
    b[0:len(name)] = name
    b[100:108] = octal(mode, 8)
    b[108:116] = octal(uid, 8)
    b[116:124] = octal(gid, 8)
    b[124:136] = octal(size, 12)
    b[136:148] = octal(mtime, 12)
    b[156:157] = tf
    b[157:157 + len(link)] = link
    b[257:265] = magic
    b[265:265 + len(uname)] = uname
    b[297:297 + len(gname)] = gname
    b[345:345 + len(prefix)] = prefix
    for off, raw in (fields or {}).items():
        b[off:off + len(raw)] = raw
    b[148:156] = b' ' * 8
    b[148:156] = b'%06o\0 ' % sum(b)
    return bytes(b)


def padded(data, fill=b'\0'):
    return data + fill * ((-len(data)) % B)


def member(tf, name, data=b'', **kw):
    return header(tf, name, len(data), **kw) + padded(data)


def record(key, value):
    body = b' ' + key + b'=' + value + b'\n'
    n = len(body) + 1
    while len(b'%d' % n) + len(body) != n:
        n += 1
    return b'%d' % n + body


def pax(*pairs):
    return b''.join(record(k, v) for k, v in pairs)


def ext(tf, data, name=b'PaxHeaders/f', padding=None):
    h = header(tf, name, len(data))
    if padding is None:
        return h + padded(data)
    body = data + padding
    return h + padded(body)


def gnu_long(tf, text):
    return member(tf, b'././@LongLink', text + b'\0', magic=b'ustar  \0')


END = b'\0' * (2 * B)
DIR = member(b'5', b'top/', mode=0o755)


def fixtures():
    f = {}
    # -- two pax headers in a row (Python applies the earlier ones too,
    #    first winning; GNU tar, bsdtar and Go read only the last)
    f['two-pax-earlier-value-coincides'] = (
        'accept', 'narrowed: two pax extended headers in a row, the earlier '
        'one setting the mtime the header has anyway (as Python\'s PAX writer '
        'does); every reader reads the same file',
        DIR + ext(b'x', pax((b'mtime', b'%d.0' % MTIME))) + ext(b'x', b'')
        + member(b'0', b'top/a', b'abc') + END)
    f['two-pax-same-records'] = (
        'no-differential', 'narrowed: the same pax header twice (path, '
        'size, mtime); GNU tar and Python read it alike, bsdtar warns while '
        'reading the same file',
        DIR + ext(b'x', pax((b'path', b'top/p'), (b'size', b'3')))
        + ext(b'x', pax((b'path', b'top/p'), (b'size', b'3')))
        + member(b'0', b'top/a', b'abc') + END)
    f['two-pax-earlier-size-smuggles'] = (
        'refuse', 'still refused: size=4 in the first pax header, an empty '
        'second one: Python reads a 4-byte file and then "smuggled", the '
        'others one 1,028-byte file',
        ext(b'x', pax((b'size', b'4'))) + ext(b'x', b'')
        + header(b'0', b'outer', 1028) + padded(b'abcd')
        + member(b'0', b'smuggled', b'evil') + END)
    f['two-pax-earlier-path-differs'] = (
        'refuse', 'still refused: path=top/one, then path=top/two: Python '
        'takes the first, GNU tar and bsdtar the second',
        DIR + ext(b'x', pax((b'path', b'top/one'))) + ext(b'x', pax((b'path', b'top/two')))
        + member(b'0', b'top/a', b'abc') + END)
    # -- global headers: GNU tar and Python apply them, bsdtar does not
    f['global-values-coincide'] = (
        'accept', 'narrowed: a global header setting uid, gid and mtime '
        'every entry has anyway',
        ext(b'g', pax((b'uid', b'0'), (b'gid', b'0'), (b'mtime', b'%d' % MTIME)),
            b'pax_global_header')
        + DIR + member(b'0', b'top/a', b'abc') + END)
    f['global-uid-differs'] = (
        'refuse', 'still refused: a global uid=7 over entries of uid 0 '
        '(GNU tar and Python read 7, bsdtar 0)',
        ext(b'g', pax((b'uid', b'7')), b'pax_global_header')
        + DIR + member(b'0', b'top/a', b'abc') + END)
    f['global-mtime-empty'] = (
        'refuse', 'refused: an empty global mtime: Python reads 0 for every '
        'entry, GNU tar refuses it, bsdtar ignores it',
        ext(b'g', pax((b'mtime', b'')), b'pax_global_header')
        + DIR + member(b'0', b'top/a', b'abc') + END)
    f['pax-size-empty'] = (
        'refuse', 'refused: size= (empty): POSIX deletes the field, Python '
        'reads size 0 and its next header from the data, GNU tar refuses it',
        DIR + ext(b'x', pax((b'size', b''))) + member(b'0', b'top/a', b'abc') + END)
    # -- a bad-version magic with a prefix: Python prepends it
    long_name = b'top/' + b'n' * 120
    f['bad-magic-prefix-under-long-name'] = (
        'accept', 'narrowed: an old GNU header with a non-empty prefix field '
        'after a GNU long name: the long name replaces the name for every '
        'reader, Python included',
        DIR + gnu_long(b'L', long_name)
        + member(b'0', long_name[:100], b'hello', magic=b'ustar  \0', prefix=b'..x')
        + END)
    f['bad-magic-prefix'] = (
        'refuse', 'still refused: the same header without the long name: '
        'Python reads top/sub/a, GNU tar and bsdtar a',
        DIR + member(b'0', b'a', b'hello', magic=b'ustar  \0', prefix=b'top/sub')
        + END)
    # -- GNU long link against pax linkpath: link targets matter to links
    f['gnu-K-and-pax-linkpath-on-file'] = (
        'accept', 'narrowed: a GNU long link and a different pax linkpath on '
        'a regular file: no reader uses a link target there',
        DIR + gnu_long(b'K', b'top/k-target') + ext(b'x', pax((b'linkpath', b'top/pax')))
        + member(b'0', b'top/a', b'abc') + END)
    f['two-gnu-long-links-on-directory'] = (
        'accept', 'narrowed: two different GNU long link records before a '
        'directory',
        gnu_long(b'K', b'one') + gnu_long(b'K', b'two') + DIR
        + member(b'0', b'top/a', b'abc') + END)
    f['two-gnu-long-links-on-symlink'] = (
        'refuse', 'still refused: two different GNU long links before a '
        'symlink: Python takes the first, GNU tar and bsdtar the last',
        DIR + member(b'0', b'top/one', b'1') + member(b'0', b'top/two', b'2')
        + gnu_long(b'K', b'one') + gnu_long(b'K', b'two')
        + header(b'2', b'top/s', link=b'x', mode=0o777) + END)
    # -- numbers
    f['numeric-leading-nul-zeros'] = (
        'accept', 'narrowed: uid and gid spelled NUL + zeros (a producer '
        'whose previous field overflowed): GNU tar skips the NUL, the others '
        'stop there, all read 0',
        DIR + member(b'0', b'top/a', b'abc', fields={108: b'\x00000000\x00',
                                                     116: b'\x00000000\x00'})
        + END)
    # -- sparse keys
    f['sparse-size-on-directory'] = (
        'refuse', 'still refused: a lone GNU.sparse.size on a directory: '
        'GNU tar and Python ignore it, bsdtar refuses the archive ("Non-'
        'regular file cannot be sparse")',
        ext(b'x', pax((b'GNU.sparse.size', b'100'))) + DIR
        + member(b'0', b'top/a', b'abc') + END)
    f['sparse-realsize-equal'] = (
        'accept', 'narrowed: a lone GNU.sparse.realsize equal to the stored '
        'size: a plain file to every reader',
        DIR + ext(b'x', pax((b'GNU.sparse.realsize', b'3')))
        + member(b'0', b'top/a', b'abc') + END)
    f['sparse-realsize-differs'] = (
        'refuse', 'still refused: a lone GNU.sparse.realsize of 2 on a 3-byte '
        'file: Python takes 2 as the size',
        DIR + ext(b'x', pax((b'GNU.sparse.realsize', b'2')))
        + member(b'0', b'top/a', b'abc') + END)
    f['sparse-name-alone'] = (
        'refuse', 'refused (a tightening): GNU.sparse.name with no sparse version or map: '
        'GNU tar, bsdtar and Python rename the file, Go keeps the header '
        'name (archive/tar reads the name only with a version or map)',
        DIR + ext(b'x', pax((b'GNU.sparse.name', b'top/renamed')))
        + member(b'0', b'top/a', b'abc') + END)
    # -- pax data and its padding
    f['pax-padding-not-a-record'] = (
        'refuse', 'still refused: junk in the padding after pax records that '
        'no record starts with: Python 3.11.7 stops there, Debian\'s Python '
        '3.11.2 (newer pax parser) silently ends the archive at this header',
        DIR + ext(b'x', pax((b'mtime', b'%d' % MTIME)), padding=b'xx junk')
        + member(b'0', b'top/a', b'abc') + END)
    f['pax-padding-record'] = (
        'refuse', 'still refused: a pax record in the padding after the '
        'declared size (Python 3.11 applies it)',
        DIR + ext(b'x', pax((b'mtime', b'%d' % MTIME)), padding=record(b'path', b'top/evil'))
        + member(b'0', b'top/a', b'abc') + END)
    return f


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'diff-fixtures')
    for name, (expect, what, data) in sorted(fixtures().items()):
        with open(os.path.join(out, name + '.tar'), 'wb') as fh:
            fh.write(data)
        with open(os.path.join(out, name + '.txt'), 'w') as fh:
            fh.write('expect: %s\nclass: %s\n\nbuilt by tools/tarfuzz_fixtures.py\n'
                     % (expect, what))
    return 0


if __name__ == '__main__':
    sys.exit(main())
