"""The dashboard's files: served from /ui/ with their content types, from this origin only, and installed with the
package (the browser suite, tests/browser/test_dashboard.py, drives the page itself)."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import PurePosixPath

import pytest
from fastapi.testclient import TestClient

from app.ui.pages import STATIC, static_files
from tests.helpers import ROOT

# Any absolute http(s) address: the page may name none, since it may load and call nothing but its own server.
OTHER_ORIGIN = re.compile(r"https?://", re.IGNORECASE)
# The name the setuptools package data uses for the directory, relative to the `app` package.
PACKAGE_DIR = PurePosixPath("ui/static")


def test_the_page_script_and_style_are_the_files_the_package_holds() -> None:
    assert set(static_files()) == {"index.html", "app.js", "app.css"}


@pytest.mark.parametrize(
    ("path", "media_type"),
    [("/ui/", "text/html"), ("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css")],
)
def test_each_file_is_served_with_its_content_type_and_a_same_origin_policy(
    http: TestClient, path: str, media_type: str
) -> None:
    response = http.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == f"{media_type}; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert response.headers["referrer-policy"] == "no-referrer"
    assert OTHER_ORIGIN.findall(response.text) == []


def test_ui_without_its_slash_leads_to_the_page(http: TestClient) -> None:
    response = http.get("/ui", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/ui/"


def test_a_file_the_dashboard_does_not_have_answers_the_apis_404(http: TestClient) -> None:
    response = http.get("/ui/nothing.js")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_the_page_references_only_its_own_files() -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    referenced = set(re.findall(r'(?:src|href)="([^"#][^"]*)"', page)) - {"data:,"}
    assert referenced == {"app.js", "app.css"}


def test_the_package_data_installs_every_dashboard_file() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["app"]
    for name in static_files():
        assert any(fnmatch(str(PACKAGE_DIR / name), pattern) for pattern in patterns), name
    assert (ROOT / "app" / PACKAGE_DIR).is_dir()
