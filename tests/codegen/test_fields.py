"""A result given as its Fields is written exactly as the model holding those values (MethodSpec, runtime spec.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, computed_field, model_serializer
from rollout_api.spec import Fields, Idempotency, MethodSpec, ResponseEntry


class Colour(StrEnum):
    RED = "red"


class Inner(BaseModel):
    model_config = ConfigDict(extra="allow")

    low: int
    high_mark: int | None = Field(default=None, alias="highMark")


class Outer(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    when: datetime = Field(alias="at")
    colour: Colour | str
    inner: Inner
    inners: list[Inner] = []
    note: str | None = None
    maybe: Inner | None = None


class Custom(BaseModel):
    value: int

    @model_serializer
    def _written(self) -> dict[str, Any]:
        return {"v": self.value}


class Computed(BaseModel):
    value: int

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented use
    @property
    def double(self) -> int:
        return 2 * self.value


def _spec(result: type[BaseModel]) -> MethodSpec[Any, Any]:
    return MethodSpec(
        service="S",
        method="M",
        wire_name="/v1/S.M",
        attr="m",
        doc="",
        idempotency=Idempotency.NO_SIDE_EFFECTS,
        roles=(),
        args_model=BaseModel,
        result=TypeAdapter(result),
        result_item=None,
        definition={},
        examples=(),
        batch=True,
        entries=TypeAdapter(list[ResponseEntry[result]]),  # type: ignore[valid-type]
    )


WHEN = datetime(2026, 12, 4, 12, 30, 1, 250000, tzinfo=UTC)
VALUES: list[dict[str, Any]] = [
    {"id": "1", "when": WHEN, "colour": Colour.RED, "inner": {"low": 1}, "inners": []},
    {
        "id": "caf\u00e9",
        "when": WHEN,
        "colour": "mauve",
        "inner": {"low": 2, "high_mark": 9},
        "inners": [{"low": 3}, {"low": 4, "high_mark": 5}],
        "note": "n",
        "maybe": {"low": 6},
    },
]


@pytest.mark.parametrize("values", VALUES)
def test_fields_are_written_as_the_model_holding_them(values: dict[str, Any]) -> None:
    spec = _spec(Outer)
    model = Outer.model_validate(values, by_name=True)
    assert spec.dump_result_json(Fields(values)) == spec.dump_result_json(model)
    entries: list[ResponseEntry[Any]] = [{"id": 1, "status": 0, "resp": values}, {"status": 0, "resp": values}]
    typed: list[ResponseEntry[Any]] = [{**entry, "resp": model} for entry in entries]
    assert spec.dump_field_entries_json(entries) == spec.dump_entries_json(typed)


def test_a_missing_or_unknown_field_is_an_error_not_a_different_answer() -> None:
    spec = _spec(Outer)
    missing = {key: value for key, value in VALUES[0].items() if key != "inner"}
    with pytest.raises(TypeError, match=r"missing \['inner'\]"):
        spec.dump_result_json(Fields(missing))
    # A default the model would write ([]) must be given: left out, the answer would lack it.
    without_default = {key: value for key, value in VALUES[0].items() if key != "inners"}
    with pytest.raises(TypeError, match=r"missing \['inners'\]"):
        spec.dump_result_json(Fields(without_default))
    with pytest.raises(TypeError, match=r"unknown \['extra'\]"):
        spec.dump_field_entries_json([{"status": 0, "resp": VALUES[0] | {"extra": 1}}])


@pytest.mark.parametrize(("model", "written"), [(Custom, b'{"v":1}'), (Computed, b'{"value":1,"double":2}')])
def test_a_model_written_by_rules_of_its_own_is_refused(model: type[BaseModel], written: bytes) -> None:
    spec = _spec(model)
    assert spec.dump_result_json(model(value=1)) == written
    with pytest.raises(TypeError, match="rules of its own"):
        spec.dump_result_json(Fields({"value": 1}))
