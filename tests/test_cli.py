"""Integration tests of the binary on local files and pipes (no network):
every fixture extracted and compared with GNU tar's extraction of the same
archive, listing, strip-components, merge, digest, and failures that must
leave the destination as it was."""

import hashlib
import os
import subprocess

from harness import assert_same_tree, listing

WRITERS = ['gnu', 'pax', 'bsdtar', 'pytar', 'pygnu', 'libtar']


def _extract_and_compare(ctx, archive, *extra):
    dest = ctx.path('out')
    r = ctx.run('-C', dest, *extra, archive)
    assert r.rc == 0, r
    ref = ctx.gnu_tar_extract(archive, *extra)
    assert_same_tree(dest, ref, os.path.basename(archive))
    ctx.assert_no_staging(os.path.dirname(dest))


def test_every_fixture_tar_matches_gnu_tar(ctx):
    for w in WRITERS:
        _extract_and_compare(ctx, ctx.fixture(w + '.tar'))


def test_every_fixture_targz_matches_gnu_tar(ctx):
    for w in WRITERS:
        _extract_and_compare(ctx, ctx.fixture(w + '.tar.gz'))


def test_multimember_gzip(ctx):
    _extract_and_compare(ctx, ctx.fixture('multimember.tar.gz'))


def test_strip_components_matches_gnu_tar(ctx):
    _extract_and_compare(ctx, ctx.fixture('pax.tar.gz'), '--strip-components=1')


def test_strip_components_cannot_make_a_link_escape(ctx):
    # top/unicode/link_up -> ../exec.sh is inside the tree; stripped of two
    # components it becomes link_up -> ../exec.sh, which points outside.
    # GNU tar creates it; we refuse, and publish nothing.
    dest = ctx.path('out')
    r = ctx.run('--strip-components=2', '-C', dest, ctx.fixture('pax.tar.gz'))
    assert r.rc == 6, r
    assert 'symlink points outside' in r.err and 'link_up' in r.err, r.err
    assert not os.path.exists(dest)


def test_stdin_pipe(ctx):
    dest = ctx.path('out')
    with open(ctx.fixture('gnu.tar.gz'), 'rb') as f:
        cat = subprocess.Popen(['cat'], stdin=f, stdout=subprocess.PIPE)
        r = subprocess.run([ctx.binary, '-C', dest], stdin=cat.stdout,
                           capture_output=True)
        cat.wait()
    assert r.returncode == 0, r.stderr
    assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture('gnu.tar.gz')), 'stdin')


def test_dash_means_stdin(ctx):
    dest = ctx.path('out')
    with open(ctx.fixture('pax.tar'), 'rb') as f:
        r = ctx.run('-C', dest, '-', stdin=f)
    assert r.rc == 0, r
    assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture('pax.tar')), 'dash')


def test_list_matches_gnu_tar(ctx):
    for w in ('gnu', 'pax', 'bsdtar'):
        r = ctx.run('-t', ctx.fixture(w + '.tar.gz'))
        assert r.rc == 0, r
        want = subprocess.run(['tar', '-tf', ctx.fixture(w + '.tar.gz')],
                              capture_output=True, env=dict(os.environ, LC_ALL='C.UTF-8'),
                              text=True, check=True).stdout
        assert r.out.splitlines() == want.splitlines(), (w, r.out, want)


def test_list_verbose_and_writes_nothing(ctx):
    d = ctx.mkdtemp('cwd')
    p = subprocess.run([ctx.binary, '-tv', ctx.fixture('gnu.tar')], cwd=d,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert os.listdir(d) == [], os.listdir(d)
    lines = p.stdout.splitlines()
    assert any(l.startswith('lrwxrwxrwx') and 'top/link_rel -> sizes/f512' in l
               for l in lines), lines
    assert any(l.startswith('-rw-r--r--') and ' 513 ' in l for l in lines), lines


def test_merge_into_existing_keeps_other_files(ctx):
    dest = ctx.mkdtemp('dest')
    with open(os.path.join(dest, 'mine.txt'), 'w') as f:
        f.write('keep me')
    os.makedirs(os.path.join(dest, 'top'))
    with open(os.path.join(dest, 'top', 'empty'), 'w') as f:
        f.write('will be replaced by the archive')
    r = ctx.run('-C', dest, ctx.fixture('gnu.tar.gz'))
    assert r.rc == 0, r
    assert open(os.path.join(dest, 'mine.txt')).read() == 'keep me'
    assert os.path.getsize(os.path.join(dest, 'top', 'empty')) == 0
    ref = ctx.gnu_tar_extract(ctx.fixture('gnu.tar.gz'))
    os.remove(os.path.join(dest, 'mine.txt'))
    assert_same_tree(dest, ref, 'merge')
    ctx.assert_no_staging(dest)


def test_replace_swaps_whole_destination(ctx):
    dest = ctx.path('dest')
    os.makedirs(dest)
    with open(os.path.join(dest, 'old.txt'), 'w') as f:
        f.write('old')
    r = ctx.run('--replace', '-C', dest, ctx.fixture('pax.tar.gz'))
    assert r.rc == 0, r
    assert not os.path.exists(os.path.join(dest, 'old.txt'))
    assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture('pax.tar.gz')), 'replace')
    ctx.assert_no_staging(os.path.dirname(dest))


def test_correct_sha256_accepted(ctx):
    archive = ctx.fixture('gnu.tar.gz')
    digest = hashlib.sha256(open(archive, 'rb').read()).hexdigest()
    dest = ctx.path('out')
    r = ctx.run('--sha256', digest.upper(), '-C', dest, archive)
    assert r.rc == 0, r
    assert os.path.exists(os.path.join(dest, 'top', 'exec.sh'))


def test_wrong_sha256_publishes_nothing(ctx):
    archive = ctx.fixture('gnu.tar.gz')
    bad = hashlib.sha256(b'not the archive').hexdigest()
    # absent destination stays absent
    dest = ctx.path('out')
    r = ctx.run('--sha256', bad, '-C', dest, archive)
    assert r.rc == 4, r
    assert 'SHA-256' in r.err and bad in r.err, r.err
    assert not os.path.exists(dest)
    ctx.assert_no_staging(os.path.dirname(dest))
    # existing destination stays exactly as it was
    dest = ctx.mkdtemp('dest')
    with open(os.path.join(dest, 'a'), 'w') as f:
        f.write('a')
    before = listing(dest)
    r = ctx.run('--sha256', bad, '-C', dest, archive)
    assert r.rc == 4, r
    assert listing(dest) == before
    ctx.assert_no_staging(dest)


def test_malformed_sha256_is_usage_error(ctx):
    r = ctx.run('--sha256', 'abc', '-C', ctx.path(), ctx.fixture('gnu.tar'))
    assert r.rc == 2, r


def test_truncated_archive_fails_and_leaves_dest(ctx):
    data = open(ctx.fixture('pax.tar.gz'), 'rb').read()
    for cut in (10, len(data) // 3, len(data) - 9, len(data) - 1):
        trunc = os.path.join(ctx.mkdtemp('t'), 'trunc.tar.gz')
        with open(trunc, 'wb') as f:
            f.write(data[:cut])
        dest = ctx.mkdtemp('dest')
        with open(os.path.join(dest, 'a'), 'w') as f:
            f.write('a')
        before = listing(dest)
        r = ctx.run('-C', dest, trunc)
        assert r.rc == 5, (cut, r)
        assert 'at: byte' in r.err, r.err
        assert listing(dest) == before, cut
        ctx.assert_no_staging(dest)


def test_truncated_plain_tar_names_entry(ctx):
    data = open(ctx.fixture('gnu.tar'), 'rb').read()
    trunc = os.path.join(ctx.mkdtemp('t'), 'trunc.tar')
    with open(trunc, 'wb') as f:
        f.write(data[:len(data) // 2 + 100])
    dest = ctx.path('out')
    r = ctx.run('-C', dest, trunc)
    assert r.rc == 5, r
    assert 'entry:' in r.err and 'uncompressed archive' in r.err, r.err
    assert not os.path.exists(dest)


def test_missing_parent_is_io_error(ctx):
    dest = os.path.join(ctx.path('nope'), 'deeper')
    r = ctx.run('-C', dest, ctx.fixture('gnu.tar'))
    assert r.rc == 7, r


def test_missing_source_file(ctx):
    r = ctx.run('-C', ctx.path(), os.path.join(ctx.tmp, 'no-such.tar.gz'))
    assert r.rc == 7, r
    assert 'no-such.tar.gz' in r.err, r.err


def test_usage_errors(ctx):
    assert ctx.run('--no-such-option').rc == 2
    assert ctx.run('a', 'b').rc == 2
    assert ctx.run('--strip-components', 'x', 'a').rc == 2
    assert ctx.run('--max-size', '12Q', 'a').rc == 2
    r = ctx.run('--help')
    assert r.rc == 0 and 'Usage:' in r.out
    r = ctx.run('--version')
    assert r.rc == 0 and r.out.startswith('rzup-extract ')


def test_not_an_archive(ctx):
    junk = os.path.join(ctx.mkdtemp('j'), 'junk.bin')
    with open(junk, 'wb') as f:
        f.write(os.urandom(4096))
    dest = ctx.path('out')
    r = ctx.run('-C', dest, junk)
    assert r.rc == 5, r
    assert not os.path.exists(dest)
