"""Every hostile archive of tests/attacks.py through the binary, into an
absent destination, an existing one (merge) and an existing one with
--replace, wherever the case applies.  For each run: the exit status, the
message (the rule and the entry), nothing outside the destination changed
(a sentinel directory beside it, and everything else in the sandbox), the
destination exactly as it was on failure, no staging directory left, and
the case's own check of what was extracted on success.  Resource bounds
(time, and peak RSS through /usr/bin/time) for the cases that declare them.

One test function per group; every case and mode is checked on its own and
a failure names it."""

import os
import shutil
import subprocess
import sys
import time

import attacks
from harness import Skip, listing, snapshot

TIME = '/usr/bin/time'

# os.walk and shutil.rmtree recurse once per level: depth_1024_ok is deep
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))


def _outside_view(sb):
    """The sandbox minus the destination (and the archives)."""
    snap = snapshot(sb.box)
    return {k: v for k, v in snap.items()
            if k != 'dest' and not k.startswith('dest/')}


def _run(ctx, case, sb, archive, mode, launch=()):
    args = ['-C', sb.dest] + list(case.args)
    if mode == 'replace':
        args.append('--replace')
    args.append(archive)
    rss_file = None
    cmd = list(launch) + [ctx.binary] + args
    if case.max_rss_kb and os.path.exists(TIME):
        rss_file = os.path.join(sb.root, 'rss')
        cmd = [TIME, '-f', '%M', '-o', rss_file] + cmd
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    elapsed = time.monotonic() - t0
    err = p.stderr.decode('utf-8', 'replace')
    assert 'Sanitizer' not in err and 'runtime error:' not in err, err
    rss = None
    if rss_file and os.path.exists(rss_file):
        lines = open(rss_file).read().split()
        rss = int(lines[-1]) if lines and lines[-1].isdigit() else None
    return p.returncode, err, elapsed, rss


def _asan(ctx):
    return 'asan' in ctx.binary or 'asan' in ctx.builddir


def check_case(ctx, case, mode, launch=()):
    """Runs one case in one mode (under `launch`, a command prefix such as
    the seccomp launcher); returns a list of problems."""
    sb = attacks.Sandbox(ctx.mkdtemp('atk'))
    archive = case.write(sb)
    if mode != 'absent':
        sb.make_dest()
        if case.setup:
            case.setup(sb)
    outside_before = _outside_view(sb)
    dest_before = listing(sb.dest)
    rc, err, elapsed, rss = _run(ctx, case, sb, archive, mode, launch)
    want = case.rc(mode)
    problems = []
    if rc != want:
        problems.append('exit %d, want %d; stderr: %s' % (rc, want, err.strip()[-400:]))
    if _outside_view(sb) != outside_before:
        problems.append('SOMETHING OUTSIDE THE DESTINATION CHANGED')
    if rc != 0 and listing(sb.dest) != dest_before:
        problems.append('the destination changed on failure')
    for d in (sb.box, sb.dest):
        if os.path.isdir(d):
            left = [n for n in os.listdir(d) if 'rzup' in n]
            if left:
                problems.append('staging left in %s: %s' % (d, left))
    # a warning case checks its message always; a refusal only where it fails
    if case.msg and (want != 0 or not isinstance(case._rc, dict)) \
            and case.msg not in err:
        problems.append('stderr lacks %r: %s' % (case.msg, err.strip()[-300:]))
    if case.entry and rc != 0 and ('entry: ' + case.entry) not in err:
        problems.append('stderr does not name entry %r: %s' % (case.entry, err.strip()[-300:]))
    if rc == 0 and want == 0 and case.check:
        try:
            case.check(sb)
        except AssertionError as e:
            problems.append('check: %s' % e)
    if elapsed > case.max_seconds:
        problems.append('took %.2f s (bound %.1f s)' % (elapsed, case.max_seconds))
    if rss is not None and case.max_rss_kb and not _asan(ctx) and rss > case.max_rss_kb:
        problems.append('peak RSS %d KiB (bound %d KiB)' % (rss, case.max_rss_kb))
    if rss is not None:
        ctx.attack_rss = getattr(ctx, 'attack_rss', {})
        ctx.attack_rss[case.name] = rss
    shutil.rmtree(sb.root, ignore_errors=True)
    return problems


def _group(ctx, group, launch=()):
    cases = [c for c in attacks.CASES if c.group == group or group == 'all']
    assert cases, group
    failures = []
    for case in cases:
        for mode in case.modes:
            for p in check_case(ctx, case, mode, launch):
                failures.append('%s [%s]: %s' % (case.name, mode, p))
    if failures:
        raise AssertionError('%d problem(s):\n  %s' % (len(failures), '\n  '.join(failures)))


def test_names(ctx):
    _group(ctx, 'names')


def test_symlinks(ctx):
    _group(ctx, 'symlinks')


def test_hardlinks(ctx):
    _group(ctx, 'hardlinks')


def test_special_files_skipped(ctx):
    _group(ctx, 'special')


def test_modes_stripped(ctx):
    _group(ctx, 'modes')


def test_malformed(ctx):
    _group(ctx, 'format')


def test_structure(ctx):
    _group(ctx, 'structure')


def test_merge_into_planted_destination(ctx):
    _group(ctx, 'merge')


def test_limits(ctx):
    _group(ctx, 'limits')


def test_bounded_memory_on_huge_declarations(ctx):
    """The RSS figures themselves: a declared 1 GB pax header or 2 GB long
    name must cost no more than an ordinary run."""
    if not os.path.exists(TIME):
        raise Skip('/usr/bin/time is not installed (apt-get install time)')
    if _asan(ctx):
        raise Skip('peak RSS is meaningless under AddressSanitizer')
    sb = attacks.Sandbox(ctx.mkdtemp('rss'))
    base = subprocess.run([TIME, '-f', '%M', ctx.binary, '-C', sb.dest,
                           attacks.Case('ok', 'x', attacks._valid, 0).write(sb)],
                          capture_output=True)
    assert base.returncode == 0, base
    base_kb = int(base.stderr.split()[-1])
    for name in ('pax_declared_1gb', 'gnu_longname_declared_2gb',
                 'gnu_longname_over_1mib'):
        case = attacks.by_name(name)
        p = subprocess.run([TIME, '-f', '%M', ctx.binary, '-C', sb.dest + name,
                            case.write(sb)], capture_output=True)
        kb = int(p.stderr.split()[-1])
        assert p.returncode == 5, (name, p.stderr)
        # the 1 MiB cap on extension data is the only thing allowed to grow
        assert kb < base_kb + 4 * 1024, '%s: peak RSS %d KiB vs %d KiB baseline' % (
            name, kb, base_kb)


# ------------------------------------------------------------ fallbacks
# The whole catalogue again with openat2 made to fail (the checked walk
# then does containment) and with renameat2's flags refused (the rename
# fallbacks publish, merge, swap and clean up), each by a real seccomp
# filter (tests/seccomp_launch.c).

def _under(ctx, mode):
    exe = os.path.join(ctx.builddir, 'tests', 'seccomp_launch')
    assert os.path.exists(exe), 'tests/seccomp_launch is not built'
    probe = subprocess.run([exe, mode, ctx.binary, '-v', '-t', '/dev/null'],
                           capture_output=True)
    assert probe.returncode != 127, probe
    _group(ctx, 'all', (exe, mode))


def test_catalogue_openat2_enosys(ctx):
    _under(ctx, 'openat2-enosys')


def test_catalogue_openat2_eperm(ctx):
    _under(ctx, 'openat2-eperm')


def test_catalogue_renameat2_einval(ctx):
    _under(ctx, 'renameat2-einval')
