"""Run commands through the generated method table: generic, it knows no service by name."""

from __future__ import annotations

import difflib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from rollout_api.errors import RpcError
from rollout_api.spec import MethodSpec
from rollout_api.status import Status
from rollout_api.validation import describe_validation_error
from sqlalchemy import Engine

from app.auth.keys import Caller
from app.rpc.frames import BadCommand, Command, Frame, check_command, describe_kind
from app.rpc.jsonio import array_chunks, dumps
from app.storage.db import ConnectionLease, Session

log = logging.getLogger("app.rpc.dispatch")

Handler = Callable[[Session, Caller, Any], Any]
"""Runs one method for one command: its session, its caller and the validated args in, the result out."""
# Longer names are not compared with the methods' (difflib's cost grows with the product of the lengths).
_MAX_SUGGESTED_LENGTH = 200


@dataclass(frozen=True)
class Outcome:
    """What one command answered: status 0 with a result (None when the method has none), or an error."""

    status: int
    result: Any = None
    message: str = ""
    stream: Iterator[Any] | None = None
    """Instead of result: the items of an array result, to be written as they are read."""


class Dispatcher:
    """Looks a command up in the method table, checks its args, and runs it in its own transaction.

    `handlers` maps a wire name to its handler; a method of the table without one answers 501.
    """

    def __init__(
        self,
        *,
        methods: Mapping[str, MethodSpec[Any, Any]],
        handlers: Mapping[str, Handler],
        engine: Engine,
        server_address: str,
    ) -> None:
        self.methods = methods
        self._handlers = handlers
        self._engine = engine
        self._server_address = server_address

    def run_frame(self, frame: Frame, received: float, caller: Caller) -> dict[str, Any]:
        """The response frame as a dict (streamed results read in full)."""
        answer: dict[str, Any] = json.loads(b"".join(self.stream_frame(frame, received, caller)))
        return answer

    def stream_frame(self, frame: Frame, received: float, caller: Caller) -> Iterator[bytes]:
        """The response frame as JSON chunks: one entry per command, in order. Each command runs when
        its turn to be written comes, so a streamed result is read out before the next command starts."""
        head: dict[str, Any] = {"v": 1, "src": frame.dst or self._server_address}
        if frame.src is not None:
            head["dst"] = frame.src
        yield dumps(head)[:-1] + b',"resp":['
        with ConnectionLease(self._engine) as lease:
            for index, raw in enumerate(frame.cmds):
                if index:
                    yield b","
                yield from self._entry(raw, index, received, caller, lease)
        yield b"]}"

    def call(self, spec: MethodSpec[Any, Any], args: Any, caller: Caller) -> Outcome:
        """Run one method with raw args (the per-method HTTP routes come in here)."""
        if not isinstance(args, dict):
            return Outcome(Status.INVALID_ARGUMENT, message=f"args: must be an object, got {describe_kind(args)}")
        lease = ConnectionLease(self._engine)
        outcome = self._run(spec, args, caller, lease)
        if outcome.stream is None:
            lease.close()
            return outcome
        return replace(outcome, stream=_closing(outcome.stream, lease))

    def _entry(self, raw: Any, index: int, received: float, caller: Caller, lease: ConnectionLease) -> Iterator[bytes]:
        checked = check_command(raw, index)
        if isinstance(checked, BadCommand):
            yield dumps(_response(checked.id, Outcome(checked.status, message=checked.message)))
            return
        outcome = self._command(checked, received, caller, lease)
        entry = _response(checked.id, outcome, has_result=self._has_result(checked.cmd))
        if outcome.stream is None:
            yield dumps(entry)
            return
        yield dumps(entry)[:-1] + b',"resp":'
        yield from array_chunks(outcome.stream)
        yield b"}"

    def _command(self, command: Command, received: float, caller: Caller, lease: ConnectionLease) -> Outcome:
        spec = self.methods.get(command.cmd)
        if spec is None:
            return Outcome(Status.NOT_FOUND, message=no_handler(command.cmd, self.methods))
        now = time.time()
        if command.deadline is not None and now > command.deadline:
            return Outcome(
                Status.DEADLINE_EXCEEDED, message=f"deadline {command.deadline} passed before the command ran"
            )
        if command.timeout is not None and now > received + command.timeout:
            return Outcome(
                Status.DEADLINE_EXCEEDED, message=f"timeout of {command.timeout}s passed before the command ran"
            )
        return self._run(spec, command.args, caller, lease)

    def _run(
        self, spec: MethodSpec[Any, Any], raw_args: dict[str, Any], caller: Caller, lease: ConnectionLease
    ) -> Outcome:
        if spec.roles and caller.role not in spec.roles:
            allowed = ", ".join(spec.roles)
            message = f"role {caller.role!r} may not call {spec.wire_name}; allowed roles: {allowed}"
            return Outcome(Status.PERMISSION_DENIED, message=message)
        try:
            args = spec.args_model.model_validate(raw_args, by_alias=True, by_name=False)
        except ValidationError as exc:
            return Outcome(Status.INVALID_ARGUMENT, message=describe_validation_error(exc, spec))
        # Scope is enforced here, once for every method, so a handler cannot forget it: a tenant the caller
        # may not reach answers exactly as a missing object does.
        if spec.scope is not None and not caller.may_reach(raw_args[spec.scope.arg]):
            return Outcome(Status.NOT_FOUND, message=spec.scope.refusal(raw_args))
        handler = self._handlers.get(spec.wire_name)
        try:
            if handler is None:
                raise RpcError(f"{spec.wire_name} is not implemented by this server", status=Status.UNIMPLEMENTED)
            with ExitStack() as scope:
                session = scope.enter_context(lease.transaction(writes=not spec.readonly))
                result = handler(session, caller, args)
                if spec.result_item is not None and not isinstance(result, list):
                    # An array handed over as an iterator streams: its transaction stays open until it is read.
                    return Outcome(Status.OK, stream=_streamed(spec, result, scope.pop_all()))
            return Outcome(Status.OK, result=spec.dump_result(result))
        except RpcError as exc:
            return Outcome(exc.status, message=exc.status_msg)
        except Exception:
            request_id = uuid.uuid4().hex[:12]
            log.exception("internal error in %s (request id %s)", spec.wire_name, request_id)
            return Outcome(Status.INTERNAL, message=f"internal error; request id {request_id}")

    def _has_result(self, cmd: str) -> bool:
        spec = self.methods.get(cmd)
        return spec is not None and spec.result is not None


def no_handler(cmd: str, methods: Mapping[str, MethodSpec[Any, Any]]) -> str:
    """Why a command or route names no method: the nearest method when one is near, and every method."""
    message = f"No handler for {cmd}"
    suggestion = nearest_method(cmd, methods)
    message += f"; did you mean {suggestion}?" if suggestion else "."
    return f"{message} Methods: {', '.join(sorted(methods))}"


def nearest_method(cmd: str, methods: Mapping[str, MethodSpec[Any, Any]]) -> str | None:
    """The method meant by a wrong case, a missing /v1/ prefix or a small typo in the service or method name."""
    if len(cmd) > _MAX_SUGGESTED_LENGTH:
        return None
    name = cmd.lstrip("/")
    name = "/" + (name if name.lower().startswith("v1/") else f"v1/{name}")
    by_lower = {wire_name.lower(): wire_name for wire_name in methods}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    service, _, method = name.removeprefix("/v1/").partition(".")
    services = {spec.service.lower(): spec.service for spec in methods.values()}
    near_service = difflib.get_close_matches(service.lower(), services, n=1)
    if not near_service:
        return None
    named = {
        spec.method.lower(): spec.wire_name for spec in methods.values() if spec.service == services[near_service[0]]
    }
    near_method = difflib.get_close_matches(method.lower(), named, n=1)
    return named[near_method[0]] if near_method else None


def _streamed(spec: MethodSpec[Any, Any], items: Iterable[Any], scope: ExitStack) -> Iterator[Any]:
    """The items as they go on the wire; the transaction ends (commits) when they are all read."""
    with scope:
        yield from spec.dump_items(items)


def _closing(items: Iterator[Any], lease: ConnectionLease) -> Iterator[Any]:
    try:
        yield from items
    finally:
        lease.close()


def _response(command_id: int | None, outcome: Outcome, *, has_result: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if command_id is not None:
        entry["id"] = command_id
    entry["status"] = outcome.status
    if outcome.status != Status.OK:
        entry["status_msg"] = outcome.message
    elif has_result:
        entry["resp"] = outcome.result
    return entry
