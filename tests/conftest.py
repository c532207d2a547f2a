"""Shared fixtures: people and rooms, signed-in sockets, real daphne processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client

from rooms.models import MemberRole, Role, Room, RoomKind, User
from rooms.services import agreement_accept, membership_add

REPO = Path(__file__).resolve().parent.parent

# Consumers run queries in asgiref's worker thread, whose persistent connection would
# outlive a test and block the test database's teardown: close after every call instead.
connections["default"].settings_dict["CONN_MAX_AGE"] = 0
# Password hashing is slow by design; tests create many users.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ORIGIN = "http://127.0.0.1"


@dataclass
class World:
    """The demo-like world most tests need."""

    alex: User
    sam: User
    jordan: User
    fran: User
    morgan: User
    casey: User
    outsider: User
    circle: Room
    mentoring: Room


def make_user(username: str, role: Role = Role.PARTICIPANT) -> User:
    return User.objects.create_user(
        username=username, password="pw-for-tests-only", display_name=username.title(), role=role
    )


def join(user: User, room: Room, role: MemberRole = MemberRole.PARTICIPANT) -> None:
    agreement_accept(membership=membership_add(user=user, room=room, role=role))


@pytest.fixture
def world(db: None) -> World:
    people = {
        "alex": make_user("alex"),
        "sam": make_user("sam"),
        "jordan": make_user("jordan"),
        "fran": make_user("fran", Role.FACILITATOR),
        "morgan": make_user("morgan", Role.MENTOR),
        "casey": make_user("casey", Role.ONCALL),
        "outsider": make_user("outsider"),
    }
    circle = Room.objects.create(slug="evening-circle", title="Evening circle", kind=RoomKind.GROUP)
    mentoring = Room.objects.create(
        slug="alex-morgan", title="Alex and Morgan", kind=RoomKind.MENTORING
    )
    join(people["fran"], circle, MemberRole.FACILITATOR)
    for name in ("alex", "sam", "jordan"):
        join(people[name], circle)
    join(people["morgan"], mentoring, MemberRole.MENTOR)
    join(people["alex"], mentoring)
    return World(**people, circle=circle, mentoring=mentoring)


def at_once(work: Callable[[int], None], count: int, *, timeout: float = 120) -> None:
    """Run ``work(0)`` .. ``work(count - 1)`` in threads released together by a barrier,
    each on its own database connection (closed when it ends), as separate processes would;
    re-raise the first thing any of them raised."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as exc:  # surfaced below, in the test's own thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if errors:
        raise errors[0]


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


@pytest.fixture
def cookies(world: World) -> dict[str, str]:
    """A session cookie header value per user name."""
    return {
        name: session_cookie(getattr(world, name))
        for name in ("alex", "sam", "jordan", "fran", "morgan", "casey", "outsider")
    }


def database_url() -> str:
    """The URL of the database the tests are using now (the test database)."""
    s = connection.settings_dict
    if s["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("server-process tests need PostgreSQL (set DATABASE_URL)")
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


@dataclass
class ServerProcess:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def server_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1", **extra}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _server_processes() -> tuple[
    list[ServerProcess], Callable[[list[str], dict[str, str]], ServerProcess]
]:
    """Start server processes on free ports against the test database and Redis; the list
    is what to stop at the end (SIGTERM, then SIGKILL)."""
    started: list[ServerProcess] = []

    def start(name: str, argv: list[str], env: dict[str, str]) -> ServerProcess:
        port = free_port()
        log = open(Path(tempfile.gettempdir()) / f"peersupport-{name}-{port}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", *[a.replace("{port}", str(port)) for a in argv]],
            cwd=REPO,
            env=server_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = ServerProcess(port=port, proc=proc)
        started.append(server)
        wait_for_port(port, proc)
        return server

    return started, start


def _stop(started: list[ServerProcess]) -> None:
    for server in started:
        if server.proc.poll() is None:
            server.proc.send_signal(signal.SIGTERM)
            try:
                server.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.proc.kill()


@pytest.fixture
def start_daphne(transactional_db: None) -> Iterator[Callable[..., ServerProcess]]:
    """Start real daphne processes (the Procfile's web process: ``config.serve``, daphne
    with its size limits set) on free ports against the test database and Redis."""
    started, start = _server_processes()

    def daphne(*daphne_args: str, **env: str) -> ServerProcess:
        argv = ["config.serve", "-b", "127.0.0.1", "-p", "{port}", *daphne_args]
        return start("daphne", [*argv, "config.asgi:application"], env)

    yield daphne
    _stop(started)


@pytest.fixture
def start_worker(transactional_db: None) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start the Procfile's worker (escalation ladder and second look), ticking every 0.2 s,
    against the test database and Redis; ``env`` adds settings. Killed at the end."""
    workers: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "escalation_worker", "--interval", "0.2"],
            cwd=REPO,
            env=server_env(OPENBLAS_NUM_THREADS="1", **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers.append(proc)
        return proc

    yield start
    for proc in workers:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def start_uvicorn(transactional_db: None) -> Iterator[Callable[..., ServerProcess]]:
    """The same app under uvicorn, the drop-in alternative ASGI server."""
    started, start = _server_processes()

    def uvicorn(**env: str) -> ServerProcess:
        argv = ["uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning"]
        return start("uvicorn", [*argv, "config.asgi:application"], env)

    yield uvicorn
    _stop(started)


@pytest.fixture(scope="session", autouse=True)
def _no_stray_connections_at_the_end(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[None]:
    """Worker threads of finished event loops may still hold a connection to the test
    database; end them so that it can be dropped."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
