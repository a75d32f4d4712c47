"""Shared machinery for the integration tests: a real nginx on 127.0.0.1
(HTTP and HTTPS with a certificate made here), tree snapshots, and runs of
the binary and of GNU tar.

Every test function takes a Context.  It raises AssertionError (or any
exception) to fail and Skip to be counted as skipped (never as passed).
"""

import hashlib
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time


class Skip(Exception):
    pass


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def snapshot(root):
    """Everything observable about a tree: type, mode, mtime (ns), content
    digest, link target, and which paths share an inode (hardlinks)."""
    entries = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            e = {'mode': oct(stat.S_IMODE(st.st_mode))}
            if stat.S_ISREG(kind):
                with open(p, 'rb') as f:
                    e['sha256'] = hashlib.sha256(f.read()).hexdigest()
                e['type'] = 'file'
                e['mtime'] = st.st_mtime_ns
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
                e['ino'] = (st.st_dev, st.st_ino)
            elif stat.S_ISDIR(kind):
                e['type'] = 'dir'
                e['mtime'] = st.st_mtime_ns
            elif stat.S_ISLNK(kind):
                e['type'] = 'symlink'
                e['target'] = os.readlink(p)
                del e['mode']  # symlink modes are meaningless on Linux
                e['mtime'] = st.st_mtime_ns
            else:
                e['type'] = 'other'
            entries[rel] = e
    for e in entries.values():
        ino = e.pop('ino', None)
        if ino is not None:
            e['links'] = sorted(inodes[ino])
    return entries


def assert_same_tree(got_root, want_root, what='', ignore_mtime=()):
    got, want = snapshot(got_root), snapshot(want_root)
    for k in ignore_mtime:
        for snap in (got, want):
            if k in snap:
                snap[k].pop('mtime', None)
    problems = []
    for k in sorted(set(got) | set(want)):
        if k not in got:
            problems.append('missing: %s' % k)
        elif k not in want:
            problems.append('extra: %s' % k)
        elif got[k] != want[k]:
            problems.append('differs: %s\n    got  %s\n    want %s' % (k, got[k], want[k]))
    if problems:
        raise AssertionError('%s: trees differ (%d problems):\n  %s' % (
            what, len(problems), '\n  '.join(problems[:15])))


def listing(root):
    """Names and contents, for 'the destination is exactly as it was'."""
    return snapshot(root) if os.path.exists(root) else None


class Result:
    def __init__(self, p):
        self.rc = p.returncode
        self.out = p.stdout
        self.err = p.stderr

    def __repr__(self):
        return 'rc=%d\nstdout: %s\nstderr: %s' % (self.rc, self.out[-2000:], self.err[-2000:])


class Context:
    def __init__(self, top, builddir, binary, fixtures):
        self.top = top
        self.builddir = builddir
        self.binary = binary
        self.fixtures = fixtures
        self.tmp = tempfile.mkdtemp(prefix='rzup-test-')
        self.nginx = None
        self._servers = []
        self._n = 0

    # ---------------------------------------------------------- helpers
    def mkdtemp(self, name='d'):
        self._n += 1
        path = os.path.join(self.tmp, '%s%d' % (name, self._n))
        os.makedirs(path)
        return path

    def path(self, name='p'):
        """A fresh path that does not exist yet (inside a fresh parent)."""
        return os.path.join(self.mkdtemp('parent'), name)

    def fixture(self, name):
        return os.path.join(self.fixtures, name)

    def run(self, *args, stdin=None, input=None, timeout=120, env=None):
        p = subprocess.run([self.binary] + list(args), stdin=stdin, input=input,
                           capture_output=True, timeout=timeout, env=env)
        r = Result(p)
        r.out = r.out.decode('utf-8', 'replace')
        r.err = r.err.decode('utf-8', 'replace')
        # under the sanitizer build, any report fails the test
        assert 'Sanitizer' not in r.err and 'runtime error:' not in r.err, r
        return r

    def gnu_tar_extract(self, archive, *extra):
        ref = self.mkdtemp('ref')
        # --delay-directory-restore: bsdtar archives list a directory's
        # entries out of order, and without it GNU tar leaves those
        # directories with the time of extraction instead of the archive's.
        subprocess.run(['tar', '--delay-directory-restore', '-xf', archive,
                        '-C', ref] + list(extra), check=True)
        return ref

    def assert_no_staging(self, parent):
        """No staging directory may be left behind by any run."""
        left = [n for n in os.listdir(parent) if 'rzup' in n]
        assert not left, 'staging left behind in %s: %s' % (parent, left)

    # ---------------------------------------------------------- nginx
    def _make_cert(self, d):
        cert, key = os.path.join(d, 'cert.pem'), os.path.join(d, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                        '-keyout', key, '-out', cert, '-days', '2',
                        '-subj', '/CN=127.0.0.1',
                        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
                       check=True, capture_output=True)
        return cert, key

    def start_nginx(self):
        if self.nginx:
            return
        nginx = shutil.which('nginx') or '/usr/sbin/nginx'
        if not os.path.exists(nginx):
            raise Skip('nginx is not installed')
        d = os.path.join(self.tmp, 'nginx')
        os.makedirs(d)
        self.cacert, key = self._make_cert(d)
        self.http_port, self.https_port = free_port(), free_port()
        self.proxy_port = free_port()
        self.proxy_log = os.path.join(d, 'proxy.log')
        temp = ''.join('%s_temp_path %s/%s;\n' % (t, d, t)
                       for t in ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'))
        conf = f"""
{'user root;' if os.geteuid() == 0 else ''}
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    {temp}
    sendfile on;
    types {{ application/gzip gz; application/x-tar tar; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{self.http_port};
        listen 127.0.0.1:{self.https_port} ssl;
        ssl_certificate {self.cacert};
        ssl_certificate_key {key};
        root {self.fixtures};
        location = /redirect.tar.gz {{ return 302 /gnu.tar.gz; }}
        location = /redirect2.tar.gz {{ return 301 /redirect.tar.gz; }}
        location /private/ {{
            alias {self.fixtures}/;
            if ($http_x_token != "sesame") {{ return 403; }}
        }}
        location = /boom.tar.gz {{ return 500; }}
    }}
    # A forward proxy for plain HTTP, to prove http_proxy is honoured.
    server {{
        listen 127.0.0.1:{self.proxy_port};
        access_log {self.proxy_log};
        location / {{ proxy_pass http://127.0.0.1:{self.http_port}; }}
    }}
}}
"""
        with open(os.path.join(d, 'nginx.conf'), 'w') as f:
            f.write(conf)
        self.nginx = subprocess.Popen([nginx, '-p', d, '-c', os.path.join(d, 'nginx.conf'),
                                       '-g', 'daemon off;'],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                socket.create_connection(('127.0.0.1', self.http_port), 0.2).close()
                socket.create_connection(('127.0.0.1', self.https_port), 0.2).close()
                return
            except OSError:
                if self.nginx.poll() is not None:
                    raise AssertionError('nginx failed: ' + self.nginx.stderr.read().decode())
                time.sleep(0.05)
        raise AssertionError('nginx did not start')

    def url(self, name, https=False):
        self.start_nginx()
        if https:
            return 'https://127.0.0.1:%d/%s' % (self.https_port, name)
        return 'http://127.0.0.1:%d/%s' % (self.http_port, name)

    # ------------------------------------------- hand-rolled servers
    def raw_server(self, body, declared_len, send_body):
        """A one-response-per-connection HTTP server on 127.0.0.1 that
        declares `declared_len` bytes and lets `send_body(conn, body, stop)`
        send what it likes: for bodies that are cut short, or dripped."""
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(('127.0.0.1', 0))
        srv.listen(8)
        srv.settimeout(0.2)
        stop = threading.Event()

        def serve():
            while not stop.is_set():
                try:
                    c, _ = srv.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return
                try:
                    c.settimeout(5)
                    req = b''
                    while b'\r\n\r\n' not in req:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        req += chunk
                    c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n'
                              b'Connection: close\r\n\r\n' % declared_len)
                    send_body(c, body, stop)
                except OSError:
                    pass
                finally:
                    c.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        self._servers.append((stop, srv, t))
        return 'http://127.0.0.1:%d/x.tar.gz' % srv.getsockname()[1]

    def lying_server(self, body, declared_len, send_len):
        """Declares `declared_len` bytes but sends only `send_len`, then
        closes: a dropped download."""
        return self.raw_server(body, declared_len,
                               lambda c, b, stop: c.sendall(b[:send_len]))

    def close(self):
        for stop, srv, t in self._servers:
            stop.set()
            srv.close()
            t.join(2)
        if self.nginx:
            self.nginx.terminate()
            try:
                self.nginx.wait(5)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)
