#!/usr/bin/env python3
"""Generate build.ninja for rzup-extract.

Modelled on ninja's own configure.py: a plain script, sources listed by name,
dependencies found with pkg-config, and a `configure` rule with generator = 1
so build.ninja regenerates itself when this script changes.

    python3 configure.py [--debug] [--asan] [--builddir DIR] [--output FILE]
    python3 configure.py --fuzz   # libFuzzer targets, see tests/fuzz/README.md

CC, CFLAGS and LDFLAGS from the environment are honoured and recorded.
--fuzz writes build-fuzz/build.ninja (run `ninja -f build-fuzz/build.ninja`)
with clang and -fsanitize=fuzzer,address,undefined; it builds the library
and the fuzz targets only, and leaves build.ninja alone.
"""

import argparse
import os
import shlex
import shutil
import subprocess
import sys

# ---------------------------------------------------------------- sources
FORMATS = ['rz_error', 'tar_parser', 'tar_path', 'decoder']
# The decoder's backends: always built (zlib is required, LZW is ours) ...
FORMATS += ['magic', 'gzip_members', 'dec_zlib', 'lzw', 'dec_lzw']
# ... and those built when configure finds their library:
# (name, pkg-config module, header and -l for a library without a .pc file,
# source, macro).
OPTIONAL_DECODERS = [
    ('xz', 'liblzma', ('lzma.h', 'lzma'), 'dec_xz', 'RZ_HAVE_LZMA'),
    ('zstd', 'libzstd', ('zstd.h', 'zstd'), 'dec_zstd', 'RZ_HAVE_ZSTD'),
    ('bzip2', 'bzip2', ('bzlib.h', 'bz2'), 'dec_bzip2', 'RZ_HAVE_BZIP2'),
    ('lz4', 'liblz4', ('lz4frame.h', 'lz4'), 'dec_lz4', 'RZ_HAVE_LZ4'),
    # not a format: ISA-L's inflate as the gzip engine (zlib otherwise)
    ('isal', 'libisal', ('isa-l/igzip_lib.h', 'isal'), 'dec_isal', 'RZ_HAVE_ISAL'),
]
FORMATS += ['tar_numeric', 'tar_sparse', 'tar_pax']
PIPELINE = ['fs_sink', 'fs_publish', 'fs_merge', 'fs_tree', 'fs_walk', 'fs_journal',
            'handoff', 'http_source', 'http_policy', 'http_multi', 'fd_source', 'digest', 'list_sink',
            'pipeline', 'progress', 'manifest', 'installer']
PIPELINE += ['fs_writer', 'fs_record', 'fs_report', 'fs_order', 'fs_pool',
             'fs_tree_ops']
PIPELINE += ['install_multi']
MAIN = 'pipeline/main'

# Unit tests: tests/NAME.c, linked with the library.
UNIT_TESTS = ['test_rz_error', 'test_tar_parser', 'test_tar_path',
              'test_decoder', 'test_digest', 'test_fs_sink', 'test_handoff',
              'test_http_policy', 'test_manifest']
UNIT_TESTS += ['test_fs_order']
# Helper programs the tests use (tests/ or tools/), linked with the library.
TEST_PROGRAMS = ['tests/libtar_ref', 'tools/libtar_write']
# Programs with no library (tests/NAME.c alone).
TEST_STANDALONE = ['tests/seccomp_launch']
# libFuzzer targets (--fuzz): tests/fuzz/NAME.c, each with FUZZ_COMMON and
# the library objects they exercise (no network code in a fuzzer).
FUZZ_TARGETS = ['fuzz_tar_parser', 'fuzz_decoder_parser', 'fuzz_pipeline']
FUZZ_TARGETS += ['fuzz_decoders', 'fuzz_gzip_engines']
FUZZ_COMMON = 'tests/fuzz/fuzz_common'
FUZZ_OBJS = ['formats/' + s for s in FORMATS] + ['pipeline/fs_sink',
                                                 'pipeline/fs_publish',
                                                 'pipeline/fs_merge', 'pipeline/fs_tree',
                                                 'pipeline/fs_walk', 'pipeline/fs_journal']
FUZZ_OBJS += ['pipeline/' + s for s in ['fs_writer', 'fs_record', 'fs_report',
                                        'fs_order', 'fs_pool', 'fs_tree_ops']]
# fuzz_pipeline drives the real pipeline object (pipeline/pipeline.c),
# which links the sources too; the fuzzer itself pushes from memory.
FUZZ_OBJS += ['pipeline/' + s for s in ['pipeline', 'handoff', 'digest',
                                        'list_sink', 'progress',
                                        'http_source', 'http_policy', 'http_multi',
                                        'fd_source']]


class Writer:
    """The few parts of ninja_syntax.py this script needs."""

    def __init__(self, out):
        self.out = out

    def line(self, text=''):
        self.out.write(text + '\n')

    def comment(self, text):
        self.line('# ' + text)

    def variable(self, key, value, indent=0):
        if isinstance(value, list):
            value = ' '.join(v for v in value if v)
        self.line('  ' * indent + '%s = %s' % (key, value))

    def rule(self, name, command, description=None, depfile=None,
             generator=False, pool=None, restat=False, deps=None):
        self.line('rule ' + name)
        self.variable('command', command, 1)
        if description:
            self.variable('description', description, 1)
        if depfile:
            self.variable('depfile', depfile, 1)
        if deps:
            self.variable('deps', deps, 1)
        if generator:
            self.variable('generator', '1', 1)
        if pool:
            self.variable('pool', pool, 1)
        if restat:
            self.variable('restat', '1', 1)
        self.line()

    def build(self, outputs, rule, inputs=None, implicit=None,
              order_only=None, variables=None):
        outputs = outputs if isinstance(outputs, list) else [outputs]
        inputs = inputs or []
        inputs = inputs if isinstance(inputs, list) else [inputs]
        text = 'build %s: %s' % (' '.join(outputs), ' '.join([rule] + inputs))
        if implicit:
            text += ' | ' + ' '.join(implicit)
        if order_only:
            text += ' || ' + ' '.join(order_only)
        self.line(text)
        for k, v in (variables or {}).items():
            self.variable(k, v, 1)
        self.line()

    def default(self, targets):
        self.line('default ' + ' '.join(targets))


def pkg_config(pkgs, what):
    try:
        out = subprocess.run(['pkg-config', what] + pkgs, check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        msg = getattr(e, 'stderr', '') or str(e)
        sys.exit('configure.py: pkg-config %s failed: %s\n'
                 'Install the -dev packages (see README.md).' % (
                     ' '.join(pkgs), msg.strip()))
    return shlex.split(out)


def have_header_and_lib(cc, header, lib):
    """libtar ships no .pc file: compile and link a one-line program."""
    src = '#include <stddef.h>\n#include <%s>\nint main(void){return 0;}\n' % header
    try:
        r = subprocess.run(shlex.split(cc) + ['-x', 'c', '-', '-o', os.devnull,
                                              '-l' + lib],
                           input=src, capture_output=True, text=True)
    except OSError:
        return False
    return r.returncode == 0


def find_decoders(cc, without):
    """Optional decoder libraries: (sources, cflags, libs, report lines)."""
    srcs, cflags, libs, report = [], [], [], []
    for name, pc, (header, lib), src, macro in OPTIONAL_DECODERS:
        if name in without:
            report.append('%s: disabled (--without %s)' % (name, name))
            continue
        r = subprocess.run(['pkg-config', '--exists', pc])
        if r.returncode == 0:
            ver = subprocess.run(['pkg-config', '--modversion', pc],
                                 capture_output=True, text=True).stdout.strip()
            cflags += pkg_config([pc], '--cflags')
            libs += pkg_config([pc], '--libs')
            report.append('%s: %s %s' % (name, pc, ver))
        elif have_header_and_lib(cc, header, lib):
            libs.append('-l' + lib)
            report.append('%s: lib%s (header and library, no .pc file)' % (name, lib))
        else:
            report.append('%s: NOT FOUND (%s); %s' % (
                name, pc, 'gzip uses zlib' if name == 'isal' else
                '.%s input will fail with "not built in"' % name))
            continue
        srcs.append(src)
        cflags.append('-D' + macro)
    return srcs, cflags, libs, report


def write_fuzz_targets(n, obj, args):
    """--fuzz: the fuzz targets and the objects they use, nothing else."""
    for s in FUZZ_OBJS:
        n.build(obj(s), 'cc', s + '.c')
    n.build(obj(FUZZ_COMMON), 'cc', FUZZ_COMMON + '.c')
    exes = []
    for t in FUZZ_TARGETS:
        src = 'tests/fuzz/' + t
        n.build(obj(src), 'cc', src + '.c')
        exe = '%s/fuzz/%s' % (args.builddir, t)
        n.build(exe, 'link', [obj(src), obj(FUZZ_COMMON)]
                + [obj(s) for s in FUZZ_OBJS])
        exes.append(exe)
    n.build('fuzz', 'phony', exes)
    n.build(args.output, 'configure', implicit=['configure.py'])
    n.default(exes)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--debug', action='store_true',
                    help='-O0 -g, assertions on')
    ap.add_argument('--asan', action='store_true',
                    help='AddressSanitizer + UndefinedBehaviorSanitizer')
    ap.add_argument('--fuzz', action='store_true',
                    help='libFuzzer targets with clang (ASan+UBSan); defaults '
                    'to --builddir build-fuzz --output build-fuzz/build.ninja')
    ap.add_argument('--builddir', default=None,
                    help='where objects and test programs go (default: build)')
    ap.add_argument('--output', default=None,
                    help='the ninja file to write (default: build.ninja)')
    ap.add_argument('--binary', default='rzup-extract',
                    help='path of the tool (default: ./rzup-extract)')
    ap.add_argument('--prefix', default='/usr/local',
                    help='where `ninja install` installs (default /usr/local;'
                    ' PREFIX and DESTDIR in the environment override)')
    ap.add_argument('--without', action='append', default=[],
                    choices=[d[0] for d in OPTIONAL_DECODERS],
                    help='leave out an optional decoder even if its library '
                    'is installed (repeatable)')
    args = ap.parse_args()
    if args.builddir is None:
        args.builddir = 'build-fuzz' if args.fuzz else 'build'
    if args.output is None:
        args.output = 'build-fuzz/build.ninja' if args.fuzz else 'build.ninja'

    cc = os.environ.get('CC', 'clang' if args.fuzz else 'cc')
    env_cflags = os.environ.get('CFLAGS', '')
    env_ldflags = os.environ.get('LDFLAGS', '')

    required = ['libcurl', 'zlib', 'libcrypto', 'yaml-0.1']
    cflags_deps = pkg_config(required, '--cflags')
    libs = pkg_config(required, '--libs')
    print('configure.py: found ' + ', '.join(
        '%s %s' % (p, subprocess.run(['pkg-config', '--modversion', p],
                                     capture_output=True, text=True).stdout.strip())
        for p in required))
    if not have_header_and_lib(cc, 'libtar.h', 'tar'):
        sys.exit('configure.py: libtar not found (apt-get install libtar-dev)')
    print('configure.py: found libtar (header and library)')

    dec_srcs, dec_cflags, dec_libs, dec_report = find_decoders(cc, args.without)
    FORMATS.extend(dec_srcs)
    FUZZ_OBJS.extend('formats/' + x for x in dec_srcs)
    libs += dec_libs
    cflags_deps += dec_cflags
    for line in dec_report:
        print('configure.py: decoder ' + line)

    cflags = ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Wshadow',
              '-Wstrict-prototypes', '-Wmissing-prototypes', '-Wvla',
              '-Wno-unused-parameter', '-pthread']
    ldflags = ['-pthread']
    if args.fuzz:
        # assertions stay on: they are invariants the fuzzer should break
        cflags += ['-O1', '-g', '-fsanitize=fuzzer-no-link,address,undefined',
                   '-fno-sanitize-recover=all', '-fno-omit-frame-pointer']
        ldflags += ['-fsanitize=fuzzer,address,undefined']
    elif args.debug:
        cflags += ['-O0', '-g3']
    else:
        cflags += ['-O2', '-g', '-DNDEBUG']
    if args.asan:
        san = ['-fsanitize=address,undefined', '-fno-sanitize-recover=all',
               '-fno-omit-frame-pointer']
        cflags += san
        ldflags += san
    cflags += cflags_deps

    b = args.builddir
    if os.path.dirname(args.output):
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
    out = open(args.output + '.tmp', 'w')
    n = Writer(out)
    n.comment('This file is generated by configure.py; do not edit.')
    n.comment('configure.py arguments: ' + ' '.join(shlex.quote(a) for a in sys.argv[1:]))
    n.comment('CC=%s CFLAGS=%s LDFLAGS=%s' % (cc, env_cflags, env_ldflags))
    n.line('ninja_required_version = 1.3')
    n.line()
    n.variable('builddir', b)
    n.variable('cc', cc)
    n.variable('cflags', cflags + shlex.split(env_cflags))
    n.variable('ldflags', ldflags + shlex.split(env_ldflags))
    n.variable('libs', libs)
    n.line()
    n.rule('cc', '$cc -MMD -MF $out.d $cflags -c $in -o $out',
           description='CC $out', depfile='$out.d', deps='gcc')
    n.rule('ar', 'rm -f $out && ar crs $out $in', description='AR $out')
    n.rule('link', '$cc $ldflags -o $out $in $libs $extra_libs',
           description='LINK $out')
    n.rule('test', 'python3 tests/run.py --builddir $builddir --binary $binary',
           description='TEST', pool='console')
    configure_args = ' '.join(shlex.quote(a) for a in sys.argv[1:])
    n.rule('configure',
           'CC=%s CFLAGS=%s LDFLAGS=%s python3 configure.py %s' % (
               shlex.quote(cc), shlex.quote(env_cflags),
               shlex.quote(env_ldflags), configure_args),
           description='CONFIGURE', generator=True)

    def obj(src):
        return '%s/obj/%s.o' % (b, src)

    if args.fuzz:
        write_fuzz_targets(n, obj, args)
        out.close()
        os.replace(args.output + '.tmp', args.output)
        print('configure.py: wrote %s (builddir %s, libFuzzer + asan+ubsan)'
              % (args.output, b))
        return

    lib_objs = []
    for s in FORMATS:
        n.build(obj('formats/' + s), 'cc', 'formats/%s.c' % s)
        lib_objs.append(obj('formats/' + s))
    for s in PIPELINE:
        n.build(obj('pipeline/' + s), 'cc', 'pipeline/%s.c' % s)
        lib_objs.append(obj('pipeline/' + s))
    lib = '%s/librzup.a' % b
    n.build(lib, 'ar', lib_objs)

    n.build(obj(MAIN), 'cc', MAIN + '.c')
    n.build(args.binary, 'link', [obj(MAIN), lib])

    test_bins = []
    for t in UNIT_TESTS:
        n.build(obj('tests/' + t), 'cc', 'tests/%s.c' % t)
        exe = '%s/tests/%s' % (b, t)
        n.build(exe, 'link', [obj('tests/' + t), lib])
        test_bins.append(exe)
    for p in TEST_PROGRAMS:
        n.build(obj(p), 'cc', p + '.c')
        exe = '%s/%s' % (b, p)
        n.build(exe, 'link', [obj(p), lib], variables={'extra_libs': '-ltar'})
        test_bins.append(exe)

    for p in TEST_STANDALONE:
        n.build(obj(p), 'cc', p + '.c')
        exe = '%s/%s' % (b, p)
        n.build(exe, 'link', [obj(p)])
        test_bins.append(exe)
    n.build('tests', 'phony', test_bins)
    n.build('test', 'test', implicit=[args.binary] + test_bins,
            variables={'binary': args.binary})
    # The man page (gzipped) and `ninja install` (tools/install.sh reads
    # PREFIX and DESTDIR from the environment).
    n.rule('gzip', 'gzip -9n < $in > $out', description='GZIP $out')
    n.rule('install', 'sh tools/install.sh %s $in' % shlex.quote(args.prefix),
           description='INSTALL', pool='console')
    man = '%s/rzup-extract.1.gz' % b
    n.build(man, 'gzip', 'docs/rzup-extract.1')
    n.build('install', 'install', [args.binary, man,
                                   'completion/rzup-extract.bash'],
            implicit=['tools/install.sh'])
    n.build(args.output, 'configure', implicit=['configure.py'])
    n.default([args.binary, man])
    out.close()
    os.replace(args.output + '.tmp', args.output)
    print('configure.py: wrote %s (builddir %s%s%s)' % (
        args.output, b, ', debug' if args.debug else '',
        ', asan+ubsan' if args.asan else ''))


if __name__ == '__main__':
    main()
