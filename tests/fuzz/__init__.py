"""Fuzz and property tests of the HTTP API (run by `nox -s fuzz`)."""
