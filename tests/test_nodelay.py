"""dashboard/nodelay.py: the server's connections without Nagle's algorithm (real sockets)."""
from __future__ import annotations

import socket

import pytest

from dashboard import nodelay

pytestmark = pytest.mark.skipif(not nodelay.FDS.is_dir(), reason="needs /proc/self/fd (Linux)")


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


@pytest.fixture
def listener():
    # as Streamlit binds it: protocol number 0, which asyncio's own TCP_NODELAY skips
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def _accept(listener: socket.socket) -> tuple[socket.socket, socket.socket]:
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    return client, server


def test_connections_accepted_after_it_run_without_nagle(listener):
    client, before = _accept(listener)
    with client, before:
        assert listener.proto == 0 and _nodelay(before) == 0
        assert nodelay.on_listeners() >= 1
        assert _nodelay(listener) == 1
        assert _nodelay(client) == 0            # a connected socket is not a listener: left alone
    client, after = _accept(listener)
    with client, after:
        assert _nodelay(after) == 1             # inherited from the listening socket


def test_the_servers_lifespan_sets_it_before_the_first_connection(listener, monkeypatch, run_async):
    """dashboard/web.py's lifespan (uvicorn runs it after Streamlit bound the socket, before
    accepting); the warm-up's own work is not what this checks."""
    from dashboard import keepwarm, warmup, web
    monkeypatch.setattr(warmup, "start", lambda: None)
    monkeypatch.setattr(warmup, "freeze", lambda: None)
    monkeypatch.setattr(keepwarm, "start", lambda: None)

    async def started():
        async with web.lifespan(None):
            return _nodelay(listener)

    assert run_async(started()) == 1
