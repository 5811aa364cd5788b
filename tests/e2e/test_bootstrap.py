"""`python -m app serve` on a new database: the first admin key, shown once; and the insecure mode's warning."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import LiveServer

KEY = re.compile(r"rk_[A-Za-z0-9_-]+")
ADMIN = "//admin"
WARNING = "AUTH_DISABLED is set"


def post_frame(server: LiveServer, *cmds: dict[str, Any], key: str | None, src: str | None) -> httpx.Response:
    body: dict[str, Any] = {"v": 1, "cmds": list(cmds)}
    if src is not None:
        body["src"] = src
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.post(f"{server.url}/v1", json=body, headers=headers, timeout=10.0)


def create_cmd(project: str) -> dict[str, Any]:
    args = {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "location=Bathroom"}
    return {"cmd": "/v1/Rollout.Create", "id": 1, "args": args}


def new_project() -> str:
    return f"//api.cesanta.com/project_{uuid.uuid4().hex[:12]}"


def stopped_output(server: LiveServer) -> str:
    """Everything the server printed, read before stop() removes its log."""
    try:
        return server.output()
    finally:
        server.stop()


def test_first_start_prints_an_admin_key_once_and_the_second_prints_none(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    first = LiveServer(url)
    try:
        output = first.output()
        keys = KEY.findall(output)
        assert len(keys) == 1, output
        (key,) = keys
        assert len(key) >= 40
        assert ADMIN in output

        # The key is an admin's, for //admin: src //admin is accepted, and an absent src becomes //admin.
        project = new_project()
        answer = post_frame(first, create_cmd(project), key=key, src=ADMIN)
        assert answer.status_code == 200, answer.text
        assert answer.json()["dst"] == ADMIN
        assert answer.json()["resp"][0]["status"] == 0, answer.text
        unnamed = post_frame(
            first, {"cmd": "/v1/Rollout.List", "id": 2, "args": {"projectid": project}}, key=key, src=None
        )
        assert unnamed.json()["dst"] == ADMIN
        assert len(unnamed.json()["resp"][0]["resp"]) == 1
        # Admin-only work (backend and admin roles) is open to it.
        rollout_id = answer.json()["resp"][0]["resp"]["id"]
        add = {"projectid": project, "rolloutid": rollout_id, "devices": ["d1"]}
        added = post_frame(first, {"cmd": "/v1/Rollout.AddDevices", "id": 3, "args": add}, key=key, src=ADMIN)
        assert added.json()["resp"][0]["status"] == 0, added.text
        # Another principal in src is refused: the key speaks only for //admin.
        assert post_frame(first, create_cmd(project), key=key, src="//someone").status_code == 403
        assert post_frame(first, create_cmd(project), key=None, src=ADMIN).status_code == 401
    finally:
        first_output = stopped_output(first)
    assert "Traceback" not in first_output

    second = LiveServer(url)
    try:
        again = second.output()
        assert KEY.findall(again) == [], again
        # The first key still works after the restart.
        answer = post_frame(second, create_cmd(new_project()), key=key, src=ADMIN)
        assert answer.status_code == 200, answer.text
        assert answer.json()["resp"][0]["status"] == 0, answer.text
    finally:
        stopped_output(second)


def test_auth_disabled_warns_on_every_start_and_needs_no_credentials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'open.db'}"
    for start in range(2):
        server = LiveServer(url, AUTH_DISABLED="true")
        try:
            output = server.output()
            warnings = [line for line in output.splitlines() if WARNING in line]
            assert len(warnings) == 1, f"start {start + 1}:\n{output}"
            assert "WARNING" in warnings[0]

            project = new_project()
            answer = post_frame(server, create_cmd(project), key=None, src="//api.cesanta.com/anyone")
            assert answer.status_code == 200, answer.text
            entry = answer.json()["resp"][0]
            assert entry["status"] == 0, entry
            route = httpx.post(
                f"{server.url}/v1/Rollout.Get", json={"projectid": project, "rolloutid": entry["resp"]["id"]}
            )
            assert route.status_code == 200, route.text
            assert route.json()["id"] == entry["resp"]["id"]
            listed = post_frame(server, {"cmd": "/v1/Rollout.List", "id": 2, "args": {}}, key=None, src=None)
            assert listed.status_code == 200, listed.text
            assert listed.json()["resp"][0]["status"] == 0
        finally:
            stopped_output(server)
