"""Small helpers for tests that talk to the service through raw frames, and args made from definitions.

Only the generated package is imported at module level: the client's own test session has no FastAPI.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rollout_api import MethodSpec

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

_ids = itertools.count(1)


def call(http: TestClient, cmd: str, **args: Any) -> dict[str, Any]:
    """Send one command in a frame and return its response entry."""
    command_id = next(_ids)
    body = {"v": 1, "src": "//test", "cmds": [{"cmd": f"/v1/Rollout.{cmd}", "id": command_id, "args": args}]}
    response = http.post("/v1", json=body)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["resp"]
    assert entry["id"] == command_id
    result: dict[str, Any] = entry
    return result


def ok(http: TestClient, cmd: str, **args: Any) -> Any:
    """Call and insist on status 0; returns `resp` (None when the method has no result)."""
    entry = call(http, cmd, **args)
    assert entry["status"] == 0, entry
    return entry.get("resp")


def create_rollout(http: TestClient, project: str, **overrides: Any) -> str:
    args = {"projectid": project, "firmwareid": "fw-1", "deviceFilter": "location=Bathroom", "name": "Today's rollout"}
    rollout_id: str = ok(http, "Create", **{**args, **overrides})["id"]
    return rollout_id


def snapshot(http: TestClient) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: compare two snapshots to prove nothing changed."""
    from sqlalchemy import text

    engine = http.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        return {
            table: sorted(tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}")))
            for table in ("rollout", "rollout_device")
        }


def sample_args(spec: MethodSpec[Any, Any], **known: Any) -> dict[str, Any]:
    """Valid args for a method, from its definition: `known` values by wire name, a sample for every other
    required argument. Tests that iterate the method table call each method, old or new, with these."""
    definition = spec.definition
    # An argument with a pattern takes its value from the method's example, which the generator checked.
    example = spec.examples[0]["request"]["cmds"][0].get("args", {}) if spec.examples else {}
    return {
        **{
            name: example[name]
            if "pattern" in definition["args"][name] and name in example
            else sample_value(definition["args"][name])
            for name in definition["required_args"]
        },
        **{name: value for name, value in known.items() if name in definition["args"]},
    }


def sample_value(schema: Mapping[str, Any]) -> Any:
    """The simplest value a JSON schema of the definitions accepts."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if "pattern" in schema:
        raise ValueError(f"no sample value for a pattern without an example: {schema['pattern']!r}")
    if "default" in schema:
        return schema["default"]
    if kind == "string" and schema.get("format") == "date-time":
        return "2026-01-01T00:00:00Z"
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return [sample_value(schema["items"])] * max(1, schema.get("minItems", 1))
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: sample_value(properties[name]) for name in schema.get("required", [])}
    raise ValueError(f"no sample value for the schema {schema!r}")
