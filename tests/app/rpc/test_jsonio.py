"""JSON out: compact UTF-8, with a fallback for text that has no UTF-8 form."""

from __future__ import annotations

import json

from app.rpc.jsonio import STREAM_BATCH, array_chunks, dumps


def test_dumps_is_compact_utf8() -> None:
    value = {"id": 7, "status": 0, "resp": {"name": "Büro \u2028", "tags": [1, None, True]}}
    out = dumps(value)
    assert out == '{"id":7,"status":0,"resp":{"name":"Büro \u2028","tags":[1,null,true]}}'.encode()
    assert json.loads(out) == value


def test_dumps_escapes_a_lone_surrogate_instead_of_failing() -> None:
    out = dumps({"status_msg": "bad id 'x\ud800'"})
    assert out == b'{"status_msg":"bad id \'x\\ud800\'"}'
    assert json.loads(out) == {"status_msg": "bad id 'x\ud800'"}


def test_array_chunks_join_to_the_whole_array() -> None:
    items = [{"deviceId": f"d{i}", "state": "init"} for i in range(2 * STREAM_BATCH + 5)]
    chunks = list(array_chunks(iter(items)))
    assert len(chunks) == 5  # "[", three batches, "]"
    assert json.loads(b"".join(chunks)) == items
    assert b"".join(array_chunks(iter([]))) == b"[]"
