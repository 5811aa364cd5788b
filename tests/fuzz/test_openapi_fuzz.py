# mypy: allow-untyped-decorators
"""Schemathesis against the app's own /openapi.json: every operation, in-process through the ASGI app.

The document is read over ASGI from an app that never touches a database (the document depends on
the definitions only); each case is then sent, in-process, to the `app` fixture of each backend,
with the admin key. Cases come in both generation modes: positive (what the schema allows, which the
server must accept) and negative (what it excludes, which the server must refuse), and every response
goes through all of schemathesis's checks (CHECKS). FUZZ_EXAMPLES bounds the fuzzing phase per operation;
the examples and coverage phases add their own deterministic cases. The cases run are counted per
operation and mode (the fuzz volume at the end of the run).

(`schemathesis.pytest.from_fixture` would load the schema from the `app` fixture directly, but its
lazy loader does not run under pytest 9, so the document comes from a second app built here.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis  # type: ignore[import-not-found,unused-ignore]
from fastapi.testclient import TestClient
from schemathesis import GenerationMode  # type: ignore[import-not-found,unused-ignore]
from schemathesis.checks import CHECKS as REGISTERED  # type: ignore[import-not-found,unused-ignore]
from schemathesis.checks import load_all_checks, not_a_server_error  # type: ignore[import-not-found,unused-ignore]
from schemathesis.specs.openapi.checks import (  # type: ignore[import-not-found,unused-ignore]
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    object_level_authorization,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)
from starlette.types import ASGIApp

from app.composition import create_app
from app.settings import Settings
from tests.fuzz.conftest import VOLUME, fuzz_examples

CHECKS = [
    # What every answer must be: no 5xx; a documented status, content type, body and headers.
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    # Docs and behaviour agree: what the schema allows is accepted, what it excludes is refused.
    positive_data_acceptance,
    negative_data_rejection,
    # The coverage phase's probes: a missing required header, an HTTP method the path does not have (405 with
    # Allow), OPTIONS's Allow listing exactly the documented methods; and a key that is left out or wrong
    # turns a success into 401.
    missing_required_header,
    unsupported_method,
    allow_header_conformance,
    ignored_auth,
    # Run, but they cannot fire on this API. use_after_free and ensure_resource_availability follow a
    # resource created by a POST to a collection and read or deleted at its own URL (GET / DELETE with path
    # parameters) through links in a stateful run; here every operation is a POST to a fixed path naming its
    # object in the body, and the document has no links, so there is no stateful phase (schemathesis: "not
    # applicable"). object_level_authorization replays a GET that read an object as other configured
    # identities; there is no GET of an object and one key. Project isolation is tested directly instead:
    # tests/app/rollout/test_isolation.py and tests/app/auth/test_auth.py.
    use_after_free,
    ensure_resource_availability,
    object_level_authorization,
]

# Never connected to: only its /openapi.json is read.
_DOCUMENT_APP = create_app(
    Settings(database_url=f"sqlite:///{Path(tempfile.gettempdir()) / 'rollout-openapi-unused.db'}")
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _DOCUMENT_APP)
# The key is sent per call (it exists only once the fixtures made it), so no made-up tokens here;
# and no example database under the working tree: every run starts fresh. NUL is generated on purpose:
# the document must exclude it wherever the server refuses it.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=fuzz_examples(),
    database="none",
    with_security_parameters=False,
    allow_x00=True,
)


def test_every_check_is_run() -> None:
    """CHECKS is every check this schemathesis has, so a newer one with more checks is noticed here."""
    load_all_checks()
    assert {check.__name__ for check in CHECKS} == {check.__name__ for check in REGISTERED.get_all()}


def test_fuzzed_document_is_the_served_one(http: TestClient) -> None:
    """The operations fuzzed here are exactly those the app under test serves."""
    response = http.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == schema.raw_schema


@schema.parametrize()
def test_every_operation_conforms(case: Any, app: ASGIApp, admin_key: str) -> None:
    mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
    VOLUME[f"openapi {case.operation.label} ({mode})"] += 1
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {admin_key}"}, checks=CHECKS)
