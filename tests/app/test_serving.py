"""The listening sockets: one set per worker process, among which the kernel spreads new connections."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator

import pytest

from app import serving


@pytest.fixture
def per_worker() -> Iterator[list[list[socket.socket]]]:
    sets = serving.bind("127.0.0.1", 0, copies=2)
    yield sets
    for sock in (sock for each in sets for sock in each):
        sock.close()


def test_each_worker_gets_its_own_sockets_on_one_port(per_worker: list[list[socket.socket]]) -> None:
    (first,), (second,) = per_worker
    assert first is not second
    assert first.getsockname() == second.getsockname()


def test_connections_opened_at_once_reach_every_worker(per_worker: list[list[socket.socket]]) -> None:
    """With one socket shared by the workers, whichever accepted first took a connection; 32 connections opened
    at once sometimes all went to one worker. Each worker's own socket gets its share, by the kernel's hash."""
    (first,), (second,) = per_worker
    port = first.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    try:
        accepted = []
        for sock in (first, second):
            sock.setblocking(False)
            count = 0
            while True:
                try:
                    connection, _ = sock.accept()
                except BlockingIOError:
                    break
                connection.close()
                count += 1
            accepted.append(count)
    finally:
        for client in clients:
            client.close()
    assert sum(accepted) == 64
    # By the hash each lands on either with even odds: all 64 on one would be a 1 in 2**63 chance.
    assert all(count > 0 for count in accepted), accepted


def test_a_port_another_server_listens_on_is_refused(per_worker: list[list[socket.socket]]) -> None:
    port = per_worker[0][0].getsockname()[1]
    with pytest.raises(OSError) as refused:
        serving.bind("127.0.0.1", port, copies=2)
    assert refused.value.errno == errno.EADDRINUSE


def test_one_worker_binds_without_sharing_the_port() -> None:
    ((sock,),) = serving.bind("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
    finally:
        sock.close()
