"""TCP_NODELAY for the cockpit server's connections: answers leave at once, not 40 ms later.

Streamlit binds the server's listening socket itself (`socket.socket(family, SOCK_STREAM)`,
protocol number 0) and hands it to uvicorn. asyncio turns Nagle's algorithm off for the
connections it accepts only when the socket says IPPROTO_TCP (`base_events._set_nodelay`), so on
this socket it stayed on. uvicorn writes a response's headers and its body as two writes, and
Streamlit sends a page's run as many small websocket messages: with Nagle on, a small write
that follows one not yet acknowledged waits for the browser's acknowledgement, which Linux
delays by up to 40 ms. On a kept-alive connection every small static file, every API answer
and many websocket messages then arrived ~44 ms late (a first visit fetches ~60 such files on
six connections before the page can connect; docs/BENCHMARKS.md has the figures).

`on_listeners()` sets TCP_NODELAY on every listening TCP socket of this process; on Linux the
connections a listening socket accepts inherit it. dashboard/web.py's lifespan calls it: uvicorn
runs the lifespan after Streamlit has bound the socket and before it accepts the first
connection. It only touches socket options (no private API of Streamlit, uvicorn or asyncio);
on a system without /proc it does nothing.
"""
from __future__ import annotations

import logging
import os
import socket
import stat
from pathlib import Path

log = logging.getLogger(__name__)
FDS = Path("/proc/self/fd")
TCP = (socket.AF_INET, socket.AF_INET6)


def _listening_tcp(sock: socket.socket) -> bool:
    return (sock.family in TCP and sock.type == socket.SOCK_STREAM
            and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1)


def on_listeners() -> int:
    """TCP_NODELAY on each listening TCP socket of this process; returns how many."""
    if not FDS.is_dir():
        return 0
    done = 0
    for name in os.listdir(FDS):
        fd = int(name)
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))     # a second handle on the same socket
        except OSError:                                  # closed meanwhile (listdir's own fd)
            continue
        with sock:
            try:
                if _listening_tcp(sock):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    done += 1
            except OSError as exc:
                log.warning("TCP_NODELAY not set on fd %s: %s", fd, exc)
    return done
