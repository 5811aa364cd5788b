"""Fixtures the generator tests share."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.codegen import support
from tests.codegen.support import WriteDefinitions


@pytest.fixture
def write_definitions(tmp_path: Path) -> WriteDefinitions:
    def write(methods: Mapping[str, object], *, service: str = "Shop", service_file: bool = True) -> Path:
        return support.write_definitions(tmp_path, methods, service=service, service_file=service_file)

    return write
