"""Serving the app with uvicorn: the socket is bound before the server says where it serves, and SIGTERM or SIGINT
stop it gracefully and with exit status 0."""

from __future__ import annotations

import gc
import signal
import socket
import threading
from types import FrameType

import uvicorn

from app.rpc.asgi import RpcApp
from app.storage.db import stop_commands

_BACKLOG = 2048  # uvicorn's default


def bind(host: str, port: int, *, copies: int = 1) -> list[list[socket.socket]]:
    """`copies` sets of listening sockets for the addresses `host` stands for, one set per worker process (OSError
    when one cannot be had: a port in use).

    Bound before anything else happens, so that a port in use is an error at once, not after migrations and after
    the server has printed where it serves; connections made before serving begins wait in the backlog.

    With more than one copy every socket has SO_REUSEPORT, and the kernel gives each new connection to one copy by
    a hash of its addresses. Workers that shared one socket took connections as each happened to accept first: a
    client that opened 32 connections at once sometimes had all 32 on one worker (and one worker's rate). The port
    is first bound once without SO_REUSEPORT, so that a port another server listens on is still refused."""
    if copies > 1:
        for sock in _bind_once(host, port, reuse_port=False, ports=None):
            sock.close()
    sets: list[list[socket.socket]] = []
    try:
        for _ in range(copies):
            # With port 0 the first copy's ports (one per address) are the ones every other copy shares.
            ports = [sock.getsockname()[1] for sock in sets[0]] if sets else None
            sets.append(_bind_once(host, port, reuse_port=copies > 1, ports=ports))
    except OSError:
        for sock in (sock for each in sets for sock in each):
            sock.close()
        raise
    return sets


def _bind_once(host: str, port: int, *, reuse_port: bool, ports: list[int] | None) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for index, (family, kind, protocol, _name, address) in enumerate(dict.fromkeys(addresses)):
            sock = socket.socket(family, kind, protocol)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio does: IPv4 gets its own
            sock.bind(address if ports is None else (address[0], ports[index], *address[2:]))
            sock.listen(_BACKLOG)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def run(app: RpcApp, sockets: list[socket.socket], *, grace_seconds: int) -> None:
    """Serve until SIGTERM or SIGINT. Then: accept no more connections; let running requests finish for up to
    `grace_seconds`, then close their connections and start no further command (one running finishes); run the
    app's lifespan shutdown (its worker threads finish, its pool closes); return."""
    # Its loggers propagate to the root logger (app/logs.py), and requests are logged once, by the app (app.requests),
    # with the request id and the caller, not a second time by uvicorn's access log.
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=grace_seconds)
    server = _Server(config, app)

    def stop(_signal: int, _frame: FrameType | None) -> None:
        server.should_exit = True

    # uvicorn handles both signals while it serves, and afterwards raises the signal again for the handler that was
    # there before, so that the process dies of it (exit status -15; a KeyboardInterrupt traceback for SIGINT).
    # Here a stop is the planned end, with status 0: the handler there before is this one, which also covers a
    # signal that comes before uvicorn has put up its own.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, stop)
    settle_heap()
    server.run(sockets=sockets)


def settle_heap() -> None:
    """Put everything the process has made so far (modules, models, the app) out of the garbage collector's
    sight: it lives as long as the process. Under load every request in flight at a collection is promoted to
    the oldest generation, which is then collected every few seconds, and each full collection walked this
    whole heap: 40 to 130 ms with every request waiting (the slowest 1 % of single Gets at 64 connections took
    over 100 ms). Afterwards a full collection walks only what was made since."""
    gc.collect()
    gc.freeze()


class _Server(uvicorn.Server):
    """uvicorn's server, which also stops the app's commands once the grace period is over."""

    def __init__(self, config: uvicorn.Config, app: RpcApp) -> None:
        super().__init__(config)
        self._app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn closes the connections still open after the grace period, but the frames they sent go on running
        # on worker threads, command after command, and the lifespan waits for them. A timer thread, since the event
        # loop may be blocked by then (the lifespan joins the worker threads on it).
        grace = self.config.timeout_graceful_shutdown
        timer = None if grace is None else threading.Timer(grace, stop_commands, [self._app.state.engine])
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            await super().shutdown(sockets)
        finally:
            if timer is not None:
                timer.cancel()
