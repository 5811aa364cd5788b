# mypy: allow-untyped-decorators
"""Schemathesis against the app's own /openapi.json: every operation, in-process through the ASGI app.

The document is read over ASGI from an app that never touches a database (the document depends on
the definitions only); each case is then sent, in-process, to the `app` fixture of each backend,
with the admin key. Every response must be no 5xx, carry a status code the operation documents, a
documented content type and a body matching the documented schema. FUZZ_EXAMPLES bounds the
fuzzing phase per operation; the examples and coverage phases add their own deterministic cases.

(`schemathesis.pytest.from_fixture` would load the schema from the `app` fixture directly, but its
lazy loader does not run under pytest 9, so the document comes from a second app built here.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis  # type: ignore[import-not-found,unused-ignore]
from fastapi.testclient import TestClient
from schemathesis.checks import not_a_server_error  # type: ignore[import-not-found,unused-ignore]
from schemathesis.specs.openapi.checks import (  # type: ignore[import-not-found,unused-ignore]
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.types import ASGIApp

from app.composition import create_app
from app.settings import Settings
from tests.fuzz.conftest import VOLUME, fuzz_examples

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Never connected to: only its /openapi.json is read.
_DOCUMENT_APP = create_app(
    Settings(database_url=f"sqlite:///{Path(tempfile.gettempdir()) / 'rollout-openapi-unused.db'}")
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _DOCUMENT_APP)
# The key is sent per call (it exists only once the fixtures made it), so no made-up tokens here;
# and no example database under the working tree: every run starts fresh.
schema.config.generation.update(
    max_examples=fuzz_examples(), database="none", with_security_parameters=False, allow_x00=True
)


def test_fuzzed_document_is_the_served_one(http: TestClient) -> None:
    """The operations fuzzed here are exactly those the app under test serves."""
    response = http.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == schema.raw_schema


@schema.parametrize()
def test_every_operation_conforms(case: Any, app: ASGIApp, admin_key: str) -> None:
    VOLUME[f"openapi {case.operation.label}"] += 1
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {admin_key}"}, checks=CHECKS)
