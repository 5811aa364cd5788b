"""Results built without validation (app/trusted.py) are the models validation gives from the same values."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel, Field
from rollout_api import METHODS
from rollout_api.rollout.models import Device, DeviceState, Event, Rollout, RolloutState
from rollout_api.spec import Fields

from app.rollout.service import RolloutHandlers, _device, as_rollout, rollout_fields
from app.settings import Settings
from app.trusted import build

PLAIN = {
    "id": 17,
    "project_id": "//p/1",
    "state": "init",
    "device_filter": "room=kitchen",
    "firmware_id": "fw-2.1.0",
    "count_init": 3,
    "count_started": 2,
    "count_succeeded": 1,
    "count_failed": 0,
    "created_at": 1_700_000_000.25,
    "updated_at": 1_700_000_100.5,
    "auto_finish": 0,
    "name": None,
    "reason": None,
    "failure_percent": None,
    "failure_min_reported": None,
    "max_failures": None,
    "device_timeout": None,
    "max_in_progress": None,
}
ROWS = [
    PLAIN,
    PLAIN | {"state": "paused", "name": "r1", "reason": "paused automatically", "auto_finish": 1},
    PLAIN | {"failure_percent": 20.0, "failure_min_reported": 10, "max_failures": 5},
    PLAIN | {"failure_percent": 12.5, "failure_min_reported": 1, "device_timeout": 60, "max_in_progress": 100},
    # A state this server does not know (written by a newer one): a string, as validation keeps it.
    PLAIN | {"state": "rolledBack"},
]


def _same(built: BaseModel, model: type[BaseModel]) -> None:
    validated = model.model_validate(built.model_dump(by_alias=True, exclude_unset=True))
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set
    for name in model.model_fields:
        assert type(getattr(built, name)) is type(getattr(validated, name)), name
    assert built.model_dump_json(by_alias=True, exclude_none=True) == validated.model_dump_json(
        by_alias=True, exclude_none=True
    )


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row['state']}-{row['failure_percent']}-{row['name']}")
def test_a_rollout_built_from_its_row_is_the_validated_rollout(row: dict[str, Any]) -> None:
    rollout = as_rollout(SimpleNamespace(**row))
    _same(rollout, Rollout)
    _same(rollout.counts, type(rollout.counts))
    if rollout.failure_threshold is not None:
        _same(rollout.failure_threshold, type(rollout.failure_threshold))
        assert rollout.model_dump(by_alias=True)["failureThreshold"]["percent"] == (
            20 if row["failure_percent"] == 20.0 else 12.5
        )
    assert rollout.state == row["state"]
    assert isinstance(rollout.state, RolloutState) == (row["state"] != "rolledBack")


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row['state']}-{row['failure_percent']}-{row['name']}")
def test_a_rollout_written_from_its_fields_is_the_validated_rollout_written(row: dict[str, Any]) -> None:
    """Get's batch answers Fields (no model built): written, they are byte for byte the validated model."""
    get = METHODS["/v1/Rollout.Get"]
    validated = Rollout.model_validate(as_rollout(SimpleNamespace(**row)).model_dump(by_alias=True))
    assert get.dump_result_json(Fields(rollout_fields(SimpleNamespace(**row)))) == get.dump_result_json(validated)


@pytest.mark.parametrize(
    "row",
    [
        {"device_id": "d1", "state": "init", "updated_at": 1.5, "update_command_id": None, "reason": None},
        {"device_id": "d2", "state": "failed", "updated_at": 2.0, "update_command_id": "u-7", "reason": "timeout"},
    ],
)
def test_a_device_built_from_its_row_is_the_validated_device(row: dict[str, Any]) -> None:
    device = _device(SimpleNamespace(**row))
    _same(device, Device)
    assert isinstance(device.state, DeviceState)


def test_build_refuses_a_name_that_is_not_a_field() -> None:
    with pytest.raises(
        TypeError, match=r"Device: missing fields \[.id., .state., .updated_at.\], unknown fields \[.deviceid.\]"
    ):
        build(Device, {"deviceid": "d1"})


def test_each_built_instance_has_its_own_extra_fields() -> None:
    first = build(Rollout, as_rollout(SimpleNamespace(**PLAIN)).__dict__)
    second = build(Rollout, dict(first.__dict__))
    first.__setattr__("note", "only on the first")  # Rollout allows extra fields (forward compatibility)
    assert first.model_extra == {"note": "only on the first"}
    assert second.model_extra == {}


def test_build_refuses_a_model_with_a_default_factory() -> None:
    class Listed(BaseModel):
        items: list[str] = Field(default_factory=list)

    with pytest.raises(TypeError, match="default factory"):
        build(Listed, {})


@pytest.mark.parametrize(
    "row",
    [
        {
            "id": 4,
            "at": 3.25,
            "from_state": "init",
            "to_state": "inProgress",
            "by": None,
            "device_id": None,
            "reason": None,
        },
        {
            "id": 5,
            "at": 4.0,
            "from_state": "started",
            "to_state": "failed",
            "by": "//p/k",
            "device_id": "d1",
            "reason": "x",
        },
    ],
)
def test_an_event_built_from_its_row_is_the_validated_event(row: dict[str, Any]) -> None:
    handlers = RolloutHandlers(Settings(database_url="sqlite://", server_address="//api.example.com"))
    event = handlers._event(SimpleNamespace(**row))
    _same(event, Event)
    assert event.model_dump(by_alias=True)["from"] == row["from_state"]
    assert event.by == (row["by"] or "//api.example.com")
