"""JSON out: compact bytes, and arrays written a batch of items at a time so huge results can stream."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

# Items per chunk of a streamed array: chunks of tens of kilobytes, a worker-thread hop each.
STREAM_BATCH = 2000


def dumps(value: Any) -> bytes:
    # ASCII escapes keep any string a caller sent (even a lone surrogate) encodable.
    return json.dumps(value, separators=(",", ":")).encode()


def array_chunks(items: Iterable[Any]) -> Iterator[bytes]:
    """`[item,item,...]` as a few bytes chunks; only one batch of items is in memory at a time."""
    iterator = iter(items)
    yield b"["
    first = True
    while batch := list(islice(iterator, STREAM_BATCH)):
        text = json.dumps(batch, separators=(",", ":"))[1:-1]
        yield (text if first else "," + text).encode()
        first = False
    yield b"]"
