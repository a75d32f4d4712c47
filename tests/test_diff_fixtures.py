"""Regression fixtures from tools/tarfuzz (issue 12): each
tests/diff-fixtures/NAME.tar is a minimised finding of the differential
fuzzer, judged again here by the same oracles (Python tarfile, bsdtar,
GNU tar) and rzup-extract.  NAME.txt starts with

    expect: no-differential   rzup-extract refuses it, or extracts what
                              the agreeing peers read (never exit 0 with
                              another reading)
    expect: accept            all peers read it cleanly and identically and
                              rzup-extract must extract exactly that
    expect: refuse            rzup-extract must refuse it as malformed or by
                              policy (exit 5 or 6; the reason is in the
                              file), not with an I/O error or a crash
    pending: WHO WHY          optional: the fix is being made elsewhere
                              (the tarparse branch); until it lands a
                              failure counts as SKIP, naming the verdict

followed by tarfuzz's description of the finding.
"""

import glob
import importlib.machinery
import importlib.util
import os
import shutil
import tempfile

from harness import Skip

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, 'diff-fixtures')
_loader = importlib.machinery.SourceFileLoader(
    'tarfuzz', os.path.join(os.path.dirname(HERE), 'tools', 'tarfuzz'))
_spec = importlib.util.spec_from_loader('tarfuzz', _loader)
tarfuzz = importlib.util.module_from_spec(_spec)
_loader.exec_module(tarfuzz)


def _header(txt):
    keys = {}
    with open(txt) as f:
        for line in f:
            k, sep, v = line.partition(':')
            if not sep or k not in ('expect', 'pending', 'class'):
                break
            keys[k] = v.strip()
    return keys


def _judge(ctx, tar):
    with open(tar, 'rb') as f:
        data = f.read()
    work = tempfile.mkdtemp(prefix='difffix-', dir=ctx.tmp)
    try:
        return tarfuzz.judge(ctx.binary, data, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fixture_test(name):
    def test(ctx):
        tar = os.path.join(FIXTURES, name + '.tar')
        keys = _header(os.path.join(FIXTURES, name + '.txt'))
        expect = keys.get('expect')
        kind, group, detail = _judge(ctx, tar)
        rz = detail['rzup']
        if expect == 'no-differential':
            ok = kind not in ('differential', 'crash')
        elif expect == 'accept':
            ok = kind == 'agree'
        elif expect == 'refuse':
            ok = rz['rc'] in (5, 6) and kind != 'differential'
        else:
            raise AssertionError('%s.txt: no valid expect: line' % name)
        if ok:
            return
        why = '%s: expected %s, got %s\n%s' % (
            name, expect, kind, tarfuzz.describe(kind, group, detail))
        if keys.get('pending'):
            raise Skip('pending (%s); verdict now: %s %s' % (
                keys['pending'], kind, group))
        raise AssertionError(why)
    return test


def test_fixture_set_is_not_empty(ctx):
    names = glob.glob(os.path.join(FIXTURES, '*.tar'))
    assert len(names) >= 5, 'only %d diff fixtures' % len(names)
    for tar in names:
        txt = tar[:-4] + '.txt'
        assert os.path.exists(txt), 'no %s' % txt
        assert _header(txt).get('expect'), '%s: no expect: line' % txt


for _tar in sorted(glob.glob(os.path.join(FIXTURES, '*.tar'))):
    _n = os.path.basename(_tar)[:-4]
    globals()['test_' + _n.replace('-', '_')] = _fixture_test(_n)
