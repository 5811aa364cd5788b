"""What Client and AsyncClient share: building frames, reading responses, retries, batches."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

import httpx
from pydantic import ValidationError

from ._env import KEY_ENV, URL_ENV
from .envelope import ErrorBody, Response, ResponseFrame
from .errors import RpcError, TransportError, error_for_status
from .spec import MethodSpec
from .validation import validated_args

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
FRAME_PATH = "/v1"
DEFAULT_TIMEOUT_SECONDS = 30.0
"""How long a client waits for an answer when it is given neither a timeout nor an httpx client."""
RETRY_BACKOFF_SECONDS = 0.2
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
"""Transport errors raised before any of the request was sent: the connection was never made."""


class Pending(Generic[T]):
    """The answer to one command of a batch; read it with result() once the batch has been sent."""

    def __init__(self, spec: MethodSpec[Any, T]) -> None:
        self._spec = spec
        self._sent = False
        self._value: T | None = None
        self._error: RpcError | None = None

    @property
    def error(self) -> RpcError | None:
        """The error the command answered, or None when it succeeded."""
        self._require_sent()
        return self._error

    def result(self) -> T:
        """The command's typed result; raises its error when it failed."""
        self._require_sent()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set by _resolve before _sent is True

    def _resolve(self, response: Response) -> None:
        try:
            self._value = result_of(self._spec, response)
        except RpcError as exc:
            self._error = exc
        self._sent = True

    def _require_sent(self) -> None:
        if not self._sent:
            raise RuntimeError("the batch has not been sent yet: read results after the `with` block ends")


class Commands:
    """The commands of one batch, in the order they were added."""

    def __init__(self) -> None:
        self.items: list[tuple[MethodSpec[Any, Any], Mapping[str, Any], Pending[Any]]] = []

    def add(self, spec: MethodSpec[Any, T], args: Mapping[str, Any]) -> Pending[T]:
        validated_args(spec, args)  # a bad argument raises InvalidArgument here, where the call is written
        pending: Pending[T] = Pending(spec)
        self.items.append((spec, args, pending))
        return pending


def result_of(spec: MethodSpec[Any, T], response: Response) -> T:
    """The typed result of a response entry, or the typed error it stands for."""
    if response.status != 0:
        raise error_for_status(response.status, response.status_msg or "", response.id)
    try:
        return spec.load_result(response.resp)
    except ValidationError as exc:
        raise TransportError(f"{spec.wire_name} answered a result that does not match its schema: {exc}") from exc


class FrameCodec:
    """Turns (method, args) pairs into a request frame and the HTTP answer into response entries."""

    def __init__(self, *, src: str | None, dst: str | None, key: str | None, retries: int) -> None:
        if retries < 0:
            raise ValueError(f"retries must be 0 or more, got {retries}")
        self.src = src
        self.dst = dst
        self.retries = retries
        self.headers = {"Content-Type": "application/json"}
        key = os.environ.get(KEY_ENV) if key is None else key
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self._ids = itertools.count(1)

    def encode(self, calls: Sequence[tuple[MethodSpec[Any, Any], Mapping[str, Any]]]) -> tuple[bytes, list[int]]:
        ids = [next(self._ids) for _ in calls]
        cmds = [
            {"cmd": spec.wire_name, "id": command_id, "args": spec.dump_args(validated_args(spec, args))}
            for (spec, args), command_id in zip(calls, ids, strict=True)
        ]
        frame: dict[str, Any] = {"v": 1, "cmds": cmds}
        if self.src is not None:
            frame["src"] = self.src
        if self.dst is not None:
            frame["dst"] = self.dst
        return json.dumps(frame).encode(), ids

    def decode(self, response: httpx.Response, ids: list[int]) -> list[Response]:
        try:
            body = response.json()
        except ValueError as exc:
            raise TransportError(f"HTTP {response.status_code} from {response.url}: body is not JSON") from exc
        if response.status_code != 200:
            try:
                error = ErrorBody.model_validate(body)
            except ValidationError as exc:
                raise TransportError(f"HTTP {response.status_code} from {response.url}: {body!r}") from exc
            raise error_for_status(error.status, error.status_msg)
        try:
            frame = ResponseFrame.model_validate(body)
        except ValidationError as exc:
            raise TransportError(f"the server answered something that is not a response frame: {exc}") from exc
        if [r.id for r in frame.resp] != ids:
            raise TransportError(f"response ids {[r.id for r in frame.resp]} do not match the command ids {ids}")
        return frame.resp

    def may_retry(
        self, calls: Sequence[tuple[MethodSpec[Any, Any], Mapping[str, Any]]], error: httpx.TransportError, attempt: int
    ) -> bool:
        """Whether to send the frame again after attempt number `attempt` (0 the first) failed with `error`: at most
        `retries` times; after a connect failure (nothing was sent) whatever the frame holds, after any other
        failure (the server may have run it) only when every command may be repeated (idempotency not none)."""
        if attempt >= self.retries:
            return False
        return isinstance(error, NOT_SENT) or all(spec.repeatable for spec, _ in calls)


def base_url_or_default(base_url: str | None, http_client: httpx.Client | httpx.AsyncClient | None = None) -> str:
    """The given base URL, else the base_url of the caller's httpx client, else ${URL_ENV}, else the local default."""
    if base_url:
        return base_url
    if http_client is not None and str(http_client.base_url):
        return str(http_client.base_url)
    return os.environ.get(URL_ENV) or DEFAULT_BASE_URL


def frame_url(base_url: str) -> str:
    """Where frames are posted: FRAME_PATH under the base URL's path, as httpx joins a base_url and a path."""
    return base_url.rstrip("/") + FRAME_PATH


def timeout_or_default(
    timeout: float | httpx.Timeout | None, http_client: httpx.Client | httpx.AsyncClient | None
) -> httpx.Timeout:
    """The given timeout, else the caller's httpx client's own, else DEFAULT_TIMEOUT_SECONDS."""
    if timeout is None:
        return http_client.timeout if http_client is not None else httpx.Timeout(DEFAULT_TIMEOUT_SECONDS)
    return httpx.Timeout(timeout)


def check_http_options(transport: object, http_client: object) -> None:
    if transport is not None and http_client is not None:
        raise ValueError("pass transport or http_client, not both: give your httpx client the transport instead")


def transport_error(exc: httpx.HTTPError, base_url: str) -> TransportError:
    return TransportError(f"cannot reach {base_url}: {exc.__class__.__name__}: {exc}")


class SyncCaller(Protocol):
    """What a service's client methods need from Client."""

    def call(self, spec: MethodSpec[Any, T], args: Mapping[str, Any]) -> T: ...


class AsyncCaller(Protocol):
    """What a service's async client methods need from AsyncClient."""

    async def call(self, spec: MethodSpec[Any, T], args: Mapping[str, Any]) -> T: ...
