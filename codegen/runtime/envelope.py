"""The Clubby v1 frames that carry commands and their responses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .wire import JsonInt

MAX_COMMAND_ID = 2**53 - 1
"""Command ids are positive integers that a JSON number holds exactly."""

# A request is taken as sent: no coercion ("5" is not 5, true is not 1), no NaN or infinity, no field
# the protocol does not define. A server validates with these models, so they are the frame's rules.
# (JSON has one kind of number: 7.0 is the integer 7, as JSON Schema says; see wire.py.)
_AS_SENT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Command(BaseModel):
    """One call inside a request frame."""

    model_config = _AS_SENT

    cmd: str = Field(description="The method's wire name, e.g. /v1/Service.Method.")
    id: JsonInt | None = Field(default=None, ge=1, le=MAX_COMMAND_ID, description="Echoed in the response.")
    args: dict[str, Any] = Field(default_factory=dict, description="The method's arguments.")
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds after the frame arrives that the command may still start."
    )
    deadline: float | None = Field(
        default=None, description="Unix time after which the command is answered 504 without running."
    )


class FrameHead(BaseModel):
    """A request frame whose commands are not validated yet: a server checks each command on its own
    (as a Command), so one bad command gets its own error entry and the others still run."""

    model_config = _AS_SENT

    # The number 1 (1.0 is the same JSON number): Literal[1] would also take true, which is not the version.
    v: JsonInt = Field(ge=1, le=1, description="Protocol version: always 1.", json_schema_extra={"const": 1})
    src: str | None = Field(default=None, description="The caller's address.")
    dst: str | None = Field(default=None, description="The server's address.")
    key: str | None = Field(default=None, description="Pre-shared key, when the server requires one.")
    cmds: list[Any] = Field(min_length=1, description="Commands, run in order, each succeeding or failing on its own.")


class RequestFrame(FrameHead):
    """What a caller sends to POST /v1."""

    # The same field as FrameHead's, its items validated: what the docs show a caller.
    cmds: list[Command] = Field(
        min_length=1, description="Commands, run in order, each succeeding or failing on its own."
    )


class Response(BaseModel):
    """The answer to one command."""

    id: int | None = Field(default=None, description="The command's id.")
    status: int = Field(description="0 on success, otherwise an HTTP-like error code.")
    status_msg: str | None = Field(default=None, description="Why the command failed.")
    resp: Any = Field(default=None, description="The result, on success, for methods that have one.")


class ResponseFrame(BaseModel):
    """What POST /v1 answers: one response per command, in order."""

    v: Literal[1]
    src: str | None = None
    dst: str | None = None
    resp: list[Response]


class ErrorBody(BaseModel):
    """The body of an HTTP error: a request that was not a frame, or a failed per-method call."""

    status: int
    status_msg: str
