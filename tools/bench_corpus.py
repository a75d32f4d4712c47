#!/usr/bin/env python3
"""Benchmark corpus for tools/bench: real toolchain files from pinned Debian
packages, archived reproducibly.

    python3 tools/bench_corpus.py [--data DIR] [--archives toolchain,rustdoc]

Corpora of issue 10 (the default), each from its own pinned package set:
  - toolchain: libstd-rust-dev, libllvm14, libclang-cpp14, gcc-12, cpp-12
    (~466 MB tar of big binaries and libraries) -> toolchain.tar.gz (gzip -6
    -n) and toolchain.tar.zst (zstd -3, one thread: deterministic);
  - rustdoc: rust-doc (~536 MB tar, tens of thousands of HTML files) ->
    rustdoc.tar.gz.
  Same tar recipe as below; each corpus's entry in corpus.json records its
  package versions, recipe fingerprint, file counts and per-format size and
  SHA-256.

Older corpora (small/medium/large, still used by the decoder notes):

Recipe:
  - `apt-get download NAME=VERSION` for the pinned list below (Debian 12
    toolchain packages: Rust std + sources, LLVM, GCC), checked against the
    pinned SHA-256. If the archive has moved on and a pinned version is gone,
    the current candidate is used with a loud warning (the manifest records
    what was actually used, and the archives are rebuilt).
  - each .deb is unpacked with `dpkg-deb --fsys-tarfile | tar -x` into one tree
    (~590 MB, ~42k files: big binaries and libraries plus rust-src's many
    small files). Symlinks that are absolute or leave the tree are rewritten or
    dropped so the default extraction policy (POLICY.md rule 8) accepts them.
  - medium = that tree; small = a ~10 MB subset of it (rust `core` sources,
    GCC's own headers, libgcc.a); large = the medium tree repeated under
    copy1/ .. copyN/ (hard-linked copies, archived with --hard-dereference so
    every copy holds real file data: ~1.8 GB).
  - GNU tar --format=gnu --sort=name, owner/group 0, fixed mtime, then
    `gzip -6 -n` (and `zstd -3 -T1`): the same inputs give byte-identical
    archives. Every archive is written to NAME.tmp and renamed into place.

Building is idempotent: `corpus.json` in the data directory records the recipe
fingerprint and each archive's size and SHA-256; an archive is rebuilt only if
it is missing or does not match.
"""

import argparse
import concurrent.futures
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time

# (name, version, architecture, .deb size, .deb SHA-256), from
# `apt-cache show` on Debian 12 (bookworm).
PACKAGES = [
    ("cargo", "0.66.0+ds1-1", "amd64", 3419492,
     "2b12583c9ed71fae0707f7e568afbc232bace5a9e25e94b3800480aa7d295c39"),
    ("cpp-12", "12.2.0-14+deb12u1", "amd64", 9767788,
     "fedbb98e877adde83c983c6071537ea25ac52b277ac6e4637d85025949ca1454"),
    ("gcc-12", "12.2.0-14+deb12u1", "amd64", 19268852,
     "b46f33cc2ec245e435e043807038cecf4b201ef004800e9dfc1455240360e49d"),
    ("libgcc-12-dev", "12.2.0-14+deb12u1", "amd64", 2437204,
     "d720259380a84f2ffc6fe516eff5cbe9c8a005138e8d6a5748747ba4b3404a82"),
    ("libllvm14", "1:14.0.6-12", "amd64", 21840232,
     "cd986403cfe53f47c41b80667f6b344c40fe35de4c5081dad9358b4c77cf64a8"),
    ("libstd-rust-dev", "1.63.0+dfsg1-2", "amd64", 33869108,
     "de55a06ec2b6bede97e2b756e3b87c9d2ee81cc85de1d3ff719d298803039ef4"),
    ("libstdc++-12-dev", "12.2.0-14+deb12u1", "amd64", 2047292,
     "d28def6c23630432b57cb38a4c2fd67a79d4e0484027386ca6e8d6005c3d7a73"),
    ("rustc", "1.63.0+dfsg1-2", "amd64", 2612712,
     "26dd439266153e38d3e6fbe0fe2dbbb41f20994afa688faa71f38427348589ed"),
    ("rust-src", "1.63.0+dfsg1-2", "all", 18161724,
     "410b8c6d464cabbe5fb3154ab8c3d374980dd597fbe7e3b7bb3ed8dd1bf11e25"),
]

# Issue 10's corpora: name -> pinned packages (same tuple shape) and the
# compressed forms built. Debian 12 (bookworm), from `apt-cache show`.
_P = {p[0]: p for p in PACKAGES}
CORPORA = {
    "toolchain": {
        "packages": [
            _P["libstd-rust-dev"], _P["libllvm14"],
            ("libclang-cpp14", "1:14.0.6-12", "amd64", 11085548,
             "964b13d74e9aece340cde93fecd2a2f18dd63afcb707a797ce7b39d430a01c46"),
            _P["gcc-12"], _P["cpp-12"],
        ],
        "formats": ("gz", "zst"),
    },
    "rustdoc": {
        "packages": [
            ("rust-doc", "1.63.0+dfsg1-2", "all", 17000500,
             "96ef96fe6df87d939ca713bd7df3d15c2b778ccb892eca025c4ee504146f697b"),
        ],
        "formats": ("gz",),
    },
}
FORMAT_SUFFIX = {"gz": ".tar.gz", "zst": ".tar.zst"}
# What the pinned recipe gave (twice, from scratch) with Debian 12's tar 1.34,
# gzip 1.12 and zstd 1.5.4; another result is reported, not an error.
KNOWN_CORPUS_SHA256 = {
    ("toolchain", "gz"):
        "680e0883abd063ac805b5f47669d0fb58ce9e2fc69f32e693909ea1a7f242517",
    ("toolchain", "zst"):
        "45aa154309074bd4d89bb86214394f7eaa7945e024a59d75fbc2a6fa2330df99",
    ("rustdoc", "gz"):
        "50d7e890f82c1bec1dbac0dcd87cff6f1d695ce4c2ef4bafbc1baa2bbd1a49a0",
}
COMPRESSOR = {"gz": ["gzip", "-6", "-n", "-c"],
              "zst": ["zstd", "-3", "-T1", "-q", "-c"]}
CORPUS_RECIPE_VERSION = 1

# The small archive: these paths of the medium tree (~10 MB, ~500 files).
SMALL_SUBSET = [
    "usr/src/rustc-1.63.0/library/core",
    "usr/lib/gcc/x86_64-linux-gnu/12/include",
    "usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a",
]
LARGE_COPIES = 3
# What the pinned recipe gave with Debian 12's tar 1.34 and gzip 1.12; a
# different result is reported (not an error): the archives are still valid,
# but figures are then not comparable byte for byte with earlier runs.
KNOWN_SHA256 = {
    "small": "3319bcf17771a608df45a0abaae5372d68c4fb6aa2b99e4b99c08f27426fccbc",
    "medium": "0087c29707c0ca4bbd96b533160a128ffca0cbc8ee758c387cdd790c0f8734c3",
    "large": "b7f1f8c6b821827a90131451898356b55f123ac22a602729744108bee728f745",
}
MTIME = 1700000000          # 2023-11-14, fixed for reproducibility
GZIP_LEVEL = 6
RECIPE_VERSION = 1          # bump when the recipe changes in a way not listed here
LEGACY = ("small", "medium", "large")
ARCHIVES = ("toolchain", "rustdoc") + LEGACY
DEFAULT_ARCHIVES = ("toolchain", "rustdoc")

TAR_OPTS = ["--format=gnu", "--sort=name", "--owner=0", "--group=0",
            "--numeric-owner", "--mtime=@%d" % MTIME, "--hard-dereference"]


def log(msg):
    print("[corpus] " + msg, file=sys.stderr, flush=True)


def sha256_file(path, bufsize=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(bufsize)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def tree_stats(root):
    """Count what an extraction produced: regular files, directories (not the
    root itself), symlinks, other entries and total regular-file bytes."""
    st = {"files": 0, "dirs": 0, "symlinks": 0, "other": 0, "bytes": 0}
    stack = [root]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                if e.is_symlink():
                    st["symlinks"] += 1
                elif e.is_dir(follow_symlinks=False):
                    st["dirs"] += 1
                    stack.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    st["files"] += 1
                    st["bytes"] += e.stat(follow_symlinks=False).st_size
                else:
                    st["other"] += 1
    return st


# ---------------------------------------------------------------- packages

def _apt_download(spec, dest):
    cmd = ["apt-get", "-q"]
    if os.geteuid() == 0:
        # Otherwise apt warns that _apt cannot write to the directory.
        cmd += ["-o", "APT::Sandbox::User=root"]
    cmd += ["download", spec]
    return subprocess.run(cmd, cwd=dest, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def _candidate(name):
    out = subprocess.run(["apt-cache", "show", "--no-all-versions", name],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    fields = {}
    for line in out.splitlines():
        if ":" in line and not line.startswith(" "):
            k, v = line.split(":", 1)
            fields.setdefault(k, v.strip())
    if "Version" not in fields:
        return None
    return fields["Version"], fields.get("SHA256", "")


def fetch_packages(debdir, packages=None):
    """Download the pinned .debs (cached). Returns [(name, version, path, sha)]."""
    packages = PACKAGES if packages is None else packages
    os.makedirs(debdir, exist_ok=True)
    have = {}
    for path in glob.glob(os.path.join(debdir, "*.deb")):
        have.setdefault(os.path.basename(path).split("_", 1)[0], []).append(path)
    used = []
    for name, version, _arch, size, sha in packages:
        found = None
        for path in have.get(name, []):
            if os.path.getsize(path) == size and sha256_file(path) == sha:
                found = path
                break
        if not found:
            log("apt-get download %s=%s" % (name, version))
            r = _apt_download("%s=%s" % (name, version), debdir)
            if r.returncode == 0:
                found = _find_deb(debdir, name, sha)
                if not found:
                    sys.exit("corpus: %s=%s downloaded but SHA-256 differs from "
                             "the pin" % (name, version))
            else:
                cand = _candidate(name)
                if not cand:
                    sys.exit("corpus: cannot download %s=%s:\n%s"
                             % (name, version, r.stdout))
                version, sha = cand
                log("WARNING: pinned %s version gone from the archive; using "
                    "candidate %s (corpus differs from the pinned one)"
                    % (name, version))
                r = _apt_download("%s=%s" % (name, version), debdir)
                found = _find_deb(debdir, name, sha)
                if r.returncode != 0 or not found:
                    sys.exit("corpus: cannot download %s=%s:\n%s"
                             % (name, version, r.stdout))
        used.append((name, version, found, sha))
    return used


def _find_deb(debdir, name, sha):
    for path in glob.glob(os.path.join(debdir, name + "_*.deb")):
        if sha256_file(path) == sha:
            return path
    return None


# ---------------------------------------------------------------- trees

def unpack_tree(pkgs, tree):
    if os.path.exists(tree):
        shutil.rmtree(tree)
    os.makedirs(tree)
    for name, _v, path, _sha in pkgs:
        deb = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", path],
                               stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-xf", "-", "-C", tree], stdin=deb.stdout)
        deb.stdout.close()
        if deb.wait() != 0 or tar.returncode != 0:
            sys.exit("corpus: unpacking %s failed" % name)
    fixed = sanitize_symlinks(tree)
    if fixed:
        log("rewrote/dropped %d symlinks pointing outside the tree" % fixed)


def sanitize_symlinks(root):
    """Make every symlink stay inside `root` (lexically), as the default
    extraction policy requires: absolute targets become relative, links that
    still escape are removed."""
    changed = 0
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if not os.path.islink(p):
                continue
            target = os.readlink(p)
            if target.startswith("/"):
                target = os.path.relpath(target.lstrip("/") or ".", rel_dir)
                os.unlink(p)
                os.symlink(target, p)
                changed += 1
            resolved = os.path.normpath(os.path.join(rel_dir, target))
            if resolved == ".." or resolved.startswith("../"):
                os.unlink(p)
                changed += 1
    return changed


def make_small_tree(medium, small):
    if os.path.exists(small):
        shutil.rmtree(small)
    os.makedirs(small)
    for rel in SMALL_SUBSET:
        src = os.path.join(medium, rel)
        dst = os.path.join(small, rel)
        # Recreate parent directories with the modes they have in the tree.
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = os.path.join(small, *parts[:i])
            if not os.path.isdir(d):
                os.mkdir(d)
                shutil.copystat(os.path.join(medium, *parts[:i]), d)
        subprocess.run(["cp", "-a", "--link", src, dst], check=True)


def make_large_tree(medium, large):
    if os.path.exists(large):
        shutil.rmtree(large)
    os.makedirs(large)
    for i in range(1, LARGE_COPIES + 1):
        subprocess.run(["cp", "-a", "--link", medium,
                        os.path.join(large, "copy%d" % i)], check=True)


# ---------------------------------------------------------------- archives

def write_archive(tree, out):
    """tar the tree's top-level entries into `out` (.tar.gz); returns the
    uncompressed tar size. Written to a temporary name, then renamed."""
    members = sorted(os.listdir(tree))
    tmp = out + ".tmp"
    env = dict(os.environ, LC_ALL="C", TZ="UTC")
    with open(tmp, "wb") as f:
        tar = subprocess.Popen(["tar", "--create", "--file=-"] + TAR_OPTS +
                               ["-C", tree, "--"] + members,
                               stdout=subprocess.PIPE, env=env)
        gz = subprocess.Popen(["gzip", "-%d" % GZIP_LEVEL, "-n", "-c"],
                              stdin=subprocess.PIPE, stdout=f)
        total = 0
        try:
            while True:
                b = tar.stdout.read(1 << 20)
                if not b:
                    break
                total += len(b)
                gz.stdin.write(b)
        finally:
            gz.stdin.close()
        if tar.wait() != 0 or gz.wait() != 0:
            sys.exit("corpus: building %s failed" % out)
    os.replace(tmp, out)
    return total


def recipe_fingerprint(pkgs):
    recipe = {
        "version": RECIPE_VERSION,
        "packages": [(n, v, sha) for n, v, _p, sha in pkgs],
        "small": SMALL_SUBSET,
        "large_copies": LARGE_COPIES,
        "tar": TAR_OPTS,
        "gzip": GZIP_LEVEL,
    }
    blob = json.dumps(recipe, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _pinned_fingerprint():
    return recipe_fingerprint([(n, v, None, sha) for n, v, _a, _s, sha in PACKAGES])


def load_manifest(data):
    try:
        with open(os.path.join(data, "corpus.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def save_manifest(data, manifest):
    tmp = os.path.join(data, "corpus.json.tmp")
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, os.path.join(data, "corpus.json"))


def archive_ok(data, manifest, name):
    """True if <name>.tar.gz is present and matches the manifest (size, then
    SHA-256, which also brings it into the page cache)."""
    entry = manifest.get("archives", {}).get(name)
    path = os.path.join(data, name + ".tar.gz")
    if not entry or not os.path.exists(path):
        return False
    if os.path.getsize(path) != entry.get("size"):
        return False
    return sha256_file(path) == entry.get("sha256")


def ensure_corpus(data, names, keep_trees=False):
    """Make sure the named archives exist in `data`; returns the manifest.
    Holds DATA/corpus.lock: several benches may share one data directory."""
    data = os.path.abspath(data)
    os.makedirs(data, exist_ok=True)
    import fcntl
    with open(os.path.join(data, "corpus.lock"), "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        legacy = [n for n in names if n in LEGACY]
        if legacy:
            _ensure_legacy(data, legacy, keep_trees)
        for n in names:
            if n in CORPORA:
                _ensure_corpus_one(data, n, keep_trees)
        return load_manifest(data)


def corpus_fingerprint(name, pkgs):
    recipe = {
        "version": CORPUS_RECIPE_VERSION,
        "corpus": name,
        "packages": [(n, v, sha) for n, v, _p, sha in pkgs],
        "tar": TAR_OPTS,
        "compressors": {f: COMPRESSOR[f] for f in CORPORA[name]["formats"]},
    }
    blob = json.dumps(recipe, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def corpus_ok(data, entry, name):
    """True if every compressed form of corpus `name` matches its entry."""
    if not entry or "formats" not in entry:
        return False
    for fmt in CORPORA[name]["formats"]:
        fe = entry["formats"].get(fmt)
        path = os.path.join(data, name + FORMAT_SUFFIX[fmt])
        if not fe or not os.path.exists(path) \
                or os.path.getsize(path) != fe.get("size") \
                or sha256_file(path) != fe.get("sha256"):
            return False
    return True


def write_archives(tree, outs):
    """tar the tree's top-level entries once, compressed by each of `outs`
    ({fmt: path}) in parallel; each written to PATH.tmp, then renamed.
    Returns the uncompressed tar size."""
    members = sorted(os.listdir(tree))
    env = dict(os.environ, LC_ALL="C", TZ="UTC")
    tar = subprocess.Popen(["tar", "--create", "--file=-"] + TAR_OPTS +
                           ["-C", tree, "--"] + members,
                           stdout=subprocess.PIPE, env=env)
    comps, files = {}, {}
    for fmt, out in outs.items():
        files[fmt] = open(out + ".tmp", "wb")
        comps[fmt] = subprocess.Popen(COMPRESSOR[fmt], stdin=subprocess.PIPE,
                                      stdout=files[fmt])
    total = 0
    try:
        while True:
            b = tar.stdout.read(1 << 20)
            if not b:
                break
            total += len(b)
            for c in comps.values():
                c.stdin.write(b)
    finally:
        for c in comps.values():
            c.stdin.close()
    ok = tar.wait() == 0
    for fmt, c in comps.items():
        ok &= c.wait() == 0
        files[fmt].close()
    if not ok:
        for out in outs.values():
            if os.path.exists(out + ".tmp"):
                os.unlink(out + ".tmp")
        sys.exit("corpus: building %s failed" % ", ".join(outs.values()))
    for out in outs.values():
        os.replace(out + ".tmp", out)
    return total


def _ensure_corpus_one(data, name, keep_trees):
    spec = CORPORA[name]
    manifest = load_manifest(data)
    entry = manifest.get("archives", {}).get(name)
    pinned_fp = corpus_fingerprint(
        name, [(n, v, None, sha) for n, v, _a, _s, sha in spec["packages"]])
    if entry and entry.get("recipe") in (pinned_fp, entry.get("fallback_recipe")) \
            and corpus_ok(data, entry, name):
        return
    t0 = time.time()
    pkgs = fetch_packages(os.path.join(data, "debs"), spec["packages"])
    fp = corpus_fingerprint(name, pkgs)
    tree = os.path.join(data, "build-" + name)
    log("%s: unpacking %d packages" % (name, len(pkgs)))
    unpack_tree(pkgs, tree)
    outs = {f: os.path.join(data, name + FORMAT_SUFFIX[f])
            for f in spec["formats"]}
    log("%s: building %s" % (name, ", ".join(
        os.path.basename(o) for o in outs.values())))
    tar_bytes = write_archives(tree, outs)
    entry = {"recipe": fp, "tar_bytes": tar_bytes,
             "packages": {n: v for n, v, _p, _s in pkgs}, "formats": {}}
    if fp != pinned_fp:
        entry["fallback_recipe"] = fp
    entry.update(tree_stats(tree))
    for fmt, out in outs.items():
        entry["formats"][fmt] = {"file": os.path.basename(out),
                                 "size": os.path.getsize(out),
                                 "sha256": sha256_file(out)}
        known = KNOWN_CORPUS_SHA256.get((name, fmt))
        if fp == pinned_fp and known and known != entry["formats"][fmt]["sha256"]:
            log("note: %s differs from the known build (%s...): another tar, "
                "gzip or zstd version?" % (os.path.basename(out), known[:16]))
    # Top-level size/sha256: the .tar.gz, as for the older corpora.
    entry["size"] = entry["formats"]["gz"]["size"]
    entry["sha256"] = entry["formats"]["gz"]["sha256"]
    manifest = load_manifest(data)          # re-read: keep others' entries
    manifest.setdefault("archives", {})[name] = entry
    save_manifest(data, manifest)
    if not keep_trees:
        shutil.rmtree(tree)
    log("%s ready in %.0f s: %d files, %d dirs, %.1f MB tar; %s" % (
        name, time.time() - t0, entry["files"], entry["dirs"], tar_bytes / 1e6,
        ", ".join("%s %.1f MB" % (f["file"], f["size"] / 1e6)
                  for f in entry["formats"].values())))


def _ensure_legacy(data, names, keep_trees=False):
    """small/medium/large (one shared package set and recipe)."""
    manifest = load_manifest(data)
    others = {k: v for k, v in manifest.get("archives", {}).items()
              if k not in LEGACY}
    # A manifest written from the pinned package list (or a fallback
    # recorded in it) is reusable without asking apt anything.
    fp = manifest.get("recipe")
    if fp and fp in (_pinned_fingerprint(), manifest.get("fallback_recipe")):
        todo = [n for n in names if not archive_ok(data, manifest, n)]
        if not todo:
            return manifest
    else:
        todo = list(names)
        manifest = {"archives": dict(others)}
    t0 = time.time()
    pkgs = fetch_packages(os.path.join(data, "debs"))
    fp = recipe_fingerprint(pkgs)
    if manifest.get("recipe") != fp:
        manifest = {"recipe": fp, "archives": dict(others)}
        todo = list(names)
    if fp != _pinned_fingerprint():
        manifest["fallback_recipe"] = fp
    manifest["packages"] = {n: v for n, v, _p, _s in pkgs}
    build = os.path.join(data, "build")
    medium_tree = os.path.join(build, "medium")
    log("unpacking %d packages" % len(pkgs))
    unpack_tree(pkgs, medium_tree)
    trees = {"medium": medium_tree}
    if "small" in todo:
        trees["small"] = os.path.join(build, "small")
        make_small_tree(medium_tree, trees["small"])
    if "large" in todo:
        trees["large"] = os.path.join(build, "large")
        make_large_tree(medium_tree, trees["large"])
    lock = threading.Lock()

    def one(name):
        log("building %s.tar.gz" % name)
        t = time.time()
        out = os.path.join(data, name + ".tar.gz")
        tar_bytes = write_archive(trees[name], out)
        entry = {"size": os.path.getsize(out), "sha256": sha256_file(out),
                 "tar_bytes": tar_bytes}
        entry.update(tree_stats(trees[name]))
        with lock:
            manifest["archives"][name] = entry
            save_manifest(data, manifest)
        log("built %s.tar.gz in %.0f s" % (name, time.time() - t))
        if fp == _pinned_fingerprint() and entry["sha256"] != KNOWN_SHA256[name]:
            log("note: %s.tar.gz differs from the known build (%s...): another "
                "tar or gzip version?" % (name, KNOWN_SHA256[name][:16]))

    # Largest first; two at a time (gzip is single-threaded, 2 cores).
    order = sorted(todo, key=lambda n: -{"large": 3, "medium": 2, "small": 1}[n])
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        for fut in [ex.submit(one, n) for n in order]:
            fut.result()
    if not keep_trees:
        shutil.rmtree(build)
    log("corpus ready in %.0f s" % (time.time() - t0))
    return manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--data", default=os.path.join(top, "bench-data"))
    ap.add_argument("--archives", default=",".join(DEFAULT_ARCHIVES),
                    help="comma list of %s (default: %s)" % (
                        ", ".join(ARCHIVES), ",".join(DEFAULT_ARCHIVES)))
    ap.add_argument("--keep-trees", action="store_true",
                    help="keep the unpacked trees in DATA/build")
    a = ap.parse_args()
    names = [n for n in a.archives.split(",") if n]
    for n in names:
        if n not in ARCHIVES:
            ap.error("unknown archive %r" % n)
    m = ensure_corpus(a.data, names, a.keep_trees)
    json.dump({n: m["archives"][n] for n in names}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
