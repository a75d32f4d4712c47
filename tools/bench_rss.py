"""tools/bench --rss: rzup-extract's peak RSS over HTTPS, from a 10 MB to a
5 GB archive (issue 10: under 16 MiB, and flat).

    tools/bench --rss [--rss-sizes 10M,100M,1G,5G] [--rss-tmpfs]
                      [--binary PATH] [--data DIR]

(also run at the end of the default bench unless --no-rss).

What it does:
  1. Generates (once, cached in DATA/rss/) one .tar.gz per size: SIZE bytes
     (MB/GB = 10^6/10^9) of 1 MiB files spread over at most 16 directories,
     each file a slice of a fixed 8 MiB pool (alternating 4 KiB blocks of
     pseudo-random bytes and of text, fixed seed: ~2:1 under gzip), streamed
     by Python's tarfile into `pigz -1 -n`, written to NAME.tmp and renamed.
     The shape is the same at every size, so only the length changes.
  2. Serves DATA/rss with nginx over HTTPS on 127.0.0.1 (a self-signed
     certificate made with openssl for the run), and over HTTP for
     comparison.  rzup-extract gets --cacert FILE, FILE being that
     certificate followed by the system's CA bundle
     (/etc/ssl/certs/ca-certificates.crt, ~150 certificates): the
     certificate store costs what it costs a user who trusts the system's
     CAs, which is the common case (--cacert with one certificate would
     hide ~1 MiB).
  3. Runs rzup-extract -C DIR URL per size (DIR on the disk of --data, or a
     tmpfs mounted for the run with --rss-tmpfs), through tools/bench's
     launcher: ru_maxrss from wait4(). A sampler reads
     /proc/PID/smaps_rollup every 10 ms and keeps the sample with the
     largest Rss, to split the peak into anonymous memory (heap, buffers,
     thread stacks) and file-backed pages (the executable and its shared
     libraries). Every tree is checked (files, dirs, bytes), then removed.
  4. Prints one table and the verdicts: every HTTPS peak under 16 MiB, and
     the largest minus the smallest at most 1 MiB ("flat").
"""

import os
import random
import shutil
import subprocess
import tarfile
import threading
import time

RSS_LIMIT_MIB = 16.0
FLAT_MIB = 1.0
RECIPE = 1                  # bump when the generated content changes
FILE_BYTES = 1 << 20
POOL_BYTES = 8 << 20
MAX_DIRS = 16


def parse_size(s):
    mult = {"K": 10**3, "M": 10**6, "G": 10**9}
    s = s.strip()
    if s and s[-1].upper() in mult:
        return int(float(s[:-1]) * mult[s[-1].upper()])
    return int(s)


def pool():
    rnd = random.Random(10)
    text = (b"fn main() { println!(\"rzup-extract peak RSS bench\"); }\n" * 80)
    out = bytearray()
    i = 0
    while len(out) < POOL_BYTES:
        out += rnd.randbytes(4096) if i % 2 else text[:4096]
        i += 1
    return bytes(out[:POOL_BYTES])


def shape(size):
    nfiles = -(-size // FILE_BYTES)
    return {"files": nfiles, "dirs": min(MAX_DIRS, nfiles), "bytes": size}


def ensure_archive(data, label, size, log):
    d = os.path.join(data, "rss")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "rss-v%d-%s.tar.gz" % (RECIPE, label))
    if os.path.exists(path):
        return path
    log("generating %s (%d bytes of files, pigz -1)" % (path, size))
    t0 = time.time()
    p = pool()
    sh = shape(size)
    with open(path + ".tmp", "wb") as f:
        gz = subprocess.Popen(["pigz", "-1", "-n", "-c"], stdin=subprocess.PIPE,
                              stdout=f)
        with tarfile.open(fileobj=gz.stdin, mode="w|",
                          format=tarfile.GNU_FORMAT) as t:
            for j in range(sh["dirs"]):
                ti = tarfile.TarInfo("rss/d%02d" % j)
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1700000000
                t.addfile(ti)
            left = size
            for i in range(sh["files"]):
                n = min(FILE_BYTES, left)
                left -= n
                off = (i * 37 * 4096) % (POOL_BYTES - FILE_BYTES)
                ti = tarfile.TarInfo("rss/d%02d/f%06d" % (i % sh["dirs"], i))
                ti.size, ti.mode, ti.mtime = n, 0o644, 1700000000
                t.addfile(ti, _Reader(memoryview(p)[off:off + n]))
        gz.stdin.close()
        if gz.wait() != 0:
            raise RuntimeError("pigz failed generating " + path)
    os.replace(path + ".tmp", path)
    log("generated %s: %.1f MB in %.0f s" % (
        os.path.basename(path), os.path.getsize(path) / 1e6, time.time() - t0))
    return path


class _Reader:
    def __init__(self, mv):
        self.mv, self.pos = mv, 0

    def read(self, n=-1):
        if n is None or n < 0:
            n = len(self.mv) - self.pos
        b = self.mv[self.pos:self.pos + n]
        self.pos += len(b)
        return bytes(b)


class Sampler:
    """Polls the smaps_rollup of the launcher's child (the stage itself)."""

    FIELDS = ("Rss", "Anonymous", "Pss_File", "Pss_Anon")

    def __init__(self, period=0.01):
        self.period = period
        self.peak = None
        self._stop = threading.Event()
        self._t = None

    def start(self, launcher_pid):
        self.peak = None
        self._stop.clear()
        self._t = threading.Thread(target=self._loop, args=(launcher_pid,),
                                   daemon=True)
        self._t.start()

    def stop(self):
        self._stop.set()
        if self._t:
            self._t.join()

    def _child(self, ppid):
        try:
            with open("/proc/%d/task/%d/children" % (ppid, ppid)) as f:
                kids = f.read().split()
            return int(kids[0]) if kids else None
        except (OSError, ValueError):
            return None

    def _loop(self, ppid):
        pid = None
        while not self._stop.is_set():
            pid = pid or self._child(ppid)
            if pid:
                try:
                    with open("/proc/%d/smaps_rollup" % pid) as f:
                        got = {}
                        for line in f:
                            k = line.split(":", 1)[0]
                            if k in self.FIELDS:
                                got[k] = int(line.split()[1]) / 1024.0
                    if got.get("Rss") and (self.peak is None or
                                           got["Rss"] > self.peak["Rss"]):
                        self.peak = got
                except (OSError, ValueError, IndexError):
                    pass
            self._stop.wait(self.period)


def run(a, tmp, binary, data, Nginx, Runner, build_shim, Contender, log):
    """Returns (markdown lines, results dict)."""
    sizes = [(x.strip(), parse_size(x)) for x in a.rss_sizes.split(",")
             if x.strip()]
    if a.quick:
        sizes = [s for s in sizes if s[1] <= 10**8] or sizes[:1]
    if not shutil.which("pigz"):
        return ["## Peak RSS", "", "NOT MEASURED: pigz not found "
                "(apt-get install pigz)"], {}
    paths = {}
    for label, size in sizes:
        paths[label] = ensure_archive(data, label, size, log)
    outdir = os.path.join(data, "rss-out")
    mounted = False
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    where = "disk of --data"
    if a.rss_tmpfs:
        cap = max(s for _l, s in sizes) + (512 << 20)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % cap,
                            "rzup-bench-rss", outdir])
        if r.returncode != 0:
            return ["## Peak RSS", "", "NOT MEASURED: cannot mount a tmpfs "
                    "(needs root)"], {}
        mounted, where = True, "tmpfs"
    tls_dir = os.path.join(tmp, "nginx-tls")
    http_dir = os.path.join(tmp, "nginx-http")
    os.makedirs(tls_dir)
    os.makedirs(http_dir)
    rssroot = os.path.join(data, "rss")
    system_ca = "/etc/ssl/certs/ca-certificates.crt"
    with open(os.path.join(rssroot, "corpus.json"), "w") as f:
        f.write("{}\n")                 # what Nginx.start() polls
    https = Nginx(rssroot, tls_dir, tls=True)
    http = Nginx(rssroot, http_dir)
    runner = Runner(outdir, a.timeout, a.drop, build_shim(tmp), tmp)
    sampler = Sampler()
    runner.sampler = sampler
    extra = a.binary_args.split()
    rows, results = [], {}
    ncert = 0
    try:
        https.start()
        http.start()
        cafile = os.path.join(tls_dir, "ca.pem")
        with open(cafile, "wb") as o:
            o.write(open(https.cert, "rb").read())
            if os.path.exists(system_ca):
                o.write(open(system_ca, "rb").read())
        ncert = open(cafile).read().count("BEGIN CERTIFICATE")
        log("nginx: HTTPS on 127.0.0.1:%d, HTTP on 127.0.0.1:%d" % (
            https.port, http.port))
        variants = [
            ("https", "HTTPS, defaults", https,
             ["--cacert", cafile]),
            ("https-c1", "HTTPS, --connections 1", https,
             ["--cacert", cafile, "--connections", "1"]),
            ("http", "HTTP, defaults", http, []),
        ]
        for label, size in sizes:
            name = os.path.basename(paths[label])
            for vkey, vlabel, srv, opts in variants:
                if vkey != "https" and size > 10**9:
                    continue            # the 5 GB run: the target row only
                c = Contender("rss", "", [[binary] + extra + opts +
                                          ["-C", "{dir}", "{url}"]])
                best = None
                for _ in range(1 if size > 10**9 else 2):
                    res = runner.run(c, srv.url(name), paths[label])
                    st = res.get("stats") or {}
                    want = shape(size)
                    if "fail" not in res and (
                            st.get("files") != want["files"] or
                            st.get("dirs") != want["dirs"] + 1 or
                            st.get("bytes") != want["bytes"]):
                        res["fail"] = "tree differs: %s" % st
                    res["smaps"] = sampler.peak
                    subprocess.run(["rm", "-rf", "--", res["parent"]])
                    runner.settle()
                    log("rss %s %-8s %.2f s  RSS %.1f MiB%s" % (
                        label, vkey, res["wall"], res["rss"][0],
                        "  FAIL " + res["fail"] + " " + res["err"][-300:]
                        if "fail" in res else ""))
                    if best is None or res["rss"][0] > best["rss"][0]:
                        best = res
                results[(label, vkey)] = best
                rows.append((label, size, os.path.getsize(paths[label]),
                             vlabel, best))
    finally:
        https.stop()
        http.stop()
        if mounted:
            subprocess.run(["umount", outdir])
        shutil.rmtree(outdir, ignore_errors=True)

    lines = ["## Peak RSS over HTTPS (issue 10: < %.0f MiB, flat from 10 MB "
             "to 5 GB)" % RSS_LIMIT_MIB, "",
             "Generated archives (1 MiB files, ~2:1 under gzip), served by "
             "nginx on 127.0.0.1; --cacert with %d certificates (ours and "
             "the system's bundle); extraction into the %s; ru_maxrss of "
             "rzup-extract (the max of %s runs; 1 at 5 GB); the split is "
             "the /proc/PID/smaps_rollup sample with the largest Rss (10 ms "
             "polling, so it can miss the very peak)." % (
                 ncert, where, "2"), "",
             "| archive (tar bytes) | .tar.gz MB | transport | wall s "
             "| MB/s (tar) | peak RSS MiB | anon MiB | file-backed MiB "
             "| ok |",
             "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for label, size, gzsize, vlabel, r in rows:
        sm = r.get("smaps") or {}
        anon = sm.get("Anonymous")
        lines.append("| %s | %.1f | %s | %.2f | %.0f | %.1f | %s | %s | %s |" % (
            label, gzsize / 1e6, vlabel, r["wall"], size / 1e6 / r["wall"],
            r["rss"][0], "%.1f" % anon if anon is not None else "?",
            "%.1f" % (sm["Rss"] - anon) if anon is not None else "?",
            "FAIL: " + r["fail"] if "fail" in r else "yes"))
    tls = [(label, r["rss"][0]) for label, _s, _g, vl, r in rows
           if vl == "HTTPS, defaults" and "fail" not in r]
    lines.append("")
    if tls:
        worst = max(tls, key=lambda x: x[1])
        spread = max(x[1] for x in tls) - min(x[1] for x in tls)
        lines.append("- peak RSS over HTTPS: largest %.1f MiB (%s), target "
                     "< %.0f MiB: %s" % (worst[1], worst[0], RSS_LIMIT_MIB,
                                         "PASS" if worst[1] < RSS_LIMIT_MIB
                                         else "FAIL"))
        lines.append("- flat: %s -> %s: %s MiB, spread %.1f MiB (allowed "
                     "%.1f): %s" % (tls[0][0], tls[-1][0],
                                    " / ".join("%.1f" % x[1] for x in tls),
                                    spread, FLAT_MIB,
                                    "PASS" if spread <= FLAT_MIB and
                                    len(tls) == len(sizes) else "FAIL"))
    else:
        lines.append("- peak RSS over HTTPS: NOT MEASURED (every run failed)")
    return lines, {"%s/%s" % k: {"wall": v["wall"], "rss": v["rss"],
                                 "smaps": v.get("smaps"),
                                 "fail": v.get("fail")}
                   for k, v in results.items()}
