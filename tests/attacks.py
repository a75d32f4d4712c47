"""A catalogue of hostile tar archives, built by code, with what
rzup-extract must do with each.  Shared by tests/test_attacks.py and
tools/compare-safety.

Every archive is built against a Sandbox: a fresh directory holding the
destination ("box/dest") and an "outside" sentinel next to it
("box/outside", with a file "f").  Every absolute name an archive uses
points into the sandbox's outside directory, and no relative name climbs
more than two levels above the destination, so even a tool that obeys the
archive blindly writes only inside the sandbox, never to real system paths.

Archives are written by a small ustar/pax/GNU writer below rather than
tarfile: most of these headers are ones tarfile refuses to write or
rewrites (bad checksums, negative or absurd sizes, NUL in a pax path, a
declared 1 GB pax header, '..' names it would keep but normalise).

A Case says:
  name     short identifier (used in test failure messages and tables)
  group    names, symlinks, hardlinks, special, modes, format, structure,
           merge, limits
  build    build(sb) -> bytes of the tar stream, or a path to a ready file
  rc       expected exit status of rzup-extract: an int, or a dict from
           mode ('absent', 'merge', 'replace') to int
  modes    which destination modes apply (a setup needs an existing dest)
  args     extra rzup-extract arguments (other tools never get them)
  setup    setup(sb) run once the destination exists (merge/replace modes)
  msg      a substring stderr must hold (the rule, or the warning)
  entry    the entry stderr must name ("entry: ...")
  check    check(sb) -> None, raises AssertionError; run after a success
  gz       gzip the stream (.tar.gz) before running
  max_seconds, max_rss_kb   resource bounds of one run
  others   False: not run through other tools (they have no such limit,
           and would write gigabytes)
"""

import gzip
import os
import stat
import zlib

BLOCK = 512
MODES = ('absent', 'merge', 'replace')


class Sandbox:
    """root/box/{dest,outside/f}, root/archives.  dest is not created."""

    def __init__(self, root):
        self.root = root
        self.box = os.path.join(root, 'box')
        self.dest = os.path.join(self.box, 'dest')
        self.outside = os.path.join(self.box, 'outside')
        self.archives = os.path.join(root, 'archives')
        os.makedirs(self.outside)
        os.makedirs(self.archives, exist_ok=True)
        with open(os.path.join(self.outside, 'f'), 'w') as f:
            f.write('sentinel\n')

    def out(self, rel=''):
        """An absolute name inside the outside sentinel, as bytes."""
        return os.fsencode(os.path.join(self.outside, rel) if rel else self.outside)

    def make_dest(self):
        os.makedirs(self.dest)
        with open(os.path.join(self.dest, 'keep'), 'w') as f:
            f.write('keep\n')


# ------------------------------------------------------------ tar writer

def _octal(n, width):
    return (b'%0*o' % (width - 1, n)) + b'\0'


def _b256(n, width):
    """Base-256 (GNU): high bit set, two's complement big-endian."""
    raw = (n % (1 << (8 * width))).to_bytes(width, 'big')
    return bytes([raw[0] | 0x80]) + raw[1:]


def header(name, typeflag=b'0', size=0, mode=0o644, linkname=b'',
           size_field=None, checksum=None, devmajor=0, devminor=0,
           mtime=1600000000):
    """One 512-byte ustar header.  size_field overrides the encoded size;
    checksum=int stores a wrong one."""
    h = bytearray(BLOCK)

    def put(off, width, val):
        h[off:off + len(val)] = val[:width]
    put(0, 100, name)
    put(100, 8, _octal(mode, 8))
    put(108, 8, _octal(0, 8))
    put(116, 8, _octal(0, 8))
    put(124, 12, size_field if size_field is not None else _octal(size, 12))
    put(136, 12, _octal(mtime, 12))
    put(148, 8, b' ' * 8)
    put(156, 1, typeflag)
    put(157, 100, linkname)
    put(257, 8, b'ustar\x0000')
    put(265, 32, b'root')
    put(297, 32, b'root')
    put(329, 8, _octal(devmajor, 8))
    put(337, 8, _octal(devminor, 8))
    s = sum(h) if checksum is None else checksum
    put(148, 8, b'%06o\0 ' % s)
    return bytes(h)


def pad(data):
    return data + b'\0' * (-len(data) % BLOCK)


def pax_record(key, value):
    body = b' ' + key + b'=' + value + b'\n'
    n = len(body) + 1
    while len(b'%d' % n) + len(body) != n:
        n += 1
    return b'%d' % n + body


def pax(records, typeflag=b'x'):
    data = b''.join(pax_record(k, v) for k, v in records)
    return header(b'PaxHeader', typeflag, len(data)) + pad(data)


def entry(name, data=b'', typeflag=b'0', mode=0o644, link=b'', **kw):
    """A member; names or link targets too long for ustar go in pax."""
    pre = []
    if len(name) > 100 or b'\0' in name:
        pre.append((b'path', name))
        name = b'longname'
    if len(link) > 100 or b'\0' in link:
        pre.append((b'linkpath', link))
        link = b'longlink'
    out = pax(pre) if pre else b''
    return out + header(name, typeflag, len(data), mode, link, **kw) + pad(data)


def file(name, data=b'x\n', mode=0o644):
    return entry(name, data, b'0', mode)


def dir_(name, mode=0o755):
    return entry(name.rstrip(b'/') + b'/', b'', b'5', mode)


def symlink(name, target):
    return entry(name, b'', b'2', 0o777, target)


def hardlink(name, target):
    return entry(name, b'', b'1', 0o644, target)


EOA = b'\0' * (2 * BLOCK)


def tar(*members):
    return b''.join(members) + EOA


# ------------------------------------------------------------ cases

class Case:
    def __init__(self, name, group, build, rc, modes=MODES, args=(),
                 setup=None, msg=None, entry=None, check=None, gz=False,
                 max_seconds=10, max_rss_kb=None, others=True):
        self.name, self.group, self.build = name, group, build
        self._rc, self.modes, self.args = rc, modes, tuple(args)
        self.setup, self.msg, self.entry, self.check = setup, msg, entry, check
        self.gz, self.max_seconds, self.max_rss_kb = gz, max_seconds, max_rss_kb
        self.others = others

    def rc(self, mode):
        return self._rc[mode] if isinstance(self._rc, dict) else self._rc

    def write(self, sb):
        """Builds the archive for this sandbox; returns its path."""
        data = self.build(sb)
        if isinstance(data, str):
            return data
        path = os.path.join(sb.archives, self.name + ('.tar.gz' if self.gz else '.tar'))
        with open(path, 'wb') as f:
            f.write(gzip.compress(data, 6, mtime=0) if self.gz else data)
        return path


def _content(sb, rel):
    with open(os.path.join(sb.dest, rel), 'rb') as f:
        return f.read()


def _expect_file(rel, data):
    def check(sb):
        p = os.path.join(sb.dest, rel)
        assert os.path.isfile(p) and not os.path.islink(p), '%s is not a file' % rel
        got = _content(sb, rel)
        assert got == data, '%s holds %r, want %r' % (rel, got[:60], data)
    return check


def _expect_absent(rel):
    def check(sb):
        assert not os.path.lexists(os.path.join(sb.dest, rel)), '%s was created' % rel
    return check


def _expect_mode(rel, mode):
    def check(sb):
        got = stat.S_IMODE(os.lstat(os.path.join(sb.dest, rel)).st_mode)
        assert got == mode, '%s has mode %o, want %o' % (rel, got, mode)
    return check


def _expect_dir(rel):
    def check(sb):
        p = os.path.join(sb.dest, rel)
        assert os.path.isdir(p) and not os.path.islink(p), '%s is not a real directory' % rel
    return check


def _all(*checks):
    def check(sb):
        for c in checks:
            c(sb)
    return check


def _absolute_check(sb):
    rel = os.path.relpath(os.path.join(sb.outside, 'abs'), '/')
    _expect_file(rel, b'abs\n')(sb)


def _setup_link(name, target_fn):
    def setup(sb):
        os.symlink(target_fn(sb), os.path.join(sb.dest, name))
    return setup


def _setup_dir(sb):
    os.makedirs(os.path.join(sb.dest, 'd'))
    with open(os.path.join(sb.dest, 'd', 'inner'), 'w') as f:
        f.write('inner\n')


_BOMB_CACHE = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'rzup-attack-bomb-1g.tar.gz')


def gzip_bomb(sb, size=1 << 30):
    """1 GiB of zeros in one member, gzip -9: about 1 MB, built once and
    kept in TMPDIR (takes a few seconds)."""
    if os.path.exists(_BOMB_CACHE):
        return _BOMB_CACHE
    tmp = _BOMB_CACHE + '.%d' % os.getpid()
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b'\0' * (1 << 20)
    with open(tmp, 'wb') as f:
        f.write(c.compress(header(b'bomb', size=size)))
        for _ in range(size >> 20):
            f.write(c.compress(zeros))
        f.write(c.compress(EOA) + c.flush())
    os.rename(tmp, _BOMB_CACHE)
    return _BOMB_CACHE


def _valid(sb):
    return tar(dir_(b'a'), file(b'a/one', b'1' * 700), file(b'a/two', b'2' * 100))


def _cut(n):
    return lambda sb: _valid(sb)[:n]


def _deep(n):
    return b'/'.join([b'd'] * (n - 1)) + b'/x'


def _many(n, size):
    return lambda sb: tar(*[file(b'f%03d' % i, b'z' * size) for i in range(n)])


MiB = 1 << 20

CASES = [
    # ------------------------------------------------------------ names
    Case('dotdot_lead', 'names', lambda sb: tar(file(b'../x')), 6,
         msg="'..' component", entry='../x'),
    Case('dotdot_middle', 'names', lambda sb: tar(file(b'a/../../x')), 6,
         msg="'..' component", entry='a/../../x'),
    Case('dotdot_trailing', 'names', lambda sb: tar(file(b'a/..')), 6,
         msg="'..' component", entry='a/..'),
    Case('dotdot_after_slash', 'names', lambda sb: tar(file(b'/../x')), 6,
         msg="'..' component"),
    Case('absolute_name', 'names',
         lambda sb: tar(file(sb.out('abs'), b'abs\n')), 0,
         msg="removing leading '/'", check=_absolute_check),
    Case('empty_name', 'names', lambda sb: tar(header(b'', size=0)), 6,
         msg='empty name'),
    Case('nul_in_pax_path', 'names',
         lambda sb: tar(pax([(b'path', b'a\0../../x')]) + header(b'x', size=0)), 6,
         msg='NUL'),
    Case('nul_in_pax_linkpath', 'names',
         lambda sb: tar(pax([(b'linkpath', b'in\0/etc')])
                        + header(b'l', b'2', 0, 0o777, b'x')), 6, msg='NUL'),
    # ------------------------------------------------------------ symlinks
    Case('symlink_dotdot_then_write', 'symlinks',
         lambda sb: tar(symlink(b'l', b'..'), file(b'l/x', b'pwned\n')), 6,
         msg='symlink points outside', entry='l'),
    Case('symlink_abs_then_write', 'symlinks',
         lambda sb: tar(symlink(b'l', sb.out()), file(b'l/x', b'pwned\n')), 6,
         msg='symlink points outside', entry='l'),
    Case('symlink_abs_then_write_allowed', 'symlinks',
         lambda sb: tar(symlink(b'l', sb.out()), file(b'l/x', b'pwned\n')), 6,
         args=['--allow-outside-symlinks'], msg='through a symlink', entry='l/x'),
    Case('symlink_chain_then_write', 'symlinks',
         lambda sb: tar(symlink(b'cur', b'.'), symlink(b'par', b'cur/..'),
                        file(b'par/x', b'pwned\n')), 6,
         msg='through a symlink', entry='par/x'),
    Case('symlink_chain_alone', 'symlinks',
         lambda sb: tar(symlink(b'cur', b'.'), symlink(b'par', b'cur/..')), 6,
         msg='symlink points outside', entry='par'),
    Case('symlink_chain_deep', 'symlinks',
         lambda sb: tar(dir_(b'a/b'), symlink(b'a/b/up', b'../..'),
                        symlink(b'a/esc', b'b/up/..')), 6,
         msg='symlink points outside', entry='a/esc'),
    Case('dir_replaced_by_symlink', 'symlinks',
         lambda sb: tar(dir_(b'd'), symlink(b'd', sb.out()), file(b'd/x', b'pwned\n')), 6,
         msg='symlink points outside', entry='d'),
    Case('dir_replaced_by_symlink_allowed', 'symlinks',
         lambda sb: tar(dir_(b'd'), symlink(b'd', sb.out()), file(b'd/x', b'pwned\n')), 6,
         args=['--allow-outside-symlinks'], msg='non-directory', entry='d'),
    Case('file_over_symlink', 'symlinks',
         lambda sb: tar(symlink(b'l', sb.out('f')), file(b'l', b'pwned\n')), 6,
         msg='symlink points outside', entry='l'),
    Case('file_over_symlink_allowed', 'symlinks',
         lambda sb: tar(symlink(b'l', sb.out('f')), file(b'l', b'pwned\n')), 0,
         args=['--allow-outside-symlinks'], check=_expect_file('l', b'pwned\n')),
    # ------------------------------------------------------------ hardlinks
    Case('hardlink_dotdot', 'hardlinks',
         lambda sb: tar(hardlink(b'h', b'../outside/f')), 6,
         msg="'..' component", entry='h'),
    Case('hardlink_dotdot_then_write', 'hardlinks',
         lambda sb: tar(hardlink(b'h', b'../outside/f'), file(b'h', b'pwned\n')), 6,
         msg="'..' component", entry='h'),
    Case('hardlink_absolute', 'hardlinks',
         lambda sb: tar(hardlink(b'h', sb.out('f')), file(b'h', b'pwned\n')), 6,
         msg='hardlink target', entry='h'),
    Case('hardlink_through_symlink', 'hardlinks',
         lambda sb: tar(symlink(b'l', sb.out()), hardlink(b'h', b'l/f')), 6,
         msg='symlink points outside', entry='l'),
    Case('hardlink_through_symlink_allowed', 'hardlinks',
         lambda sb: tar(symlink(b'l', sb.out()), hardlink(b'h', b'l/f'),
                        file(b'h', b'pwned\n')), 6,
         args=['--allow-outside-symlinks'], msg='through a symlink', entry='h'),
    Case('hardlink_to_symlink', 'hardlinks',
         lambda sb: tar(file(b'f'), symlink(b'l', b'f'), hardlink(b'h', b'l')), 6,
         msg='target is a symlink', entry='h'),
    Case('hardlink_to_outside_symlink_allowed', 'hardlinks',
         lambda sb: tar(symlink(b'l', sb.out('f')), hardlink(b'h', b'l'),
                        file(b'h', b'pwned\n')), 6,
         args=['--allow-outside-symlinks'], msg='target is a symlink', entry='h'),
    Case('hardlink_to_dir', 'hardlinks',
         lambda sb: tar(dir_(b'd'), hardlink(b'h', b'd')), 6,
         msg='target is a directory', entry='h'),
    Case('hardlink_to_missing', 'hardlinks',
         lambda sb: tar(hardlink(b'h', b'nothere')), 6,
         msg='target is missing', entry='h'),
    # ------------------------------------------------------------ special files
    Case('char_device', 'special',
         lambda sb: tar(entry(b'null', typeflag=b'3', devmajor=1, devminor=3),
                        file(b'after')), 0,
         msg='skipping device file', check=_all(_expect_absent('null'),
                                                 _expect_file('after', b'x\n'))),
    Case('block_device', 'special',
         lambda sb: tar(entry(b'disk', typeflag=b'4', devmajor=7, devminor=200),
                        file(b'after')), 0,
         msg='skipping device file', check=_expect_absent('disk')),
    Case('fifo', 'special',
         lambda sb: tar(entry(b'pipe', typeflag=b'6'), file(b'after')), 0,
         msg='skipping FIFO', check=_expect_absent('pipe')),
    # ------------------------------------------------------------ modes
    Case('setuid_file', 'modes', lambda sb: tar(file(b'su', mode=0o4755)), 0,
         check=_expect_mode('su', 0o755)),
    Case('setgid_file', 'modes', lambda sb: tar(file(b'sg', mode=0o2755)), 0,
         check=_expect_mode('sg', 0o755)),
    Case('sticky_world_writable_dir', 'modes',
         lambda sb: tar(dir_(b'tmp', mode=0o1777), file(b'tmp/f')), 0,
         check=_expect_mode('tmp', 0o755)),
    Case('world_writable_file', 'modes', lambda sb: tar(file(b'ww', mode=0o666)), 0,
         check=_expect_mode('ww', 0o644)),
    # ------------------------------------------------------------ format
    Case('bad_checksum', 'format',
         lambda sb: tar(header(b'f', size=0, checksum=12345)), 5, msg='checksum'),
    Case('size_negative_base256', 'format',
         lambda sb: tar(header(b'f', size_field=_b256(-512, 12))), 5,
         msg='invalid numeric field', entry='f'),
    Case('size_not_octal', 'format',
         lambda sb: tar(header(b'f', size_field=b'12345678x9\0\0')), 5,
         msg='invalid numeric field', entry='f'),
    Case('size_absurd_truncated', 'format',
         lambda sb: header(b'f', size_field=_b256(1 << 62, 12)) + b'A' * 4096, 5,
         msg='ends in the middle', entry='f', max_seconds=2),
    Case('truncated_mid_header', 'format', _cut(BLOCK * 3 + 300), 5,
         msg='ends in the middle'),
    Case('truncated_mid_data', 'format', _cut(BLOCK * 2 + 200), 5,
         msg='ends in the middle', entry='a/one'),
    Case('missing_end_blocks', 'format', lambda sb: _valid(sb)[:-2 * BLOCK], 5,
         msg='end-of-archive'),
    Case('one_end_block', 'format', lambda sb: _valid(sb)[:-BLOCK], 5,
         msg='end-of-archive'),
    Case('trailing_garbage', 'format', lambda sb: _valid(sb) + b'GARBAGE!' * 64, 5,
         msg='after the end'),
    Case('trailing_garbage_gz', 'format', lambda sb: _valid(sb) + b'GARBAGE!' * 64, 5,
         msg='after the end', gz=True),
    Case('pax_declared_1gb', 'format',
         lambda sb: header(b'PaxHeader', b'x', 1 << 30) + b'20 path=aaaaaaaaaaa\n', 5,
         msg='larger than 1 MiB', max_seconds=2, max_rss_kb=64 * 1024),
    Case('pax_record_length_huge', 'format',
         lambda sb: tar(header(b'PaxHeader', b'x', 20) + pad(b'999999999 path=a\n'),
                        file(b'f')), 5,
         msg='pax', max_seconds=2, max_rss_kb=64 * 1024),
    Case('gnu_longname_over_1mib', 'format',
         lambda sb: tar(header(b'././@LongLink', b'L', MiB + 1) + pad(b'n' * (MiB + 1)),
                        file(b'f')), 5,
         msg='larger than 1 MiB', max_seconds=2, max_rss_kb=64 * 1024),
    Case('gnu_longname_declared_2gb', 'format',
         lambda sb: header(b'././@LongLink', b'L', 2 << 30) + b'n' * 4096, 5,
         msg='larger than 1 MiB', max_seconds=2, max_rss_kb=64 * 1024),
    Case('pax_then_end', 'format', lambda sb: tar(pax([(b'path', b'x')])), 5,
         msg='not followed by an entry'),
    # ------------------------------------------------------------ structure
    Case('deeper_than_1024', 'structure', lambda sb: tar(file(_deep(1025))), 6,
         msg='too long'),
    Case('depth_1024_ok', 'structure', lambda sb: tar(file(_deep(1024), b'deep\n')), 0,
         check=_expect_file(os.fsdecode(_deep(1024)), b'deep\n')),
    Case('name_over_4096', 'structure',
         lambda sb: tar(file((b'c' * 200 + b'/') * 21 + b'x')), 6, msg='too long'),
    Case('over_1024_components_short', 'structure', lambda sb: tar(file(b'n/' * 1500 + b'n')), 6,
         msg='too long'),
    Case('component_over_255', 'structure', lambda sb: tar(file(b'c' * 256)), 6,
         msg='too long'),
    Case('duplicate_file_last_wins', 'structure',
         lambda sb: tar(file(b'f', b'one\n'), file(b'f', b'two\n')), 0,
         check=_expect_file('f', b'two\n')),
    Case('nondir_over_dir', 'structure',
         lambda sb: tar(dir_(b'd'), file(b'd/x'), file(b'd', b'file\n')), 6,
         msg='non-directory', entry='d'),
    Case('symlink_over_dir', 'structure',
         lambda sb: tar(dir_(b'd'), dir_(b'e'), symlink(b'd', b'e')), 6,
         msg='non-directory', entry='d'),
    Case('dir_over_file', 'structure',
         lambda sb: tar(file(b'd'), dir_(b'd'), file(b'd/x', b'in\n')), 0,
         check=_expect_file('d/x', b'in\n')),
    Case('root_as_file', 'structure', lambda sb: tar(file(b'.', b'x\n')), 6,
         msg='non-directory'),
    # ------------------------------------------------------------ merge
    Case('file_over_existing_dir', 'merge',
         lambda sb: tar(file(b'aaa', b'new\n'), file(b'd', b'file\n')),
         {'merge': 6, 'replace': 0}, modes=('merge', 'replace'), setup=_setup_dir,
         msg='non-directory', entry='d'),
    Case('file_over_planted_symlink', 'merge',
         lambda sb: tar(file(b'l', b'pwned\n')), 0, modes=('merge', 'replace'),
         setup=_setup_link('l', lambda sb: os.path.join(sb.outside, 'f')),
         check=_expect_file('l', b'pwned\n')),
    Case('second_archive_through_planted_symlink', 'merge',
         lambda sb: tar(dir_(b'a'), file(b'a/x', b'pwned\n')), 0,
         modes=('merge', 'replace'),
         setup=_setup_link('a', lambda sb: sb.outside),
         check=_all(_expect_dir('a'), _expect_file('a/x', b'pwned\n'))),
    Case('second_archive_implied_dir', 'merge',
         lambda sb: tar(file(b'a/x', b'pwned\n')), 0, modes=('merge', 'replace'),
         setup=_setup_link('a', lambda sb: sb.outside),
         check=_all(_expect_dir('a'), _expect_file('a/x', b'pwned\n'))),
    Case('chain_completed_by_planted_symlink', 'merge',
         lambda sb: tar(file(b'aaa', b'new\n'), symlink(b'par', b'cur/..'),
                        file(b'zzz', b'new\n')),
         {'merge': 6, 'replace': 0}, modes=('merge', 'replace'),
         setup=_setup_link('cur', lambda sb: '.'),
         msg='symlink points outside', entry='par'),
    Case('chain_planted_deep', 'merge',
         lambda sb: tar(file(b'aaa', b'new\n'), symlink(b'p', b'sub/up/..')),
         {'merge': 6, 'replace': 0}, modes=('merge', 'replace'),
         setup=lambda sb: (os.makedirs(os.path.join(sb.dest, 'sub')),
                           os.symlink('..', os.path.join(sb.dest, 'sub', 'up'))),
         msg='symlink points outside', entry='p'),
    Case('chain_planted_then_write', 'merge',
         lambda sb: tar(symlink(b'par', b'cur/..'), file(b'par/x', b'pwned\n')), 6,
         modes=('merge', 'replace'), setup=_setup_link('cur', lambda sb: '.'),
         msg='through a symlink', entry='par/x'),
    # ------------------------------------------------------------ limits
    Case('max_size', 'limits', _many(3, 600 * 1024), 6, args=['--max-size', '1M'],
         msg='--max-size'),
    Case('max_entries', 'limits', _many(20, 10), 6, args=['--max-entries', '10'],
         msg='--max-entries'),
    Case('max_file_size', 'limits', _many(1, 2 * MiB), 6,
         args=['--max-file-size', '1M'], msg='--max-file-size', entry='f000'),
    Case('gzip_bomb_max_ratio', 'limits', gzip_bomb, 6, args=['--max-ratio', '100'],
         msg='--max-ratio', max_seconds=5, max_rss_kb=64 * 1024, others=False),
    Case('gzip_bomb_max_size', 'limits', gzip_bomb, 6, args=['--max-size', '10M'],
         msg='--max-size', max_seconds=5, others=False),
]


def by_name(name):
    for c in CASES:
        if c.name == name:
            return c
    raise KeyError(name)
