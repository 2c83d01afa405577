"""The SQL console's zygote: one process that has imported DuckDB and pyarrow, forking a query process per
console query (dashboard/sqlconsole_worker.py).

Starting `python -m ...` per query cost ~0.23 s of CPU before the query began (the
interpreter, DuckDB, pyarrow). The zygote pays the interpreter, DuckDB and pyarrow once per
server (a query process then costs ~0.05 s of CPU before its query; see _preload_arrow for
how pyarrow is kept from starting threads here): the server starts it on
the first console query (`python -P -m dashboard.sqlconsole_zygote FD`, with the worker's
environment: glibc arenas and Arrow's allocator settings must be in place before start-up) and
talks to it over a Unix SEQPACKET socket. For each query the server sends the limits and three
descriptors (SCM_RIGHTS): the read end of the request pipe, the write end of the result pipe
and its end of a per-query socket. The zygote forks; the child sets its kernel limits and runs
the query (worker.child); the zygote answers on the per-query socket with the child's pid, and
with `exit N` (N as subprocess gives a return code: negative for a signal) once it has reaped
it. The server asks `kill` on that socket when a query runs over its wall clock or its byte
cap: the zygote kills only a child it has not yet reaped, so a recycled pid is never hit.

The zygote stays single-threaded (a fork copies only the calling thread; tests check it) and
dies with the server (PR_SET_PDEATHSIG); each child dies with the zygote. No streamlit import.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_MODULE = "dashboard.sqlconsole_zygote"
_REPO = Path(__file__).resolve().parents[1]
REPLY_TIMEOUT_S = 10.0       # the zygote's answers (a pid, an exit status) arrive within this
MAX_MESSAGE = 4096


class ZygoteError(RuntimeError):
    """The zygote could not be reached or did not answer."""


# --- the server's side --------------------------------------------------------------------

class Query:
    """One forked query process, seen from the server: its pid, `kill()` and `returncode()`."""

    def __init__(self, reply: socket.socket, lines, pid: int):
        self.reply, self._lines, self.pid = reply, lines, pid

    def kill(self) -> None:
        try:
            self.reply.sendall(b"kill\n")
        except OSError:
            pass                                    # the zygote is gone, and the child with it

    def returncode(self) -> int:
        """The child's exit status once the zygote has reaped it (waits for it)."""
        self.reply.settimeout(REPLY_TIMEOUT_S)
        line = _line(self._lines)
        if not line.startswith("exit "):
            raise ZygoteError(f"the zygote answered {line!r}")
        return int(line.split()[1])

    def close(self) -> None:
        self._lines.close()
        self.reply.close()


class Zygote:
    """The server's handle on its zygote process, started on first use and again if it died."""

    def __init__(self, env_of):
        self._env_of = env_of                       # () -> the environment to start it with
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None

    def fork(self, memory_mb: int, cpu_s: int, request_r: int, result_w: int) -> Query:
        """A new query process reading its request from `request_r`, answering on `result_w`."""
        message = json.dumps({"memory_mb": memory_mb, "cpu_s": cpu_s}).encode()
        for attempt in (1, 2):                      # a zygote that died is started again, once
            ours, theirs = socket.socketpair()
            try:
                with self._lock:
                    try:
                        socket.send_fds(self._started(), [message],
                                        [request_r, result_w, theirs.fileno()])
                    except OSError:
                        self._stop()
                        raise
                theirs.close()
                ours.settimeout(REPLY_TIMEOUT_S)
                lines = ours.makefile("rb")
                pid = int(_line(lines))
                ours.settimeout(None)
                return Query(ours, lines, pid)
            except (OSError, ValueError, ZygoteError) as exc:
                ours.close()
                theirs.close()
                if attempt == 2:
                    raise ZygoteError(f"no query process: {exc}") from exc
                with self._lock:
                    self._stop_if_dead()

    def _started(self) -> socket.socket:
        if self._proc is not None and self._proc.poll() is None:
            return self._sock
        self._stop()
        server_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-P", "-m", _MODULE, str(zygote_end.fileno())],
                pass_fds=[zygote_end.fileno()], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=_REPO,
                env=self._env_of())
        finally:
            zygote_end.close()
        self._sock = server_end
        return server_end

    def _stop_if_dead(self) -> None:
        """After a failed fork: wait briefly for a dying zygote, then start afresh if it is gone
        (or answers nothing)."""
        if self._proc is not None:
            try:
                self._proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        self._stop()

    def _stop(self) -> None:
        if self._sock is not None:
            self._sock.close()                      # the zygote sees EOF and exits
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        if self._proc is not None:
            self._proc.wait()
        self._proc = self._sock = None

    def pid(self) -> int | None:
        """The zygote's process id (None before the first query)."""
        return None if self._proc is None else self._proc.pid


def _line(lines) -> str:
    try:
        data = lines.readline(MAX_MESSAGE)
    except TimeoutError as exc:
        raise ZygoteError("the zygote did not answer") from exc
    if not data.endswith(b"\n"):
        raise ZygoteError("the zygote closed the query's socket")
    return data.decode().strip()


# --- the zygote process -------------------------------------------------------------------

def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):              # not Linux: the server's socket EOF still ends it
        pass


def serve(control: socket.socket) -> int:
    """Fork a query process per message on `control` until the server closes it."""
    # what every query process needs, imported once: DuckDB, the sandbox and pyarrow
    import duckdb  # noqa: F401
    from dashboard import sqlconsole_worker as worker
    from dashboard import sqlsandbox  # noqa: F401
    _preload_arrow()

    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a child's exit wakes the select below
    children: dict[int, socket.socket] = {}
    by_socket: dict[int, int] = {}
    while True:
        listening = [s for s in children.values() if s is not None]
        ready, _, _ = select.select([control, wake_r, *listening], [], [])
        if wake_r in ready:
            os.read(wake_r, 512)
        _reap(children, by_socket)
        for sock in ready:
            if sock is control:
                if not _fork_one(control, children, by_socket, worker, (wake_r, wake_w)):
                    return 0                        # the server is gone
            elif isinstance(sock, socket.socket) and sock.fileno() in by_socket:
                _on_request(sock, by_socket[sock.fileno()], children, by_socket)


_LAZY_ARROW = "COCKPIT_ZYGOTE_LAZY_ARROW"     # set when pyarrow is left to each query process


def _threads() -> int | None:
    """This process's native threads (None where /proc does not say)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def _preload_arrow() -> None:
    """Import pyarrow once here instead of in every query process (its import took ~0.13 s of
    a query process's ~0.23 s of CPU, and the threads it started slowed the rest).

    A fork copies only the calling thread, so the zygote must stay single-threaded: the
    server's environment for it (dashboard/sqlconsole.py `_child_env`) turns off what the
    import would start (jemalloc's background thread in libarrow, OpenBLAS's pool in numpy).
    Should anything else start a thread, the zygote starts itself again without the preload
    (each query process then imports pyarrow, as before); where the threads cannot be counted
    it does not preload."""
    if os.environ.get(_LAZY_ARROW) or _threads() != 1:
        return
    import pyarrow  # noqa: F401
    import pyarrow.ipc  # noqa: F401
    if _threads() == 1:
        return
    os.execve(sys.executable, [sys.executable, "-P", "-m", _MODULE, *sys.argv[1:]],
              {**os.environ, _LAZY_ARROW: "1"})


def _fork_one(control, children, by_socket, worker, wake) -> bool:
    message, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, 3)
    if not message:
        return False
    request_r, result_w, reply_fd = fds
    reply = socket.socket(fileno=reply_fd)
    limits = json.loads(message)
    pid = os.fork()
    if pid == 0:                                    # the query process
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in (*wake, control.fileno(), reply.fileno(),
                   *(s.fileno() for s in children.values() if s is not None)):
            os.close(fd)
        os._exit(worker.child(limits["memory_mb"], limits["cpu_s"], request_r, result_w))
    os.close(request_r)
    os.close(result_w)
    children[pid] = reply
    by_socket[reply.fileno()] = pid
    _send(reply, f"{pid}\n")
    return True


def _on_request(sock, pid, children, by_socket) -> None:
    try:
        data = sock.recv(64)
    except OSError:
        data = b""
    if data.startswith(b"kill") and pid in children:
        os.kill(pid, signal.SIGKILL)                # not yet reaped: the pid is still this child's
    elif not data:                                  # the server stopped listening for this one
        by_socket.pop(sock.fileno(), None)
        children[pid] = None
        sock.close()


def _reap(children, by_socket) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        reply = children.pop(pid, None)
        if reply is not None:
            by_socket.pop(reply.fileno(), None)
            _send(reply, f"exit {os.waitstatus_to_exitcode(status)}\n")
            reply.close()


def _send(sock: socket.socket, text: str) -> None:
    try:
        sock.sendall(text.encode())
    except OSError:
        pass                                        # the server no longer waits for it


if __name__ == "__main__":
    _die_with_parent()
    sys.exit(serve(socket.socket(fileno=int(sys.argv[1]))))
