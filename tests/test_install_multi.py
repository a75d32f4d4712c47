"""`install --driver=multi`: one curl multi thread for every component's
download, each feeding its own pipeline through a bounded ring.

The install tests of test_install.py run again with this driver (parallel
install, one failing component, receipts with the server stopped, headers
per component, Ctrl-C), and the driver's own cases are proved here against
real servers on 127.0.0.1: retries and resume per component while the
others go on (tools/faultserver's drop, stall and 503 faults), transfers
paused when their pipeline falls behind and resumed without losing or
repeating a byte (trees identical to GNU tar's, digests checked), and one
component's pipeline failing while the others publish.
"""

import os
import time

import test_install as ti
from test_network import FaultServer


def test_multi_three_components_in_parallel(ctx):
    ti.test_three_components_in_parallel(ctx, driver='multi')


def test_multi_one_bad_digest_others_publish(ctx):
    ti.test_one_bad_digest_others_publish(ctx, driver='multi')


def test_multi_rerun_with_server_stopped(ctx):
    ti.test_rerun_with_server_stopped_downloads_nothing(ctx, driver='multi')


def test_multi_headers_reach_only_their_component(ctx):
    ti.test_headers_reach_only_their_component(ctx, driver='multi')


def test_multi_ctrl_c_stops_every_component(ctx):
    ti.test_ctrl_c_stops_every_component_and_installs_nothing(
        ctx, driver='multi')


def test_multi_driver_value_checked(ctx):
    r = ctx.run('install', '--driver=curl', 'a.yaml')
    assert r.rc == 2 and "--driver (threads, multi)" in r.err, r
    r = ctx.run('install', '--driver=multi', '--connections', '4', 'a.yaml')
    assert r.rc == 2 and 'applies to --driver=threads' in r.err, r


def _big_setup(ctx, names, files, size):
    """Components big enough (a few MB, compressible) that loopback
    delivers them faster than gzip and the disk take them: the rings fill
    and the transfers pause."""
    return ti._setup(ctx, names=names, files=files, size=size)


def _check_all(ctx, root, comps):
    for n, c in comps.items():
        dest = os.path.join(root, 'toolchains', n, '1.0')
        ti._check_tree(ctx, dest, c, n)
        assert 'sha256 %s\n' % c['sha256'] in ti.dest_without_receipt.last
        ti._restore_receipt(dest)
        ctx.assert_no_staging(os.path.dirname(dest))


def test_multi_pauses_full_rings_and_loses_no_byte(ctx):
    d, comps = _big_setup(ctx, ('rust', 'cpp', 'gdb'), files=30,
                          size=400000)
    srv = ti.Served(ctx, d)
    try:
        root = ctx.mkdtemp('root')
        m = ti._manifest(os.path.join(d, 'rzup.yaml'), root,
                         ti._entries(srv, comps))
        r = ctx.run('install', '--driver=multi', '-v', m)
        assert r.rc == 0, r
        assert '3 installed, 0 up to date, 0 failed' in r.err, r
        line = [l for l in r.err.splitlines() if 'curl multi' in l][0]
        pauses = int(line.split('paused ')[1].split()[0])
        assert pauses > 0, line      # the rings did fill
        _check_all(ctx, root, comps)
    finally:
        srv.close()


def test_multi_slow_component_does_not_hold_back_the_others(ctx):
    """gdb drips from its server while rust and cpp, big and paused over
    and over for their pipelines, finish long before it."""
    d, comps = _big_setup(ctx, ('rust', 'cpp', 'gdb'), files=20,
                          size=300000)
    srv = ti.Served(ctx, d)
    try:
        body = open(comps['gdb']['archive'], 'rb').read()

        def drip(c, body, stop):
            for off in range(0, len(body), 65536):
                if stop.is_set():
                    return
                c.sendall(body[off:off + 65536])
                time.sleep(0.02)
        slow = srv.c.raw_server(body, len(body), drip)
        root = ctx.mkdtemp('root')
        m = ti._manifest(os.path.join(d, 'rzup.yaml'), root,
                         ti._entries(srv, comps, gdb={'url': slow}))
        r = ctx.run('install', '--driver=multi', '--progress=json', m)
        assert r.rc == 0, r
        ev = ti._json_lines(r.err)
        done = {e['component']: e for e in ev if e['event'] == 'done'}
        assert done['gdb']['seconds'] > 0.5, done
        for n in ('rust', 'cpp'):
            assert done[n]['seconds'] < done['gdb']['seconds'] / 2, done
            assert done[n]['bytes'] == comps[n]['size'], done
        _check_all(ctx, root, comps)
    finally:
        srv.close()


def test_multi_retries_and_resumes_per_component(ctx):
    """On one multi handle: rust's connection drops mid-body (resumed with
    Range at the byte it got to), cpp's first answer is a 503 (retried from
    the start), gdb's server stalls (the stall timeout ends that attempt,
    the next one resumes); each component installs exactly its archive."""
    d, comps = _big_setup(ctx, ('rust', 'cpp', 'gdb'), files=12,
                          size=200000)
    with FaultServer(ctx, d) as fs:
        root = ctx.mkdtemp('root')
        half = {n: c['size'] // 2 for n, c in comps.items()}
        over = {
            'rust': {'url': fs.url('rust.tar.gz', drop=half['rust'],
                                   times=1)},
            'cpp': {'url': fs.url('cpp.tar.gz', status=503, times=1)},
            'gdb': {'url': fs.url('gdb.tar.gz', stall=30,
                                  stall_at=half['gdb'], times=1)},
        }
        m = ti._manifest(os.path.join(d, 'rzup.yaml'), root,
                         _entries_for(comps, over))
        t0 = time.monotonic()
        r = ctx.run('install', '--driver=multi', '--progress=json',
                    '--retry-delay', '0.05', '--stall-timeout', '2', m)
        took = time.monotonic() - t0
        assert r.rc == 0, r
        assert took < 20, took
        ev = ti._json_lines(r.err)
        retries = {}
        for e in ev:
            if e['event'] == 'retry':
                retries.setdefault(e['component'], []).append(e['message'])
        assert sorted(retries) == ['cpp', 'gdb', 'rust'], retries
        assert 'resuming at byte %d' % half['rust'] in retries['rust'][0], \
            retries
        assert '503' in retries['cpp'][0], retries
        assert 'no data received for 2 s' in retries['gdb'][0], retries
        log = fs.log()
        ranges = {e['path'].split('?')[0]: e['range'] for e in log
                  if e['range']}
        assert ranges.get('/rust.tar.gz') == 'bytes=%d-' % half['rust'], log
        assert ranges.get('/gdb.tar.gz') == 'bytes=%d-' % half['gdb'], log
        _check_all(ctx, root, comps)


def _entries_for(comps, over):
    out = []
    for n, c in comps.items():
        e = {'name': n, 'sha256': c['sha256'],
             'dest': 'toolchains/%s/1.0' % n, 'strip-components': 1}
        e.update(over[n])
        out.append(e)
    return out


def test_multi_one_pipeline_fails_the_others_publish(ctx):
    """cpp's archive is corrupted at the server in the middle (its digest
    and its gzip CRC both break): cpp fails, its staging is gone, and rust
    and gdb, sharing the multi handle, publish intact."""
    d, comps = _big_setup(ctx, ('rust', 'cpp', 'gdb'), files=12,
                          size=200000)
    with FaultServer(ctx, d) as fs:
        root = ctx.mkdtemp('root')
        over = {n: {'url': fs.url(n + '.tar.gz')} for n in comps}
        over['cpp'] = {'url': fs.url('cpp.tar.gz',
                                     corrupt=comps['cpp']['size'] // 2)}
        m = ti._manifest(os.path.join(d, 'rzup.yaml'), root,
                         _entries_for(comps, over))
        r = ctx.run('install', '--driver=multi', m)
        assert r.rc in (4, 5), r
        assert '2 installed, 0 up to date, 1 failed' in r.err, r
        assert 'cpp' in r.err and 'FAILED' in r.err, r
        assert not os.path.exists(os.path.join(root, 'toolchains', 'cpp',
                                               '1.0'))
        ctx.assert_no_staging(os.path.join(root, 'toolchains', 'cpp'))
        del comps['cpp']
        _check_all(ctx, root, comps)
