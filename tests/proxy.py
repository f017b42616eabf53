"""A loopback TCP proxy that counts the bytes it forwards and can go silent.

``freeze()`` makes every open connection a black hole, as a load balancer or NAT that dropped
it would: bytes are read and discarded, nothing is forwarded, and the socket stays open (no
FIN, no RST). Connections made after it work again.
"""

from __future__ import annotations

import selectors
import socket
import threading
from typing import Any


class Proxy:
    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self.target = f"127.0.0.1:{self.port}"
        self.bytes_up = 0  # client to server
        self.bytes_down = 0  # server to client
        self.connections = 0
        self._frozen: set[socket.socket] = set()
        self._peer: dict[socket.socket, socket.socket] = {}
        self._upstreams: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-proxy", daemon=True)

    def freeze(self) -> None:
        """Silently drop every connection open now."""
        with self._lock:
            self._frozen.update(self._peer)

    def _run(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                sock: Any = key.fileobj
                if sock is self._listener:
                    self._accept()
                else:
                    self._forward(sock)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        server = socket.create_connection(self._upstream)
        for sock in (client, server):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._selector.register(sock, selectors.EVENT_READ)
        with self._lock:
            self._peer[client], self._peer[server] = server, client
            self._upstreams.add(server)
            self.connections += 1

    def _forward(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        with self._lock:
            peer = self._peer.get(sock)
            frozen = sock in self._frozen
        if peer is None:
            return
        if not data:
            self._drop(sock, peer)
            return
        if frozen:
            return
        with self._lock:
            if sock in self._upstreams:
                self.bytes_down += len(data)
            else:
                self.bytes_up += len(data)
        peer.setblocking(True)
        try:
            peer.sendall(data)
        except OSError:
            self._drop(sock, peer)
        finally:
            if peer.fileno() != -1:
                peer.setblocking(False)

    def _drop(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._peer.pop(sock, None)
                self._frozen.discard(sock)
                self._upstreams.discard(sock)
        for sock in socks:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()

    def __enter__(self) -> Proxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for sock in list(self._peer):
            self._drop(sock)
        self._selector.close()
        self._listener.close()
