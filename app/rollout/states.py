"""The two state machines, keyed by the generated RolloutState and DeviceState enums."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from rollout_api.rollout.models import DeviceState, RolloutState

S = TypeVar("S", bound=StrEnum)

ROLLOUT_TRANSITIONS: Mapping[RolloutState, frozenset[RolloutState]] = {
    RolloutState.INIT: frozenset({RolloutState.IN_PROGRESS, RolloutState.FINISHED}),
    RolloutState.IN_PROGRESS: frozenset({RolloutState.PAUSED, RolloutState.FINISHED}),
    RolloutState.PAUSED: frozenset({RolloutState.IN_PROGRESS, RolloutState.FINISHED}),
    RolloutState.FINISHED: frozenset(),
}

DEVICE_TRANSITIONS: Mapping[DeviceState, frozenset[DeviceState]] = {
    DeviceState.INIT: frozenset({DeviceState.STARTED, DeviceState.SUCCEEDED, DeviceState.FAILED}),
    DeviceState.STARTED: frozenset({DeviceState.SUCCEEDED, DeviceState.FAILED}),
    DeviceState.FAILED: frozenset({DeviceState.STARTED}),
    DeviceState.SUCCEEDED: frozenset(),
}


def allowed(transitions: Mapping[S, frozenset[S]], current: S, target: S) -> bool:
    """Setting the state a thing already has is allowed: it makes retries safe."""
    return target == current or target in transitions[current]


def refusal(kind: str, transitions: Mapping[S, frozenset[S]], current: S, target: S) -> str:
    """The 409 message: what was asked, the current state, and what would be allowed (in the enum's order)."""
    targets = [state.value for state in transitions if state in transitions[current]]
    allowed_text = ", ".join(targets) if targets else f"none: {current.value} is final"
    return f"cannot move {kind} from {current.value} to {target.value}; allowed from {current.value}: {allowed_text}"


def sources(transitions: Mapping[S, frozenset[S]], target: S) -> frozenset[str]:
    """Every state from which `target` is a move (itself not included: setting the state a thing has is a
    repeat, which changes nothing), as the plain strings the database holds."""
    return frozenset(current.value for current in transitions if target in transitions[current])
