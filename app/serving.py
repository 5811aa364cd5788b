"""Serving the app with uvicorn: the socket is bound before the server says where it serves."""

from __future__ import annotations

import socket

import uvicorn

from app.rpc.asgi import RpcApp

_BACKLOG = 2048  # uvicorn's default


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets for the addresses `host` stands for (OSError when one cannot be had: a port in use).

    Bound before anything else happens, so that a port in use is an error at once, not after migrations and after
    the server has printed where it serves; connections made before serving begins wait in the backlog."""
    sockets: list[socket.socket] = []
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, protocol, _name, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, protocol)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio does: IPv4 gets its own
            sock.bind(address)
            sock.listen(_BACKLOG)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def run(app: RpcApp, sockets: list[socket.socket]) -> None:
    """Serve on the bound sockets until stopped."""
    uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=sockets)
