"""Configuration from the environment, with defaults that need no set-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Settings:
    """Every knob of the service; each field is read from the upper-cased environment variable."""

    database_url: str = "sqlite:///rollout.db"
    host: str = "127.0.0.1"
    port: int = 8000
    server_address: str = "//rollout-service"
    """The `src` of response frames whose request named no `dst`."""
    max_body_bytes: int = 32 * 1024 * 1024
    max_commands: int = 1000
    max_devices_per_add: int = 1_000_000
    max_id_length: int = 256
    """Longest project, rollout, firmware, device or update-command id."""
    max_name_length: int = 1024
    max_filter_length: int = 1024
    auth_cache_seconds: int = 2
    """How long a server trusts a key it has checked; revoking a key takes effect within this time."""
    auth_disabled: bool = False
    """Local experiments only: every caller is treated as an admin, and every start logs a warning."""
    admin_principal: str = "//admin"
    """Principal of the admin key the first start on an empty database creates."""
    worker_threads: int = 4
    """Threads per server process for database work that may wait: writes, PostgreSQL, streamed answers.
    More let more slow commands run at once, but each also competes for the GIL: on the benchmark's
    one-Get requests on PostgreSQL, 4 served 1.4 times as many as 10."""

    def __post_init__(self) -> None:
        if self.worker_threads < 1:
            raise ValueError(f"WORKER_THREADS={self.worker_threads} must be at least 1")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = env.get(field.name.upper())
            if raw is None or raw == "":
                continue
            if field.type == "bool":
                if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(f"{field.name.upper()}={raw!r} is not a boolean; use true or false")
                values[field.name] = raw.lower() in ("1", "true", "yes")
            elif field.type == "int":
                try:
                    values[field.name] = int(raw)
                except ValueError:
                    raise ValueError(f"{field.name.upper()}={raw!r} is not an integer") from None
            else:
                values[field.name] = raw
        return cls(**values)  # type: ignore[arg-type]  # each value was converted to its field's type
