"""Configuration from the environment, with defaults that need no set-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from app.logs import LogFormat


class Settings(BaseSettings):
    """Every knob of the service; each field is read from the upper-cased environment variable.

    Keyword arguments win over the environment; an empty variable means the default.
    """

    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, use_attribute_docstrings=True)

    database_url: str = "sqlite:///rollout.db"
    host: str = "127.0.0.1"
    port: int = 8000
    shutdown_grace_seconds: int = Field(default=20, ge=0)
    """On SIGTERM or SIGINT, how long running requests may take to finish; then their connections are closed,
    and commands not begun by then are not run. Keep it below the orchestrator's kill timeout (Kubernetes: 30)."""
    server_address: str = "//rollout-service"
    """The `src` of response frames whose request named no `dst`."""
    max_body_bytes: int = 32 * 1024 * 1024
    max_commands: int = 1000
    max_frame_items: int = Field(default=100_000, ge=1)
    """Most items the paged lists of one frame may ask for together (the sum of their `limit`s); a frame may also
    hold one list without a limit, which streams. Bounds what a small request can make the server send."""
    max_devices_per_add: int = 1_000_000
    max_id_length: int = 256
    """Longest project, rollout, firmware, device or update-command id."""
    max_name_length: int = 1024
    max_filter_length: int = 1024
    log_format: LogFormat = "text"
    """`json`: one JSON object per log line (time, level, logger, message, and a request's fields)."""
    auth_cache_seconds: int = 2
    """How long a server trusts a key it has checked; revoking a key takes effect within this time."""
    auth_disabled: bool = False
    """Local experiments only: every caller is treated as an admin, and every start logs a warning."""
    allowed_origins: Annotated[frozenset[str], NoDecode] = frozenset()
    """With AUTH_DISABLED: browser origins (e.g. https://ops.example.com) allowed to call the API besides the
    server's own loopback or IP-literal address; comma-separated. Without a key, any other page could."""
    admin_principal: str = "//admin"
    """Principal of the admin key the first start on an empty database creates."""
    send_timeout_seconds: float = Field(default=10.0, gt=0)
    """A streamed answer (a list without a limit) whose client takes nothing for this long is ended, and its
    connection and transaction are given back."""
    timeout_sweep_seconds: float = Field(default=0.5, gt=0)
    """How often each server process fails the devices started for longer than their rollout's deviceTimeout;
    a timeout shows in every read within this time (plus the sweep's own) of its expiry."""
    metrics_key: SecretStr | None = None
    """When set, GET /metrics needs `Authorization: Bearer <METRICS_KEY>` (a secret of its own, not an API key: a
    scraper should reach nothing else). Unset, /metrics is open to whoever reaches the port."""
    workers: int = Field(default=1, ge=1)
    """Server processes sharing the port, each with its own event loop, worker threads and connection pool. One
    per CPU core is the usual size; each opens up to its own pool of connections, so keep WORKERS times the pool
    under the database's limit (PostgreSQL: max_connections). On SQLite, writes take turns on the file whatever
    the count: more workers add reads."""
    batch_commands: bool = True
    """Run consecutive commands of one method in a frame set-based, where the method has a batch implementation
    (SetDeviceState, Get): one statement for the run instead of one per command, with the same answers.
    `false` runs every command alone, as before (for comparison)."""
    worker_threads: int = Field(default=4, ge=1)
    """Threads per server process for database work that may wait: writes, PostgreSQL, streamed answers.
    More let more slow commands run at once, but each also competes for the GIL: on the benchmark's
    one-Get requests on PostgreSQL, 4 served 1.4 times as many as 10."""

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from os.environ (or from `environ`); a bad value is a ValueError naming its variable."""
        try:
            if environ is None:
                return cls()
            return cls(_build_sources=((_MappingSource(cls, environ),), {}))
        except ValidationError as invalid:
            raise ValueError("; ".join(map(_explain, invalid.errors()))) from None


class _MappingSource(EnvSettingsSource):
    """The environment-variable source, reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


_EXPECTED = {
    "int_parsing": "is not an integer",
    "bool_parsing": "is not a boolean; use true or false",
    "greater_than_equal": "must be at least {ge}",
}


def _explain(error: ErrorDetails) -> str:
    """One validation error as VARIABLE='value' and what it should be."""
    variable = str(error["loc"][0]).upper()
    template = _EXPECTED.get(error["type"])
    expected = template.format_map(error.get("ctx", {})) if template else error["msg"]
    return f"{variable}={error['input']!r} {expected}"
