"""Parse and check Clubby v1 request frames; knows the protocol, not any service."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rollout_api.envelope import MAX_COMMAND_ID
from rollout_api.status import Status

_FRAME_KEYS = ("v", "src", "dst", "key", "cmds")
_COMMAND_KEYS = ("cmd", "id", "args", "timeout", "deadline")


class FrameError(Exception):
    """The body is not a frame at all: answered with an HTTP error, not a response frame."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Frame:
    src: str | None
    dst: str | None
    key: str | None
    cmds: list[Any]


@dataclass(frozen=True)
class Command:
    """A command whose envelope fields are well-formed; its args are checked by the dispatch."""

    cmd: str
    id: int | None
    args: dict[str, Any]
    timeout: float | None
    deadline: float | None


@dataclass(frozen=True)
class BadCommand:
    """A command that cannot run; `id` is echoed only when it was itself valid."""

    id: int | None
    status: int
    message: str


def decode_json(body: bytes) -> Any:
    """The parsed body, or a 400 FrameError saying why it is not JSON."""
    if not body.strip():
        raise FrameError(Status.INVALID_ARGUMENT, "body is empty; expected a JSON object")
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        # Only a \u escape can smuggle in a NUL or a lone surrogate: raw ones are not valid JSON or UTF-8.
        if b"\\u" in body:
            _check_strings(data, "body")
        return data
    except json.JSONDecodeError as exc:
        raise FrameError(Status.INVALID_ARGUMENT, f"body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except UnicodeDecodeError as exc:
        message = f"body is not valid JSON: it is not UTF-8 text (byte {exc.start})"
        raise FrameError(Status.INVALID_ARGUMENT, message) from None
    except RecursionError:
        raise FrameError(Status.INVALID_ARGUMENT, "body is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise FrameError(Status.INVALID_ARGUMENT, f"body is not valid JSON: {exc}") from None


def _check_strings(value: Any, where: str) -> None:
    """Refuse text no database stores faithfully: NUL characters and unpaired surrogates."""
    if isinstance(value, str):
        if "\x00" in value:
            raise FrameError(Status.INVALID_ARGUMENT, f"{where}: text may not contain NUL (\\u0000)")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FrameError(
                Status.INVALID_ARGUMENT, f"{where}: text holds an unpaired surrogate escape; send valid Unicode"
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, f"{where} (a key)")
            _check_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_strings(item, f"{where}[{index}]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def parse_frame(body: bytes, *, max_commands: int) -> Frame:
    data = decode_json(body)
    if not isinstance(data, dict):
        raise FrameError(Status.INVALID_ARGUMENT, f"a frame must be a JSON object, got {describe_kind(data)}")
    unknown = sorted(set(data) - set(_FRAME_KEYS))
    if unknown:
        raise FrameError(
            Status.INVALID_ARGUMENT, f"unknown frame field {unknown[0]!r}; allowed: {', '.join(_FRAME_KEYS)}"
        )
    if "v" not in data:
        raise FrameError(Status.INVALID_ARGUMENT, "v: missing; must be 1 (protocol version)")
    version = data["v"]
    if type(version) is not int or version != 1:
        raise FrameError(Status.INVALID_ARGUMENT, f"v: must be 1 (protocol version), got {_show(version)}")
    for name in ("src", "dst", "key"):
        # null is the same as leaving the field out, as the published schema (string or null) says.
        if data.get(name) is not None and not isinstance(data[name], str):
            raise FrameError(Status.INVALID_ARGUMENT, f"{name}: must be a string, got {describe_kind(data[name])}")
    if "cmds" not in data:
        raise FrameError(Status.INVALID_ARGUMENT, "cmds: missing; a frame carries a non-empty list of commands")
    cmds = data["cmds"]
    if not isinstance(cmds, list):
        raise FrameError(Status.INVALID_ARGUMENT, f"cmds: must be a list of commands, got {describe_kind(cmds)}")
    if not cmds:
        raise FrameError(Status.INVALID_ARGUMENT, "cmds: must not be empty; send at least one command")
    if len(cmds) > max_commands:
        raise FrameError(
            Status.TOO_LARGE, f"cmds: {len(cmds)} commands in one frame; at most {max_commands} are allowed"
        )
    return Frame(src=data.get("src"), dst=data.get("dst"), key=data.get("key"), cmds=cmds)


def check_command(raw: Any, index: int) -> Command | BadCommand:
    where = f"cmds[{index}]"
    if not isinstance(raw, dict):
        return BadCommand(
            None, Status.INVALID_ARGUMENT, f"{where}: a command must be a JSON object, got {describe_kind(raw)}"
        )
    command_id = raw.get("id")
    if command_id is not None and (type(command_id) is not int or not 1 <= command_id <= MAX_COMMAND_ID):
        message = f"{where}.id: must be an integer from 1 to {MAX_COMMAND_ID}, got {_show(command_id)}"
        return BadCommand(None, Status.INVALID_ARGUMENT, message)
    unknown = sorted(set(raw) - set(_COMMAND_KEYS))
    if unknown:
        message = f"{where}: unknown command field {unknown[0]!r}; allowed: {', '.join(_COMMAND_KEYS)}"
        return BadCommand(command_id, Status.INVALID_ARGUMENT, message)
    cmd = raw.get("cmd")
    if not isinstance(cmd, str):
        problem = "missing" if cmd is None else f"must be a string, got {describe_kind(cmd)}"
        return BadCommand(command_id, Status.INVALID_ARGUMENT, f'{where}.cmd: {problem}; e.g. "/v1/Service.Method"')
    args = raw.get("args", {})
    if not isinstance(args, dict):
        return BadCommand(
            command_id, Status.INVALID_ARGUMENT, f"{where}.args: must be an object, got {describe_kind(args)}"
        )
    timeout = raw.get("timeout")
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):
        message = f"{where}.timeout: must be a positive number of seconds, got {_show(timeout)}"
        return BadCommand(command_id, Status.INVALID_ARGUMENT, message)
    deadline = raw.get("deadline")
    if deadline is not None and not _is_number(deadline):
        message = f"{where}.deadline: must be a unix time in seconds, got {_show(deadline)}"
        return BadCommand(command_id, Status.INVALID_ARGUMENT, message)
    return Command(cmd=cmd, id=command_id, args=args, timeout=timeout, deadline=deadline)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and value == value and abs(value) != float("inf")


def describe_kind(value: Any) -> str:
    """'an object', 'a list', 'null', ...: what a JSON value is, for error messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
