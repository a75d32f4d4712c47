"""tools/bench --connections: one connection against N, over loopback, with
every connection capped at the same rate, as a CDN caps each one.

    tools/bench --connections 1,2,4,8 [--conn-rate 4M] [--conn-size 64M]
                [--conn-runs 3] [--binary PATH] [--data DIR]

What it does:
  1. Builds (once, cached in DATA/connections/) a .tar.gz of --conn-size
     bytes: incompressible pseudo-random files (fixed seed) and some text,
     so the gzip decoder costs little and the network is what is measured.
  2. Serves it with tools/faultserver --rate R: every connection sends at
     most R bytes per second over all its requests (keep-alive included);
     N connections may together reach N x R.
  3. For each N: rzup-extract --connections N -C fresh-dir URL, --conn-runs
     times, interleaved; wall time, MB/s of the download (compressed bytes /
     median wall, MB = 10^6 bytes), speed-up against N = 1 and peak RSS
     (ru_maxrss from wait4, MiB).  Every tree is checked against the
     reference extraction (GNU tar) so a broken run cannot win.
  4. The same N without a cap, from nginx (sendfile; the Python server
     would be the limit there): where the decoder or the writer becomes
     the limit.  Peak RSS is measured through tools/bench's launcher
     (ru_maxrss of a process forked from Python would include Python's).

The default chunk is 1 MiB (--chunk-size), so the memory for the download
is N x 1 MiB.  The machine may be shared: say so with the figures.
"""

import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_size(s):
    mult = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}
    if s and s[-1].upper() in mult:
        return int(float(s[:-1]) * mult[s[-1].upper()])
    return int(s)


def build_archive(data, size):
    d = os.path.join(data, 'connections')
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, 'conn-%d.tar.gz' % size)
    ref = path + '.ref'
    if os.path.exists(path) and os.path.isdir(ref):
        return path, ref
    src = os.path.join(d, 'src')
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    rnd = random.Random(9)
    left, i = size, 0
    while left > 0:
        n = min(left, rnd.randrange(1 << 20, 8 << 20))
        with open(os.path.join(src, 'f%03d.bin' % i), 'wb') as f:
            f.write(rnd.randbytes(n))
        left -= n
        i += 1
    with open(os.path.join(src, 'notes.txt'), 'w') as f:
        f.write('some text\n' * 10000)
    with tarfile.open(path + '.tmp', 'w:gz', compresslevel=1) as t:
        t.add(src, arcname='conn')
    os.rename(path + '.tmp', path)
    shutil.rmtree(ref, ignore_errors=True)
    os.makedirs(ref)
    subprocess.run(['tar', '-xzf', path, '-C', ref], check=True)
    shutil.rmtree(src)
    return path, ref


def tree(d):
    out = {}
    for dirpath, _, files in os.walk(d):
        for n in files:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, d)] = os.path.getsize(p)
    return out


class Server:
    def __init__(self, root, rate, tmp):
        port_file = os.path.join(tmp, 'port-%s' % (rate or 'free'))
        cmd = [sys.executable, os.path.join(HERE, 'faultserver'), '--root', root,
               '--port', '0', '--port-file', port_file]
        if rate:
            cmd += ['--rate', str(rate)]
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        for _ in range(300):
            if os.path.exists(port_file):
                self.port = int(open(port_file).read())
                return
            time.sleep(0.02)
        raise RuntimeError('faultserver did not start')

    def stop(self):
        self.p.terminate()
        self.p.wait(5)


def one_run(binary, shim, n, url, out, timeout):
    shutil.rmtree(out, ignore_errors=True)
    rssfile = out + '.rss'
    t0 = time.monotonic()
    try:
        rc = subprocess.run([shim, rssfile, binary, '-q', '--connections',
                             str(n), '-C', out, url], timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        rc = -9
    wall = time.monotonic() - t0
    try:
        with open(rssfile) as f:
            rss = int(f.read()) / 1024.0
        os.unlink(rssfile)
    except (OSError, ValueError):
        rss = float('nan')
    return wall, rc, rss


def run(a, tmp, binary, shim, nginx_cls):
    ns = [int(x) for x in a.connections.split(',') if x]
    rate = parse_size(a.conn_rate)
    size = parse_size(a.conn_size)
    path, ref = build_archive(os.path.abspath(a.data), size)
    want = tree(ref)
    csize = os.path.getsize(path)
    out = os.path.join(tmp, 'out')
    rows = []
    root = os.path.dirname(path)
    with open(os.path.join(root, 'corpus.json'), 'w') as f:
        f.write('{}\n')      # what tools/bench's Nginx waits for
    for cap in (rate, None):
        if cap:
            srv = Server(root, cap, tmp)
        else:
            ntmp = os.path.join(tmp, 'nginx')
            os.makedirs(ntmp, exist_ok=True)
            srv = nginx_cls(root, ntmp)
            srv.start()
        url = 'http://127.0.0.1:%d/%s' % (srv.port, os.path.basename(path))
        try:
            results = {n: [] for n in ns}
            for _ in range(a.conn_runs):
                for n in ns:
                    wall, rc, rss = one_run(binary, shim, n, url, out,
                                            a.timeout)
                    ok = rc == 0 and tree(out) == want
                    results[n].append((wall, rss, ok))
        finally:
            srv.stop()
        base = None
        for n in ns:
            walls = [w for w, _, ok in results[n] if ok]
            rss = max(r for _, r, _ in results[n])
            bad = sum(1 for *_, ok in results[n] if not ok)
            med = statistics.median(walls) if walls else float('nan')
            if n == ns[0]:
                base = med
            rows.append((cap, n, med, csize / med / 1e6, base / med, rss, bad))
    cpu = os.cpu_count()
    lines = [
        '## --connections: %s of .tar.gz (%d bytes), chunk 1 MiB' % (
            a.conn_size, csize), '',
        '%s; %d runs each, median; %d CPUs (shared with other work: the '
        'figures are noisy); tools/faultserver on 127.0.0.1.' % (
            time.strftime('%Y-%m-%d %H:%M'), a.conn_runs, cpu), '',
        '| server, cap per connection | N | wall s | MB/s | vs N=%d | peak RSS MiB | failed |'
        % ns[0],
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: |']
    for cap, n, med, mbs, sp, rss, bad in rows:
        lines.append('| %s | %d | %.2f | %.1f | %.2fx | %.1f | %d |' % (
            'faultserver, %.1f MB/s' % (cap / 1e6) if cap else 'nginx, none',
            n, med, mbs, sp, rss,
            bad))
    capped = {n: sp for cap, n, _, _, sp, _, _ in rows if cap}
    if 4 in capped and ns[0] == 1:
        lines += ['', 'verdict: N=4 reaches %.2fx one connection (target >= '
                  '3.5x): %s' % (capped[4], 'met' if capped[4] >= 3.5
                                 else 'NOT met')]
    text = '\n'.join(lines)
    print(text)
    if a.markdown:
        with open(a.markdown, 'a') as f:
            f.write(text + '\n')
    return 0 if all(r[6] == 0 for r in rows) else 1
