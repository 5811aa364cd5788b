"""WORKERS=N: one port served by N worker processes that the first start prepares once (migrations, the first
admin key); /metrics counts every worker's commands whichever worker a scrape reaches; a worker that dies is
replaced; SIGTERM stops them all, with exit status 0."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx

from tests.helpers import LiveServer

WORKERS = 2
# Another worker's totals reach a scrape within a second (app/metrics/workers.py).
SHARED_TOTALS_SECONDS = 1.0


def children(pid: int) -> set[int]:
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.add(int(status.parent.name))
    return found


def frames_received(url: str) -> float:
    # A new connection each time, so that scrapes reach either worker.
    with httpx.Client(timeout=10) as http:
        text = http.get(f"{url}/metrics").text
    (line,) = [line for line in text.splitlines() if line.startswith("rollout_frames_received_total ")]
    return float(line.split()[1])


def test_workers_share_the_port_the_first_key_and_the_metrics(tmp_path: Path) -> None:
    server = LiveServer(f"sqlite:///{tmp_path / 'rollout.db'}", WORKERS=str(WORKERS), LOG_FORMAT="json")
    try:
        output = server.output()
        assert output.count("No API keys existed") == 1, output
        assert f"{WORKERS} worker processes" in output
        (key,) = [line.strip() for line in output.splitlines() if line.strip().startswith("rk_")]
        workers = children(server.process.pid)
        assert len(workers) == WORKERS, workers

        # Frames on new connections, until each worker has answered some (the kernel spreads the connections).
        frame = {"v": 1, "cmds": [{"cmd": "/v1/Rollout.List", "args": {}}]}
        sent = 0
        answered_by: set[int] = set()
        while answered_by != workers and sent < 400:
            with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {key}"}) as http:
                response = http.post(f"{server.url}/v1", json=frame)
            assert response.status_code == 200 and response.json()["resp"][0]["status"] == 0, response.text
            sent += 1
            if sent % 20 == 0:
                records = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
                answered_by = {r["pid"] for r in records if r.get("logger") == "app.requests"} & workers
        assert answered_by == workers, f"after {sent} frames only {answered_by} of {workers} had answered"

        time.sleep(SHARED_TOTALS_SECONDS * 1.5)
        assert [frames_received(server.url) for _ in range(10)] == [sent] * 10

        # A worker that dies is replaced, and what it had counted stays counted.
        lost = min(workers)
        os.kill(lost, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while (len(children(server.process.pid) - {lost}) < WORKERS) and time.monotonic() < deadline:
            time.sleep(0.1)
        replaced = children(server.process.pid)
        assert len(replaced) == WORKERS and lost not in replaced, replaced
        assert [frames_received(server.url) for _ in range(10)] == [sent] * 10

        server.process.terminate()
        assert server.process.wait(timeout=30) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers | replaced)
    finally:
        server.stop()
