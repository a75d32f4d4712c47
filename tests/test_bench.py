"""Smoke tests of the benchmark tools (never a benchmark: no timing is
judged here).  They prove the scripts start, refuse bad usage, and that the
parts whose mistakes would silently skew a benchmark do what they claim:
the RSS launcher's pseudo-terminal mode (the progress-bar row) and the
shape of tools/bench_rss.py's generated archives."""

import importlib.machinery
import importlib.util
import os
import subprocess
import sys


def _tool(ctx, name):
    return os.path.join(ctx.top, 'tools', name)


def _load_bench(ctx):
    sys.path.insert(0, os.path.join(ctx.top, 'tools'))
    sys.dont_write_bytecode = True
    loader = importlib.machinery.SourceFileLoader('rzup_bench',
                                                  _tool(ctx, 'bench'))
    spec = importlib.util.spec_from_loader('rzup_bench', loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_bench_scripts_start(ctx):
    for argv in ([_tool(ctx, 'bench'), '--help'],
                 [sys.executable, _tool(ctx, 'bench_corpus.py'), '--help'],
                 [sys.executable, _tool(ctx, 'bench_install'), '--help']):
        r = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        assert r.returncode == 0, (argv, r.stdout[-2000:])
        assert 'usage:' in r.stdout, (argv, r.stdout[:500])


def test_bench_refuses_mixed_corpora(ctx):
    r = subprocess.run([_tool(ctx, 'bench'), '--archives', 'toolchain,small',
                        '--data', ctx.mkdtemp('data')],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60)
    assert r.returncode == 2, r.stdout
    assert 'separate benches' in r.stdout, r.stdout


def test_bench_launcher_pty_and_rss(ctx):
    bench = _load_bench(ctx)
    tmp = ctx.mkdtemp('shim')
    shim = bench.build_shim(tmp)
    rss = os.path.join(tmp, 'rss')
    # --pty: stderr is a terminal of 100 columns; what it shows is counted
    script = ('test -t 2 || exit 9; test -t 1 && exit 8; '
              'printf "%s" "$(stty size <&2)" >&2')
    r = subprocess.run([shim, rss, '--pty', 'sh', '-c', script],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 0, r
    assert r.stderr == b'', r.stderr        # went to the terminal instead
    kib, shown, user, system = open(rss).read().split()
    assert int(kib) > 0
    assert int(shown) == len('24 100'), shown
    assert float(user) >= 0 and float(system) >= 0
    # without: stderr is what the caller gave, nothing is counted
    r = subprocess.run([shim, rss, 'sh', '-c', 'test -t 2 && exit 9; '
                        'echo hi >&2; exit 3'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 3 and r.stderr == b'hi\n', r
    kib, shown, _user, _system = open(rss).read().split()
    assert int(shown) == 0
    # CPU seconds are the stage's own: a busy loop shows, a sleep does not
    subprocess.run([shim, rss, sys.executable, '-c',
                    'import time\nt = time.process_time()\n'
                    'while time.process_time() - t < 0.3: pass'], check=True)
    _kib, _shown, user, system = open(rss).read().split()
    assert float(user) + float(system) >= 0.25, (user, system)
    subprocess.run([shim, rss, 'sleep', '0.3'], check=True)
    _kib, _shown, user, system = open(rss).read().split()
    assert float(user) + float(system) < 0.1, (user, system)


def test_bench_rss_archive_shape(ctx):
    sys.path.insert(0, os.path.join(ctx.top, 'tools'))
    sys.dont_write_bytecode = True
    import bench_rss
    data = ctx.mkdtemp('data')
    size = 2500000                  # 3 files: 1 MiB, 1 MiB, the rest
    path = bench_rss.ensure_archive(data, '2M5', size, lambda m: None)
    assert os.path.basename(path).endswith('.tar.gz')
    assert not os.path.exists(path + '.tmp')
    out = ctx.mkdtemp('out')
    subprocess.run(['tar', '-xzf', path, '-C', out], check=True)
    want = bench_rss.shape(size)
    files, dirs, total = 0, 0, 0
    for root, ds, fs in os.walk(out):
        dirs += len(ds)
        for f in fs:
            files += 1
            total += os.path.getsize(os.path.join(root, f))
    assert (files, dirs - 1, total) == (want['files'], want['dirs'],
                                        want['bytes']), (files, dirs, total)
