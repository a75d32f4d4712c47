#!/usr/bin/env python3
"""Run every test of rzup-extract and print one summary line.

    python3 tests/run.py [--builddir build] [--binary ./rzup-extract] [-k PATTERN]

1. builds the conformance fixtures (tools/mkfixtures.py: GNU tar, bsdtar,
   Python tarfile, libtar) into BUILDDIR/fixtures;
2. runs each unit-test binary (BUILDDIR/tests/test_*), counting its
   PASS/FAIL lines; a binary that crashes counts as a failure;
3. compares our parser's listing of every fixture with libtar's
   (an independent tar implementation);
4. runs the integration tests in tests/test_*.py (real nginx over HTTP and
   HTTPS on 127.0.0.1, real pipes, real disk).

Ends with "N passed, N failed, N skipped".  Exit status 1 if anything failed.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)

UNIT_TESTS = ['test_rz_error', 'test_tar_parser', 'test_tar_path',
              'test_decoder', 'test_digest', 'test_fs_sink', 'test_handoff',
              'test_http_policy', 'test_manifest']
UNIT_TESTS += ['test_fs_order']
INTEGRATION = ['test_cli', 'test_http', 'test_failures', 'test_attacks', 'test_network',
               'test_live', 'test_install', 'test_progress']
INTEGRATION += ['test_formats']
INTEGRATION += ['test_install_multi']
INTEGRATION += ['test_tar_formats']
INTEGRATION += ['test_conformance', 'test_diff_fixtures']
INTEGRATION += ['test_bench']
INTEGRATION += ['test_threads']
# Suites run once more with writer threads (RZUP_TEST_THREADS, which the
# sink takes as the default of --threads): the policy, the attack catalogue
# and the live-system tests must hold on the serial path and with threads.
# --threads N sets the count of the main pass too.
THREADED = ['test_cli', 'test_failures', 'test_attacks', 'test_live']
THREADED_COUNT = '4'
# Fixtures that libtar can read (it has no pax support).
LIBTAR_COMPARABLE = ['gnu', 'pygnu', 'libtar']


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def record(self, name, status, why=''):
        if status == 'PASS':
            self.passed += 1
        elif status == 'SKIP':
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append(name)
        line = '%s %s' % (status, name)
        if why:
            line += ': ' + why
        print(line, flush=True)


# A test that takes longer than this many seconds says so (RZUP_TEST_SLOW).
SLOW = float(os.environ.get('RZUP_TEST_SLOW', '20'))


def slow(t0, what=''):
    took = time.monotonic() - t0
    if took > SLOW:
        print('  (slow%s: %.1f s)' % (' ' + what if what else '', took))


def run_unit(tally, builddir, fixtures, pattern):
    env = dict(os.environ, RZ_FIXTURES=fixtures)
    for t in UNIT_TESTS:
        if pattern and pattern not in t:
            continue
        exe = os.path.join(builddir, 'tests', t)
        if not os.path.exists(exe):
            tally.record(t, 'FAIL', 'not built')
            continue
        t0 = time.monotonic()
        p = subprocess.run([exe], env=env, capture_output=True, text=True)
        slow(t0, t)
        seen = 0
        for line in p.stdout.splitlines():
            status, _, name = line.partition(' ')
            if status in ('PASS', 'FAIL', 'SKIP'):
                seen += 1
                tally.record('%s.%s' % (t, name), status)
        if p.stderr.strip():
            sys.stdout.write(p.stderr)
        if p.returncode != 0 and 'FAIL' not in p.stdout:
            tally.record(t, 'FAIL', 'exited %d after %d tests' % (p.returncode, seen))


def run_conformance(tally, builddir, fixtures, pattern):
    if pattern and pattern not in 'conformance':
        return
    ours = os.path.join(builddir, 'tests', 'test_tar_parser')
    ref = os.path.join(builddir, 'tests', 'libtar_ref')
    for name in LIBTAR_COMPARABLE:
        tar = os.path.join(fixtures, name + '.tar')
        test = 'conformance.libtar_vs_ours.' + name
        if not os.path.exists(tar):
            tally.record(test, 'FAIL', 'fixture missing')
            continue
        a = subprocess.run([ours, '--dump', tar], capture_output=True, text=True)
        b = subprocess.run([ref, tar], capture_output=True, text=True)
        if a.returncode or b.returncode or a.stdout != b.stdout or not a.stdout:
            why = 'ours rc=%d, libtar rc=%d' % (a.returncode, b.returncode)
            if a.stdout != b.stdout:
                import difflib
                diff = difflib.unified_diff(b.stdout.splitlines(), a.stdout.splitlines(),
                                            'libtar', 'ours', lineterm='', n=0)
                why += '\n' + '\n'.join(list(diff)[:20])
            tally.record(test, 'FAIL', why + a.stderr + b.stderr)
        else:
            tally.record(test, 'PASS')


def run_integration(tally, builddir, binary, fixtures, pattern,
                    modules=INTEGRATION, tag=''):
    sys.path.insert(0, HERE)
    import harness
    ctx = harness.Context(TOP, builddir, os.path.abspath(binary), fixtures)
    try:
        for modname in modules:
            spec = importlib.util.spec_from_file_location(
                modname, os.path.join(HERE, modname + '.py'))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            for fname in sorted(n for n in dir(mod) if n.startswith('test_')):
                name = '%s.%s%s' % (modname, fname, tag)
                if pattern and pattern not in name:
                    continue
                t0 = time.monotonic()
                try:
                    getattr(mod, fname)(ctx)
                    tally.record(name, 'PASS')
                except harness.Skip as e:
                    tally.record(name, 'SKIP', str(e))
                except Exception as e:  # noqa: BLE001 - report every failure
                    tb = traceback.format_exc(limit=4)
                    tally.record(name, 'FAIL', '%s\n%s' % (e, tb))
                slow(t0, name)
    finally:
        ctx.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--builddir', default='build')
    ap.add_argument('--binary', default='./rzup-extract')
    ap.add_argument('-k', dest='pattern', default='',
                    help='run only tests whose name contains this')
    ap.add_argument('--threads', default='',
                    help='RZUP_TEST_THREADS for the main pass (default: '
                    'the binary\'s own default)')
    args = ap.parse_args()
    if args.threads:
        os.environ['RZUP_TEST_THREADS'] = args.threads
    os.chdir(TOP)
    # Under the sanitizer build: leaks fail the run, except libtar's own.
    os.environ.setdefault('LSAN_OPTIONS', 'suppressions=%s:print_suppressions=0'
                          % os.path.join(HERE, 'lsan.supp'))
    os.environ.setdefault('ASAN_OPTIONS', 'detect_leaks=1:abort_on_error=0')
    os.environ.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')
    fixtures = os.path.abspath(os.path.join(args.builddir, 'fixtures'))
    subprocess.run([sys.executable, 'tools/mkfixtures.py', fixtures,
                    '--libtar-write', os.path.join(args.builddir, 'tools', 'libtar_write')],
                   check=True, stdout=subprocess.DEVNULL)
    tally = Tally()
    run_unit(tally, args.builddir, fixtures, args.pattern)
    run_conformance(tally, args.builddir, fixtures, args.pattern)
    run_integration(tally, args.builddir, args.binary, fixtures, args.pattern)
    main_threads = os.environ.pop('RZUP_TEST_THREADS', None)
    again = '1' if main_threads not in (None, '', '1') else THREADED_COUNT
    os.environ['RZUP_TEST_THREADS'] = again
    run_integration(tally, args.builddir, args.binary, fixtures, args.pattern,
                    THREADED, '[threads=%s]' % again)
    del os.environ['RZUP_TEST_THREADS']
    if tally.failures:
        print('\nFailed:\n  ' + '\n  '.join(tally.failures))
    print('%d passed, %d failed, %d skipped' % (tally.passed, tally.failed,
                                                tally.skipped))
    return 1 if tally.failed else 0


if __name__ == '__main__':
    sys.exit(main())
