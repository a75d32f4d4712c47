"""Integration tests over a real nginx on 127.0.0.1: HTTP, HTTPS with a
certificate made by the test, redirects, request headers, HTTP errors, a
truncated body, and `curl | rzup-extract` through a real pipe."""

import os
import subprocess

from harness import assert_same_tree, listing

WRITERS = ['gnu', 'pax', 'bsdtar', 'pytar', 'pygnu', 'libtar']


def test_http_every_fixture_matches_gnu_tar(ctx):
    for w in WRITERS:
        dest = ctx.path('out')
        r = ctx.run('-C', dest, ctx.url(w + '.tar.gz'))
        assert r.rc == 0, (w, r)
        assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture(w + '.tar.gz')), w)
        ctx.assert_no_staging(os.path.dirname(dest))


def test_https_with_cacert(ctx):
    url = ctx.url('pax.tar.gz', https=True)
    dest = ctx.path('out')
    r = ctx.run('--cacert', ctx.cacert, '-C', dest, url)
    assert r.rc == 0, r
    assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture('pax.tar.gz')), 'https')


def test_https_untrusted_certificate_fails(ctx):
    url = ctx.url('pax.tar.gz', https=True)
    dest = ctx.path('out')
    r = ctx.run('-C', dest, url)
    assert r.rc == 3, r
    assert 'certificate' in r.err or 'TLS' in r.err, r.err
    assert not os.path.exists(dest)


def test_https_insecure_flag(ctx):
    dest = ctx.path('out')
    r = ctx.run('-k', '-C', dest, ctx.url('gnu.tar.gz', https=True))
    assert r.rc == 0, r


def test_redirects_followed(ctx):
    dest = ctx.path('out')
    r = ctx.run('-C', dest, ctx.url('redirect2.tar.gz'))
    assert r.rc == 0, r
    assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture('gnu.tar.gz')), 'redirect')


def test_request_header(ctx):
    dest = ctx.path('out')
    r = ctx.run('-C', dest, ctx.url('private/gnu.tar.gz'))
    assert r.rc == 3 and '403' in r.err, r
    assert not os.path.exists(dest)
    r = ctx.run('-H', 'X-Token: sesame', '-C', dest, ctx.url('private/gnu.tar.gz'))
    assert r.rc == 0, r


def test_404_fails_with_status_and_url(ctx):
    dest = ctx.mkdtemp('dest')
    with open(os.path.join(dest, 'a'), 'w') as f:
        f.write('a')
    before = listing(dest)
    url = ctx.url('missing.tar.gz')
    r = ctx.run('-C', dest, url)
    assert r.rc == 3, r
    assert '404' in r.err and 'missing.tar.gz' in r.err, r.err
    assert listing(dest) == before
    ctx.assert_no_staging(dest)


def test_500_fails(ctx):
    dest = ctx.path('out')
    r = ctx.run('--retry-delay', '0.01', '-C', dest, ctx.url('boom.tar.gz'))
    assert r.rc == 3 and '500' in r.err, r
    assert not os.path.exists(dest)


def test_connection_refused(ctx):
    from harness import free_port
    dest = ctx.path('out')
    r = ctx.run('--retry-delay', '0.01', '-C', dest,
                'http://127.0.0.1:%d/x.tar.gz' % free_port())
    assert r.rc == 3, r
    assert not os.path.exists(dest)


def test_truncated_download_fails_and_leaves_dest(ctx):
    body = open(ctx.fixture('pax.tar.gz'), 'rb').read()
    url = ctx.lying_server(body, len(body), len(body) // 2)
    dest = ctx.mkdtemp('dest')
    with open(os.path.join(dest, 'a'), 'w') as f:
        f.write('a')
    before = listing(dest)
    r = ctx.run('-C', dest, url)
    assert r.rc == 3, r
    assert listing(dest) == before
    ctx.assert_no_staging(dest)


def test_truncated_file_served_whole(ctx):
    # the server sends every byte it has, but the archive itself is cut
    data = open(ctx.fixture('gnu.tar.gz'), 'rb').read()
    with open(ctx.fixture('cut.tar.gz'), 'wb') as f:
        f.write(data[:len(data) * 2 // 3])
    dest = ctx.path('out')
    r = ctx.run('-C', dest, ctx.url('cut.tar.gz'))
    assert r.rc == 5, r
    assert not os.path.exists(dest)


def test_file_url(ctx):
    dest = ctx.path('out')
    r = ctx.run('-C', dest, 'file://' + ctx.fixture('bsdtar.tar.gz'))
    assert r.rc == 0, r
    assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture('bsdtar.tar.gz')), 'file://')


def test_curl_pipe(ctx):
    dest = ctx.path('out')
    curl = subprocess.Popen(['curl', '-sfL', ctx.url('pax.tar.gz')],
                            stdout=subprocess.PIPE)
    r = subprocess.run([ctx.binary, '-C', dest], stdin=curl.stdout,
                       capture_output=True)
    curl.stdout.close()
    assert curl.wait() == 0
    assert r.returncode == 0, r.stderr
    assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture('pax.tar.gz')), 'curl pipe')


def test_sha256_over_http(ctx):
    import hashlib
    digest = hashlib.sha256(open(ctx.fixture('pytar.tar.gz'), 'rb').read()).hexdigest()
    dest = ctx.path('out')
    assert ctx.run('--sha256', digest, '-C', dest, ctx.url('pytar.tar.gz')).rc == 0
    dest2 = ctx.path('out')
    r = ctx.run('--sha256', '0' * 64, '-C', dest2, ctx.url('pytar.tar.gz'))
    assert r.rc == 4, r
    assert not os.path.exists(dest2)


def test_http_proxy_from_environment(ctx):
    url = ctx.url('pytar.tar.gz')
    env = dict(os.environ, http_proxy='http://127.0.0.1:%d' % ctx.proxy_port)
    env.pop('no_proxy', None)
    env.pop('NO_PROXY', None)
    dest = ctx.path('out')
    r = ctx.run('-C', dest, url, env=env)
    assert r.rc == 0, r
    log = open(ctx.proxy_log).read()
    assert 'GET http://127.0.0.1:%d/pytar.tar.gz' % ctx.http_port in log, log
    assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture('pytar.tar.gz')), 'proxy')
    # and no_proxy turns it off again
    env['no_proxy'] = '127.0.0.1'
    before = open(ctx.proxy_log).read().count('\n')
    r = ctx.run('-C', ctx.path('out'), url, env=env)
    assert r.rc == 0, r
    assert open(ctx.proxy_log).read().count('\n') == before


def test_connections_against_nginx_match_gnu_tar(ctx):
    # nginx honours Range and If-Range: small chunks make every fixture
    # several ranges in flight, over HTTP and HTTPS.
    for w in WRITERS:
        dest = ctx.path('out')
        r = ctx.run('--connections', '4', '--chunk-size', '64K', '-C', dest,
                    ctx.url(w + '.tar.gz'))
        assert r.rc == 0 and r.err == '', (w, r)
        assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture(w + '.tar.gz')), w)
    dest = ctx.path('out')
    r = ctx.run('--cacert', ctx.cacert, '--connections', '3', '--chunk-size',
                '64K', '-C', dest, ctx.url('pax.tar.gz', https=True))
    assert r.rc == 0, r
    assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture('pax.tar.gz')), 'https')


def test_connections_redirect_and_error_against_nginx(ctx):
    dest = ctx.path('out')
    r = ctx.run('--connections', '4', '--chunk-size', '64K', '-C', dest,
                ctx.url('redirect2.tar.gz'))
    assert r.rc == 0, r
    assert_same_tree(dest, ctx.gnu_tar_extract(ctx.fixture('gnu.tar.gz')), 'redirect')
    r = ctx.run('--connections', '4', '-C', ctx.path('out'), ctx.url('missing.tar.gz'))
    assert r.rc == 3 and '404 Not Found' in r.err, r
