"""The two state machines: a rollout's and a device's within a rollout."""

from __future__ import annotations

from collections.abc import Mapping

ROLLOUT_STATES = ("init", "inProgress", "paused", "finished")
DEVICE_STATES = ("init", "started", "succeeded", "failed")

ROLLOUT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "init": frozenset({"inProgress", "finished"}),
    "inProgress": frozenset({"paused", "finished"}),
    "paused": frozenset({"inProgress", "finished"}),
    "finished": frozenset(),
}

DEVICE_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "init": frozenset({"started", "succeeded", "failed"}),
    "started": frozenset({"succeeded", "failed"}),
    "failed": frozenset({"started"}),
    "succeeded": frozenset(),
}


def allowed(transitions: Mapping[str, frozenset[str]], current: str, target: str) -> bool:
    """Setting the state a thing already has is allowed: it makes retries safe."""
    return target == current or target in transitions[current]


def refusal(
    kind: str, transitions: Mapping[str, frozenset[str]], states: tuple[str, ...], current: str, target: str
) -> str:
    """The 409 message: what was asked, the current state, and what would be allowed."""
    targets = [s for s in states if s in transitions[current]]
    allowed_text = ", ".join(targets) if targets else f"none: {current} is final"
    return f"cannot move {kind} from {current} to {target}; allowed from {current}: {allowed_text}"


def sources(transitions: Mapping[str, frozenset[str]], target: str) -> frozenset[str]:
    """Every state from which `target` may be set, itself included."""
    return frozenset(current for current in transitions if allowed(transitions, current, target))
