"""Run commands through the generated method table: generic, it knows no service by name."""

from __future__ import annotations

import difflib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

from pydantic import TypeAdapter, ValidationError
from rollout_api.envelope import Command, FrameHead
from rollout_api.errors import RpcError
from rollout_api.spec import Fields, MethodSpec, ResponseEntry, Settled
from rollout_api.status import Status
from rollout_api.validation import describe_validation_error
from sqlalchemy import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.auth.keys import Caller
from app.metrics.traffic import UNKNOWN_METHOD, CommandTally, Traffic
from app.rpc.context import RequestContext
from app.rpc.frames import BadCommand, describe_kind, read_command, read_commands
from app.rpc.jsonio import array_chunks, dumps
from app.storage.db import ConnectionLease, WriteGroupFailed

log = logging.getLogger("app.rpc.dispatch")

Handler = Callable[[RequestContext, Any], Any]
"""Runs one method for one command: the command's context and its validated args in, the result out."""
BatchHandler = Callable[[RequestContext, Sequence[Any]], Sequence[Settled[Any] | None]]
"""Runs a run of one method's commands at once: for each, its Settled result, or None to run it alone after."""
MAX_BATCH = 1000
"""Most commands one batch call takes (a frame holds at most MAX_COMMANDS)."""
NO_CONNECTION = "no database connection was free in time; the server is busy, try again"
# Longer names are not compared with the methods' (difflib's cost grows with the product of the lengths).
_MAX_SUGGESTED_LENGTH = 200


@dataclass(frozen=True, slots=True)
class CommandResponse:
    """What one command answered: status 0 with a result (None when the method has none), or an error.
    On the wire it is one entry of a response frame (rollout_api.envelope.Response), or a per-method body."""

    status: int
    result: Any = None
    message: str = ""
    stream: Iterator[Any] | None = None
    """Instead of result: the items of an array result, to be written as they are read."""
    result_json: bytes | None = None
    """Instead of result: the result already as JSON text (MethodSpec.dump_result_json)."""

    def entry(self, command_id: int | None, *, has_result: bool) -> dict[str, Any]:
        """The response frame's entry, without the streamed items (they follow as its `resp`)."""
        entry: dict[str, Any] = {}
        if command_id is not None:
            entry["id"] = command_id
        entry["status"] = self.status
        if self.status != Status.OK:
            entry["status_msg"] = self.message
        elif has_result and self.stream is None and self.result_json is None:
            entry["resp"] = self.result
        return entry

    def entry_json(self, command_id: int | None, *, has_result: bool) -> bytes:
        """The response frame's entry as JSON text (not for a streamed result)."""
        if self.status != Status.OK or (has_result and self.result_json is None):
            return dumps(self.entry(command_id, has_result=has_result))
        # A success of a batch holds only numbers and JSON text already written: spelled out here, as the encoder
        # would write it, at a fraction of a call's cost (one per command of a run).
        head = b'{"status":0' if command_id is None else b'{"id":%d,"status":0' % command_id
        return head + b',"resp":' + self.result_json + b"}" if has_result and self.result_json else head + b"}"


class Dispatcher:
    """Looks a command up in the method table, checks its caller, args and scope, and runs its handler
    in the command's own transaction, or its own savepoint of a write group (consecutive writes).

    `handlers` maps a wire name to its handler; a method of the table without one answers 501. `batches` maps a
    wire name to its batch handler: a run of two or more consecutive commands of that method runs through it
    first, in one transaction, and only the commands it leaves run one by one, after it, in order.
    """

    def __init__(
        self,
        *,
        methods: Mapping[str, MethodSpec[Any, Any]],
        handlers: Mapping[str, Handler],
        batches: Mapping[str, BatchHandler] | None = None,
        engine: Engine,
        server_address: str,
        max_frame_items: int = 100_000,
        traffic: Traffic | None = None,
    ) -> None:
        self.methods = methods
        self.traffic = traffic or Traffic()
        """Where the commands run are counted (for /metrics): once per frame, from the tally the frame keeps."""
        self._max_frame_items = max_frame_items
        self._handlers = handlers
        self._batches = batches or {}
        # A run's args are validated in one call (see _admit_run): a list of each batched method's args model.
        self._args_lists: dict[str, TypeAdapter[list[Any]]] = {
            name: TypeAdapter(list[methods[name].args_model])  # type: ignore[misc, arg-type]
            for name in self._batches
        }
        self._engine = engine
        self._server_address = server_address
        # Quick reads run on the event loop (see RpcApp) with a connection of their own, taken once: the
        # loop must never wait for one from the pool, or every request waits with it.
        self._loop_lease = ConnectionLease(engine, keep=True)

    def close(self) -> None:
        """Give back the event loop's own connection (when the server stops)."""
        self._loop_lease.release()

    def run_frame(self, frame: FrameHead, received: float, caller: Caller, request_id: str = "-") -> dict[str, Any]:
        """The response frame as a dict (streamed results read in full)."""
        chunks = self.stream_frame(frame, frame.src, received, caller, request_id)
        answer: dict[str, Any] = json.loads(b"".join(chunks))
        return answer

    def stream_frame(
        self,
        frame: FrameHead,
        reply_to: str | None,
        received: float,
        caller: Caller,
        request_id: str,
        *,
        on_loop: bool = False,
    ) -> Iterator[bytes]:
        """The response frame as JSON chunks: one entry per command, in order. Each command runs when
        its turn to be written comes, so a streamed result is read out before the next command starts.

        The connection is taken before anything is answered: when none is free in time, the whole frame is
        refused (sqlalchemy.exc.TimeoutError) before any of its commands ran."""
        head: dict[str, Any] = {"v": 1, "src": frame.dst or self._server_address}
        if reply_to is not None:
            head["dst"] = reply_to
        budget = _ItemBudget(self._max_frame_items)
        # Counted here, per frame, and handed to the totals (one lock) when the frame ends, however it ends.
        tally: CommandTally = []
        try:
            with self._loop_lease if on_loop else ConnectionLease(self._engine) as lease:
                lease.acquire()
                yield dumps(head)[:-1] + b',"resp":['
                index = 0
                while index < len(frame.cmds):
                    run = self._batch_run(frame.cmds, index)
                    if run is not None:
                        batched, batch, size = run
                        commands = read_commands(frame.cmds[index : index + size], index)
                        entries = self._run_batch(batched, batch, commands, received, caller, request_id, lease, tally)
                        yield (b"," if index else b"") + entries
                        index += size
                        continue
                    grouping = lease.group_limit > 1 and not on_loop
                    group = self._write_run(frame.cmds, index, lease.group_limit) if grouping else []
                    done = self._run_group(group, received, caller, request_id, lease, tally) if len(group) > 1 else []
                    if done:
                        for offset, entry in enumerate(done):
                            yield b"," if index + offset else b""
                            yield dumps(entry)
                        index += len(done)
                        continue
                    raw = frame.cmds[index]
                    if index:
                        yield b","
                    index += 1
                    started = time.perf_counter()
                    command = read_command(raw, index - 1)
                    if isinstance(command, BadCommand):
                        refused = CommandResponse(command.status, message=command.message)
                        tally.append((UNKNOWN_METHOD, command.status, time.perf_counter() - started, 1))
                        yield dumps(refused.entry(command.id, has_result=False))
                        continue
                    spec = self.methods.get(command.cmd)
                    if spec is None:
                        response = CommandResponse(Status.NOT_FOUND, message=no_handler(command.cmd, self.methods))
                        tally.append((UNKNOWN_METHOD, response.status, time.perf_counter() - started, 1))
                    else:
                        deadline = _deadline(command, received)
                        response = _expired(command, deadline) or self._run(
                            spec, command.args, caller, deadline, request_id, lease, budget
                        )
                        # (A streamed list is timed until its handler hands its items over; reading them out
                        # is counted in the request's time.)
                        tally.append((spec.wire_name, response.status, time.perf_counter() - started, 1))
                    entry = response.entry(command.id, has_result=spec is not None and spec.result is not None)
                    if response.stream is None:
                        if isinstance(response.result, list):
                            budget.used += len(response.result)
                        yield dumps(entry)
                    else:
                        yield dumps(entry)[:-1] + b',"resp":'
                        yield from array_chunks(budget.counted(response.stream))
                        yield b"}"
                yield b"]}"
        finally:
            self.traffic.add_commands(tally, frames=1)

    def _batch_run(self, cmds: Sequence[Any], start: int) -> tuple[MethodSpec[Any, Any], BatchHandler, int] | None:
        """When the command at `start` begins a run of two or more commands of a method with a batch handler: the
        method, its batch handler and the run's length (at most MAX_BATCH)."""
        raw = cmds[start]
        name = raw.get("cmd") if isinstance(raw, dict) else None
        if not isinstance(name, str) or name not in self._batches:
            return None
        batch = self._batches[name]
        end = start + 1
        limit = min(len(cmds), start + MAX_BATCH)
        while end < limit and isinstance(cmds[end], dict) and cmds[end].get("cmd") == name:
            end += 1
        return (self.methods[name], batch, end - start) if end - start > 1 else None

    def _run_batch(
        self,
        spec: MethodSpec[Any, Any],
        batch: BatchHandler,
        commands: list[Command | BadCommand],
        received: float,
        caller: Caller,
        request_id: str,
        lease: ConnectionLease,
        tally: CommandTally,
    ) -> bytes:
        """A run of one method's commands, as its response entries (JSON, comma-separated): those refused before
        they run (malformed, expired, role, args, scope) are answered so; the rest go to the batch handler in one
        transaction, which commits before any of them is answered; those it leaves run one by one, after it, in
        order. When the batch fails, each runs alone."""
        started = time.perf_counter()
        responses, admitted = self._admit_run(spec, commands, received, caller)
        took = [0.0] * len(commands)
        settled: dict[int, Any] = {}  # the batch's results, by position (written at the end: see _entries)
        pending = admitted
        while pending:
            batch_started = time.perf_counter()
            outcomes = self._call_batch(spec, batch, pending, received, caller, request_id, lease)
            # Each command is timed with an even share of the call; one run alone, with its own time too.
            shared = (time.perf_counter() - batch_started) / len(outcomes)
            for (position, command, args), outcome in zip(pending, outcomes, strict=False):
                took[position] += shared
                if outcome is not None:
                    settled[position] = outcome.result
                    continue
                alone = time.perf_counter()
                deadline = _deadline(command, received)
                responses[position] = _expired(command, deadline) or self._run(
                    spec, command.args, caller, deadline, request_id, lease, admitted=args
                )
                took[position] += time.perf_counter() - alone
            pending = pending[len(outcomes) :]
        refused_share = (time.perf_counter() - started - sum(took)) / len(commands)
        if len(settled) == len(commands) and took.count(took[0]) == len(took):
            # Answered whole by one call: every command took the same share, one tally entry for all.
            tally.append((spec.wire_name, Status.OK, took[0] + refused_share, len(commands)))
        else:
            for read, response, seconds in zip(commands, responses, took, strict=True):
                ran = not isinstance(read, BadCommand)
                status = Status.OK if response is None else response.status
                tally.append((spec.wire_name if ran else UNKNOWN_METHOD, status, seconds + refused_share, 1))
        return _entries(spec, commands, responses, settled)

    def _admit_run(
        self, spec: MethodSpec[Any, Any], commands: list[Command | BadCommand], received: float, caller: Caller
    ) -> tuple[list[CommandResponse | None], list[tuple[int, Command, Any]]]:
        """As _admit for each command of a run, with the args of all validated in one call when all are valid:
        the answers of those refused (by position), and (position, command, args) of those that may run."""
        responses: list[CommandResponse | None] = [None] * len(commands)
        candidates: list[tuple[int, Command]] = []
        for position, command in enumerate(commands):
            if isinstance(command, BadCommand):
                responses[position] = CommandResponse(command.status, message=command.message)
                continue
            refused = _expired(command, _deadline(command, received))
            if refused is not None:
                responses[position] = refused
            else:
                candidates.append((position, command))
        refused = _role_refusal(spec, caller)
        if refused is not None:
            for position, _ in candidates:
                responses[position] = refused
            return responses, []
        try:
            valid = self._args_lists[spec.wire_name].validate_python(
                [command.args for _, command in candidates], by_alias=True, by_name=False
            )
        except ValidationError:
            valid = None  # each is validated alone, to say which and why
        admitted: list[tuple[int, Command, Any]] = []
        for offset, (position, command) in enumerate(candidates):
            if valid is None:
                args, refused = self._admit(spec, command.args, caller)
            else:
                args, refused = valid[offset], _scope_refusal(spec, command.args, caller)
            if refused is not None:
                responses[position] = refused
            else:
                admitted.append((position, command, args))
        return responses, admitted

    def _call_batch(
        self,
        spec: MethodSpec[Any, Any],
        batch: BatchHandler,
        pending: list[tuple[int, Command, Any]],
        received: float,
        caller: Caller,
        request_id: str,
        lease: ConnectionLease,
    ) -> Sequence[Settled[Any] | None]:
        """The batch handler's outcomes for the first commands of `pending` (at least one), committed; a command
        alone, or a batch that fails, is answered None (each then runs alone)."""
        if len(pending) < 2:
            return [None] * len(pending)
        deadlines = [d for _, command, _ in pending if (d := _deadline(command, received)) is not None]
        try:
            with lease.transaction(writes=not spec.readonly) as tx:
                ctx = RequestContext(tx, caller, min(deadlines) if deadlines else None, request_id)
                outcomes = batch(ctx, [args for _, _, args in pending])
                if not 0 < len(outcomes) <= len(pending):
                    raise RuntimeError(f"the batch answered {len(outcomes)} outcomes for {len(pending)} commands")
            return outcomes
        except RpcError as exc:
            log.info("a batch of %d %s commands ran one by one: %s", len(pending), spec.wire_name, exc.status_msg)
        except PoolTimeout:
            pass  # each command alone answers why
        except Exception:
            log.exception(
                "a batch of %d %s commands failed; each runs alone (request id %s)",
                len(pending),
                spec.wire_name,
                request_id,
            )
        return [None] * len(pending)

    def _write_run(self, cmds: Sequence[Any], start: int, limit: int) -> list[tuple[Command, MethodSpec[Any, Any]]]:
        """The commands from `start` on that may share a write group: well-formed calls of methods that write and
        answer no list (a list may stream, holding its transaction open while it is read), at most `limit`."""
        run: list[tuple[Command, MethodSpec[Any, Any]]] = []
        for index in range(start, min(len(cmds), start + limit)):
            raw = cmds[index]
            # A look at the method first: a frame of reads costs one lookup per command here, not a validation.
            name = raw.get("cmd") if isinstance(raw, dict) else None
            spec = self.methods.get(name) if isinstance(name, str) else None
            if spec is None or spec.readonly or spec.result_item is not None:
                break
            command = read_command(raw, index)
            if isinstance(command, BadCommand):
                break
            run.append((command, spec))
        return run

    def _run_group(
        self,
        group: list[tuple[Command, MethodSpec[Any, Any]]],
        received: float,
        caller: Caller,
        request_id: str,
        lease: ConnectionLease,
        tally: CommandTally,
    ) -> list[dict[str, Any]]:
        """Run consecutive write commands in one transaction, each in a savepoint: the entries of those that ran,
        written only after the commit, so nothing is answered as done before it is durable. When the commit
        fails, no command took effect, and each that had succeeded is answered as failed instead."""
        responses: list[CommandResponse] = []
        took: list[float] = []
        group_started = time.perf_counter()
        try:
            with lease.write_group():
                for command, spec in group:
                    started = time.perf_counter()
                    deadline = _deadline(command, received)
                    response = _expired(command, deadline) or self._run(
                        spec, command.args, caller, deadline, request_id, lease
                    )
                    responses.append(response)
                    took.append(time.perf_counter() - started)
        except (WriteGroupFailed, RpcError) as exc:
            log.error("a group of %d write commands was not committed (request id %s): %s", len(group), request_id, exc)
            status, message = (
                (exc.status, exc.status_msg)
                if isinstance(exc, RpcError)
                else (Status.INTERNAL, f"internal error: the command's transaction failed; request id {request_id}")
            )
            failed = CommandResponse(status, message=message)
            responses = [r if r.status != Status.OK else failed for r in responses]
            responses += [failed] * (len(group) - len(responses))
        # Each command's own time and an even share of the group's BEGIN and COMMIT (making it durable is part
        # of running it), counted with the status it is answered with.
        shared = (time.perf_counter() - group_started - sum(took)) / max(1, len(responses))
        took += [0.0] * (len(responses) - len(took))
        for (_command, spec), response, seconds in zip(group, responses, took, strict=True):
            tally.append((spec.wire_name, response.status, seconds + shared, 1))
        return [
            response.entry(command.id, has_result=spec.result is not None)
            for (command, spec), response in zip(group, responses, strict=True)
        ]

    def call(
        self, spec: MethodSpec[Any, Any], args: Any, caller: Caller, request_id: str, *, on_loop: bool = False
    ) -> CommandResponse:
        """Run one method with raw args (the per-method HTTP routes come in here)."""
        started = time.perf_counter()
        if not isinstance(args, dict):
            refused = CommandResponse(
                Status.INVALID_ARGUMENT, message=f"args: must be an object, got {describe_kind(args)}"
            )
            self.traffic.add_commands([(spec.wire_name, refused.status, time.perf_counter() - started, 1)])
            return refused
        lease = self._loop_lease if on_loop else ConnectionLease(self._engine)
        lease.acquire()
        response = self._run(spec, args, caller, None, request_id, lease)
        self.traffic.add_commands([(spec.wire_name, response.status, time.perf_counter() - started, 1)])
        if response.stream is None:
            lease.close()
            return response
        return replace(response, stream=_closing(response.stream, lease))

    def _run(
        self,
        spec: MethodSpec[Any, Any],
        raw_args: dict[str, Any],
        caller: Caller,
        deadline: float | None,
        request_id: str,
        lease: ConnectionLease,
        budget: _ItemBudget | None = None,
        *,
        admitted: Any = None,
    ) -> CommandResponse:
        """Admit the command (unless `admitted` holds its args already), then run its handler in the command's
        own transaction."""
        args = admitted
        if args is None:
            args, refused = self._admit(spec, raw_args, caller)
            if refused is not None:
                return refused
        if budget is not None and spec.result_item is not None:
            refusal = budget.refusal(getattr(args, "limit", None))
            if refusal is not None:
                return CommandResponse(Status.TOO_LARGE, message=refusal)
        handler = self._handlers.get(spec.wire_name)
        try:
            if handler is None:
                raise RpcError(f"{spec.wire_name} is not implemented by this server", status=Status.UNIMPLEMENTED)
            with ExitStack() as scope:
                tx = scope.enter_context(lease.transaction(writes=not spec.readonly))
                result = handler(RequestContext(tx, caller, deadline, request_id), args)
                if spec.result_item is not None and not isinstance(result, list):
                    # An array handed over as an iterator streams: its transaction stays open until it is read.
                    return CommandResponse(Status.OK, stream=_streamed(spec, result, scope.pop_all()))
            return CommandResponse(Status.OK, result=spec.dump_result(result))
        except RpcError as exc:
            return CommandResponse(exc.status, message=exc.status_msg)
        except PoolTimeout:
            # (Only when the frame's connection was lost and a new one was not free in time.)
            return CommandResponse(HTTPStatus.SERVICE_UNAVAILABLE, message=NO_CONNECTION)
        except Exception:
            log.exception("internal error in %s (request id %s)", spec.wire_name, request_id)
            return CommandResponse(Status.INTERNAL, message=f"internal error; request id {request_id}")

    def _admit(
        self, spec: MethodSpec[Any, Any], raw_args: dict[str, Any], caller: Caller
    ) -> tuple[Any, CommandResponse | None]:
        """The validated args, or why the command may not run: its caller's role, its args, or its scope."""
        refused = _role_refusal(spec, caller)
        if refused is not None:
            return None, refused
        try:
            args = spec.args_model.model_validate(raw_args, by_alias=True, by_name=False)
        except ValidationError as exc:
            return None, CommandResponse(Status.INVALID_ARGUMENT, message=describe_validation_error(exc, spec))
        refused = _scope_refusal(spec, raw_args, caller)
        return (None, refused) if refused is not None else (args, None)


def _role_refusal(spec: MethodSpec[Any, Any], caller: Caller) -> CommandResponse | None:
    """403 when the caller's role may not call the method."""
    if spec.roles and caller.role not in spec.roles:
        allowed = ", ".join(spec.roles)
        message = f"role {caller.role!r} may not call {spec.wire_name}; allowed roles: {allowed}"
        return CommandResponse(Status.PERMISSION_DENIED, message=message)
    return None


def _scope_refusal(spec: MethodSpec[Any, Any], raw_args: dict[str, Any], caller: Caller) -> CommandResponse | None:
    """Scope is enforced here, once for every method, so a handler cannot forget it: a tenant the caller may not
    reach answers exactly as a missing object does (404)."""
    if spec.scope is not None and not caller.may_reach(raw_args[spec.scope.arg]):
        return CommandResponse(Status.NOT_FOUND, message=spec.scope.refusal(raw_args))
    return None


def _entries(
    spec: MethodSpec[Any, Any],
    commands: list[Command | BadCommand],
    responses: list[CommandResponse | None],
    settled: dict[int, Any],
) -> bytes:
    """A run's response entries as JSON, comma-separated: `settled` holds the results its batch answered (by
    position), `responses` the other commands' answers."""
    # (How many results the batch gave as Fields: the one-call path writes them all as models, or all as Fields.)
    given_as_fields = sum(type(result) is Fields for result in settled.values())
    if spec.entries is not None and len(settled) == len(commands) and given_as_fields in (0, len(settled)):
        # Every command answered by the batch (the usual run): all written in one call, each result by its type,
        # from its fields when the batch gave them so (Fields: no model built).
        fields = given_as_fields > 0
        written: list[ResponseEntry[Any]] = []
        for position, command in enumerate(commands):
            result = settled[position]
            entry: ResponseEntry[Any] = {"status": Status.OK, "resp": result.values if fields else result}
            if command.id is not None:
                entry = {"id": command.id, **entry}
            written.append(entry)
        return spec.dump_field_entries_json(written) if fields else spec.dump_entries_json(written)
    has_result = spec.result is not None
    # A result the batch answered for several commands (the same rollout, say) is encoded once. (By the result's
    # id: `settled` keeps each alive meanwhile, so no id is reused.)
    answers: dict[int, CommandResponse] = {}
    texts: list[bytes] = []
    for position, (read, response) in enumerate(zip(commands, responses, strict=True)):
        if response is None:
            result = settled[position]
            response = answers.get(id(result))
            if response is None:
                response = answers[id(result)] = CommandResponse(Status.OK, result_json=spec.dump_result_json(result))
        texts.append(response.entry_json(read.id, has_result=has_result and not isinstance(read, BadCommand)))
    return b",".join(texts)


class _ItemBudget:
    """How many items a frame's lists have answered, against MAX_FRAME_ITEMS. A paged list may run while its
    `limit` fits in what is left; a list without a limit may run while anything is left (it streams, and can
    be as long as one request's answer can be). So a small frame of many lists cannot make the server send
    more than one unlimited list and MAX_FRAME_ITEMS items besides."""

    def __init__(self, max_items: int) -> None:
        self.used = 0
        self._max_items = max_items

    def refusal(self, limit: int | None) -> str | None:
        """None when the list may run; otherwise why not (answered 413)."""
        left = self._max_items - self.used
        if left > 0 if limit is None else limit <= left:
            return None
        asked = "a list without a limit" if limit is None else f"limit {limit}"
        return (
            f"{asked} would take this frame past {self._max_items} items in lists (MAX_FRAME_ITEMS; "
            f"{self.used} answered before this command); page with a smaller limit, or in another frame"
        )

    def counted(self, items: Iterator[Any]) -> Iterator[Any]:
        for item in items:
            self.used += 1
            yield item


def _deadline(command: Command, received: float) -> float | None:
    """The sooner of the command's deadline and its timeout after the frame arrived; None: no limit."""
    if command.timeout is None:
        return command.deadline
    by_timeout = received + command.timeout
    return by_timeout if command.deadline is None else min(by_timeout, command.deadline)


def _expired(command: Command, deadline: float | None) -> CommandResponse | None:
    """504 for a command whose deadline (or timeout) passed before its turn came; None when it may run."""
    if deadline is None or time.time() <= deadline:
        return None
    if command.deadline is not None and command.deadline <= deadline:
        message = f"deadline {command.deadline} passed before the command ran"
    else:
        message = f"timeout of {command.timeout}s passed before the command ran"
    return CommandResponse(Status.DEADLINE_EXCEEDED, message=message)


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
