"""A pytest plugin that makes sure real PostgreSQL and Redis are there for the tests.

It runs before Django is set up (``-p tests.services`` in pyproject.toml), because settings
read DATABASE_URL and REDIS_URL when they load. When those variables are set, the tests use
the servers they name. Otherwise the plugin starts throwaway ones (a PostgreSQL cluster in a
temporary folder and a redis-server on a free port) and stops them at the end, installing
Debian's packages first when they are missing and we are root. If none of that is possible
it stops the run with a message that says what to do: never a silent skip.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

_started: list[subprocess.Popen[bytes]] = []
_cleanups: list[tuple[str, Path]] = []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise pytest.UsageError(f"{what} did not start listening on 127.0.0.1:{port}")


def _apt_install(*packages: str) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, env=env)


def _postgres_bindir() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _start_redis() -> str:
    if shutil.which("redis-server") is None:
        _apt_install("redis-server")
    if shutil.which("redis-server") is None:
        raise pytest.UsageError(
            "The tests need Redis: set REDIS_URL=redis://host:port/0, or install redis-server."
        )
    port = _free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _started.append(proc)
    _wait_for_port(port, "redis-server")
    return f"redis://127.0.0.1:{port}/0"


def _start_postgres() -> str:
    bindir = _postgres_bindir()
    if bindir is None:
        _apt_install("postgresql")
        bindir = _postgres_bindir()
    if bindir is None:
        raise pytest.UsageError(
            "The tests need PostgreSQL: set DATABASE_URL=postgres://user@host:port/db, "
            "or install PostgreSQL (Debian: apt-get install postgresql)."
        )
    datadir = Path(tempfile.mkdtemp(prefix="peersupport-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        # initdb refuses to run as root: run the cluster as the postgres system user.
        shutil.chown(datadir, user="postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = _free_port()
    proc = subprocess.Popen(
        [
            *run_as,
            str(bindir / "postgres"),
            "-D",
            str(datadir),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(datadir),
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _started.append(proc)
    _cleanups.append(("rmtree", datadir))
    _wait_for_port(port, "PostgreSQL")
    time.sleep(0.5)
    return f"postgres://postgres@127.0.0.1:{port}/postgres"


def _stop_all() -> None:
    for proc in reversed(_started):
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    for _, path in _cleanups:
        shutil.rmtree(path, ignore_errors=True)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: object, args: list[str]
) -> object:
    # Runs before pytest-django imports the settings.
    atexit.register(_stop_all)
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = _start_redis()
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = _start_postgres()
    # Each run gets its own key space in a shared Redis.
    os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"pstest{os.getpid()}")
    os.environ.setdefault("PEERSUPPORT_VAR_DIR", tempfile.mkdtemp(prefix="peersupport-var-"))
    return (yield)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"database: {os.environ.get('DATABASE_URL', '?')}",
        f"redis: {os.environ.get('REDIS_URL', '?')}",
    ]
