"""A small HTTP CONNECT proxy on 127.0.0.1, for the tests of ``use_proxy``.

It tunnels ``CONNECT host:port`` to loopback addresses only (anything else is refused with 403, so a
test can never send traffic elsewhere) and records each tunnel in ``connects`` (``"host:port"``).
TLS passes through it end to end: the proxy sees no request, only the tunnel.

    with ConnectProxy() as proxy:
        env = {"HTTPS_PROXY": proxy.url}
"""

import select
import socket
import threading
from socketserver import StreamRequestHandler, ThreadingTCPServer

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class _Tunnel(StreamRequestHandler):
    timeout = 30

    def handle(self):
        line = self.rfile.readline(65536).decode("latin-1").strip()
        while self.rfile.readline(65536).strip():  # the rest of the header
            pass
        method, _sep, rest = line.partition(" ")
        target = rest.split(" ")[0]
        host, _sep, port = target.rpartition(":")
        host = host.strip("[]")
        if method != "CONNECT" or host not in LOOPBACK or not port.isdigit():
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        self.server.record(target)
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        with upstream:
            self._pump(self.connection, upstream)

    @staticmethod
    def _pump(client, upstream):
        sockets = [client, upstream]
        while True:
            readable, _w, _x = select.select(sockets, [], [], 30)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)


class ConnectProxy(ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.connects = []
        self._lock = threading.Lock()
        self._thread = None

    def record(self, target):
        with self._lock:
            self.connects.append(target)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def __enter__(self):
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.shutdown()
        self.server_close()
        self._thread.join(5)
