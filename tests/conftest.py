"""Shared fixtures: a temporary profile per test, the real starter model, log policing."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import pytest

from tests.hub_server import LocalHub, use_test_hub_environment

# HF_ENDPOINT (a local port), a temporary HF_HOME, no token: set before huggingface_hub loads.
HUB_PORT = use_test_hub_environment()

from app.core.paths import Paths, resolve_paths  # noqa: E402 - after the hub environment
from app.core.starter_model import ensure_starter_model  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_warnings: the test expects WARNING log records")


@pytest.fixture(scope="session")
def starter_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real starter model, fetched once per machine into the download cache."""
    seed = resolve_paths(tmp_path_factory.mktemp("seed-profile")).ensure()
    return ensure_starter_model(seed)


@pytest.fixture(scope="session")
def hub_server() -> Iterator[LocalHub]:
    """The local test hub (tests/hub_server.py), listening where HF_ENDPOINT points."""
    server = LocalHub(HUB_PORT).start()
    yield server
    server.shutdown()


@pytest.fixture
def hub(hub_server: LocalHub) -> Iterator[LocalHub]:
    """The local test hub, emptied for this test: no repos, faults, throttle or log."""
    hub_server.reset()
    yield hub_server
    hub_server.release()  # a stalled response left by the test ends now


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    """A fresh, empty profile."""
    return resolve_paths(tmp_path / "profile").ensure()


@pytest.fixture
def model_paths(paths: Paths, starter_gguf: Path) -> Paths:
    """A fresh profile whose library holds the starter model."""
    ensure_starter_model(paths)
    return paths


@pytest.fixture
def model_path(model_paths: Paths) -> str:
    """Path of the starter model inside the test profile's library."""
    return str(next(model_paths.models_dir.glob("*.gguf")))


@pytest.fixture(autouse=True)
def _no_unexpected_warnings(request: pytest.FixtureRequest,
                            caplog: pytest.LogCaptureFixture) -> None:
    """Like qutebrowser: a WARNING the test did not expect fails it."""
    caplog.set_level(logging.INFO)
    yield
    if request.node.get_closest_marker("allow_warnings"):
        return
    bad = [r for r in caplog.get_records("call") if r.levelno >= logging.WARNING]
    if bad:
        pytest.fail("unexpected log records: " + "; ".join(
            f"{r.levelname} {r.name}: {r.getMessage()}" for r in bad))
