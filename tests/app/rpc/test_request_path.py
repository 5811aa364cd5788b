"""The request path, measured: one SetDeviceState frame goes from the ASGI entry to its SQL through a short
chain of app functions, and its body is parsed once."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections import Counter
from types import FrameType
from typing import Any

from fastapi.testclient import TestClient

from app.rpc.asgi import RpcApp
from tests.helpers import ROOT, create_rollout, ok

APP = str(ROOT / "app")
# The ASGI entry (RpcApp.__call__) hands the frame to a worker thread; from there to the statement:
# Exchange.frame, Dispatcher.stream_frame, Dispatcher._run, the service's method, the store's function
# and the statement's two (the kind of fetch, then the run): eight with the entry.
MAX_FUNCTIONS_ON_THE_WORKER = 7


def _name(frame: FrameType) -> str:
    return f"{frame.f_code.co_filename.removeprefix(APP)}:{frame.f_code.co_qualname}"


def test_set_device_state_reaches_its_sql_through_eight_app_functions_and_one_parse(
    app: RpcApp, http: TestClient, project: str, admin_key: str
) -> None:
    rollout_id = create_rollout(http, project)
    ok(http, "AddDevices", projectid=project, rolloutid=rollout_id, devices=["d1"])
    ok(http, "SetState", projectid=project, rolloutid=rollout_id, state="inProgress")
    args = {"projectid": project, "rolloutid": rollout_id, "deviceid": "d1", "state": "started"}
    body = json.dumps({"v": 1, "cmds": [{"cmd": "/v1/Rollout.SetDeviceState", "id": 1, "args": args}]}).encode()

    chains: list[list[str]] = []
    parses: Counter[str] = Counter()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_qualname == "Transaction.cursor" and code.co_filename.startswith(APP):
            chain, caller = [], frame.f_back
            while caller is not None:
                if caller.f_code.co_filename.startswith(APP):
                    chain.append(_name(caller))
                caller = caller.f_back
            chains.append(chain[::-1])
        elif (
            event == "call"
            and code.co_name in ("loads", "decode")
            and code.co_filename.endswith(("json/__init__.py", "json/decoder.py"))
        ):
            parses[f"json.{code.co_name}"] += 1
        elif event == "c_call" and getattr(arg, "__name__", "") in ("from_json", "validate_json", "loads"):
            parses[arg.__name__] += 1

    sent: list[dict[str, Any]] = []

    async def request() -> None:
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return messages.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        headers = [(b"authorization", f"Bearer {admin_key}".encode()), (b"content-type", b"application/json")]
        await app({"type": "http", "path": "/v1", "method": "POST", "headers": headers}, receive, send)  # type: ignore[arg-type]

    app.stop_workers()  # worker threads started from here on are profiled too
    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        asyncio.run(request())
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
        app.stop_workers()

    assert json.loads(sent[-1]["body"])["resp"] == [{"id": 1, "status": 0}]
    # The key's lookup (no key cache in tests) runs a statement too; the command's is the one the dispatcher ran.
    (chain,) = [chain for chain in chains if "/rpc/dispatch.py:Dispatcher._run" in chain]
    assert chain[0] == "/rpc/exchange.py:Exchange.frame", chain
    assert len(chain) <= MAX_FUNCTIONS_ON_THE_WORKER, chain
    assert sum(parses.values()) == 1, parses
