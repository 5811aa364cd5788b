"""The Rollout service: state machines, persistence and the handlers of its eight methods."""
