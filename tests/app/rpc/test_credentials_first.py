"""Credentials before the body: a caller without a valid key never makes the server read or parse a large body."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import Message

from app.rpc.asgi import PRE_AUTH_BODY_BYTES, RpcApp
from tests.helpers import TEST_PRINCIPAL

CHUNK = 64 * 1024
BIG = 32 * 1024 * 1024


class Upload:
    """An ASGI receive() that hands out a body chunk by chunk and counts what the app took."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.taken = 0

    async def __call__(self) -> Message:
        chunk = self._body[self.taken : self.taken + CHUNK]
        self.taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": self.taken < len(self._body)}


def _post(app: RpcApp, path: str, upload: Upload, headers: list[tuple[bytes, bytes]]) -> tuple[int, Any]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), *headers]
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "query_string": b""}
    asyncio.run(app(scope, upload, send))
    status = sent[0]["status"]
    return status, json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def _frame_of(size: int, **extra: Any) -> bytes:
    """A valid frame padded to about `size` bytes (a List command with a long, ignored-by-nobody cmd id list)."""
    devices = [f"device-{i:08d}" for i in range(size // 20)]
    args = {"projectid": "//p", "rolloutid": "1", "devices": devices}
    return json.dumps({"v": 1, "cmds": [{"cmd": "/v1/Rollout.AddDevices", "id": 1, "args": args}], **extra}).encode()


def test_a_bad_header_key_is_refused_before_any_of_the_body_is_read(app: RpcApp) -> None:
    upload = Upload(b"{}" * (BIG // 2))
    status, body = _post(app, "/v1", upload, [(b"authorization", b"Bearer rk_not-a-key")])
    assert (status, body) == (401, {"status": 401, "status_msg": "invalid or revoked API key"})
    assert upload.taken == 0


def test_an_anonymous_body_stops_being_read_past_the_pre_auth_limit(app: RpcApp) -> None:
    upload = Upload(b" " * BIG)
    status, body = _post(app, "/v1", upload, [])
    assert status == 413
    assert body["status_msg"] == (
        f"body is larger than the limit of {PRE_AUTH_BODY_BYTES} bytes; "
        "send the key as 'Authorization: Bearer <key>' for a larger frame"
    )
    assert upload.taken <= PRE_AUTH_BODY_BYTES + CHUNK


def test_an_anonymous_declared_length_past_the_limit_reads_nothing(app: RpcApp) -> None:
    upload = Upload(b" " * BIG)
    status, _ = _post(app, "/v1/Rollout.Get", upload, [(b"content-length", str(BIG).encode())])
    assert status == 413
    assert upload.taken == 0


def test_a_key_in_the_header_lifts_the_pre_auth_limit(app: RpcApp, admin_key: str) -> None:
    body = _frame_of(2 * PRE_AUTH_BODY_BYTES)
    assert len(body) > PRE_AUTH_BODY_BYTES
    status, answer = _post(app, "/v1", Upload(body), [(b"authorization", f"Bearer {admin_key}".encode())])
    assert status == 200
    # It was read, parsed and run: the command answers for itself (no such rollout in that project).
    assert answer["resp"] == [{"id": 1, "status": 404, "status_msg": "rollout '1' not found in project '//p'"}]
    assert answer["dst"] == TEST_PRINCIPAL


def test_a_small_frame_may_still_carry_its_key(app: RpcApp, admin_key: str) -> None:
    frame = {"v": 1, "key": admin_key, "cmds": [{"cmd": "/v1/Rollout.List", "id": 2, "args": {"projectid": "//p"}}]}
    status, answer = _post(app, "/v1", Upload(json.dumps(frame).encode()), [])
    assert (status, answer["resp"]) == (200, [{"id": 2, "status": 0, "resp": []}])


def test_the_frame_key_must_match_a_header_key_checked_first(app: RpcApp, admin_key: str) -> None:
    frame = {"v": 1, "key": "rk_other", "cmds": [{"cmd": "/v1/Rollout.List", "id": 3}]}
    headers = [(b"authorization", f"Bearer {admin_key}".encode())]
    status, answer = _post(app, "/v1", Upload(json.dumps(frame).encode()), headers)
    assert status == 401
    assert answer["status_msg"] == "the frame's key and the Authorization header name different keys; send one key"
