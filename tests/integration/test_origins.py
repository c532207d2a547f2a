"""Origins: only the site's own may open a socket; ALLOWED_HOSTS='*' is refused outside DEBUG."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, World
from tests.sockets import CONNECT_TIMEOUT, communicator

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://localhost.evil.example",
        "http://127.0.0.1.evil.example",
        "http://evil-localhost",
        "http://notlocalhost",
        "null",
        "",
        "http://localhost:8000@evil.example",
        "file://",
    ],
)
@pytest.mark.parametrize("path", ["/ws/rooms/evening-circle/", "/ws/staff/"])
async def test_foreign_origins_are_refused(
    world: World, cookies: dict[str, str], origin: str, path: str
) -> None:
    """The origin check is ALLOWED_HOSTS (here the default: 127.0.0.1 and localhost)."""
    comm = communicator(path, cookies["fran"], origin=origin)
    connected, _ = await comm.connect(timeout=CONNECT_TIMEOUT)
    assert not connected


async def test_a_missing_origin_is_refused(world: World, cookies: dict[str, str]) -> None:
    comm = communicator("/ws/rooms/evening-circle/", cookies["alex"], origin=None)
    connected, _ = await comm.connect(timeout=CONNECT_TIMEOUT)
    assert not connected


@pytest.mark.parametrize(
    "origin", ["http://localhost", "https://localhost", "http://127.0.0.1:8000"]
)
async def test_the_sites_own_origin_is_let_in(
    world: World, cookies: dict[str, str], origin: str
) -> None:
    comm = communicator("/ws/rooms/evening-circle/", cookies["alex"], origin=origin)
    connected, _ = await comm.connect(timeout=CONNECT_TIMEOUT)
    assert connected
    await comm.disconnect()


def _settings_load(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("ALLOWED_HOSTS", "DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_wildcard_host_is_refused_outside_debug() -> None:
    refused = _settings_load(ALLOWED_HOSTS="*")
    assert refused.returncode != 0
    assert "ALLOWED_HOSTS='*' is refused" in refused.stderr
    assert _settings_load(ALLOWED_HOSTS="*", DEBUG="1").returncode == 0
    assert _settings_load(ALLOWED_HOSTS="chat.example.org").returncode == 0
