"""Shared pieces of the benchmarks: a database with the demo world, signed-in sessions,
real server processes on 127.0.0.1, and latency statistics.

Every loop here is bounded in count and time, and all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def bench_env(**extra: str) -> dict[str, str]:
    """The environment every bench process shares: DATABASE_URL and REDIS_URL when set,
    otherwise a fresh embedded database in a temporary folder."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CHAT_RATE_LIMIT": "0", **extra}
    if "DATABASE_URL" not in env:
        env.setdefault("PEERSUPPORT_VAR_DIR", tempfile.mkdtemp(prefix="peersupport-bench-"))
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True)


def prepare_world(env: dict[str, str], crowd: int) -> None:
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo", "--password", "bench-only-password", "--crowd", str(crowd))


def sessions_for(env: dict[str, str], usernames: Sequence[str]) -> dict[str, str]:
    """Session cookies made directly in the database (logging in over HTTP hashes a
    password per user, which would dominate a bench's set-up)."""
    os.environ.update(
        {k: v for k, v in env.items() if k in ("DATABASE_URL", "REDIS_URL", "PEERSUPPORT_VAR_DIR")}
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from rooms.models import User

    cookies = {}
    for user in User.objects.filter(username__in=list(usernames)):
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        cookies[user.username] = f"sessionid={store.session_key}"
    from django.db import connections

    connections.close_all()
    return cookies


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


@contextmanager
def server(env: dict[str, str], kind: str = "daphne") -> Iterator[Server]:
    """A real server process on a free port of 127.0.0.1; stopped on exit."""
    port = free_port()
    if kind == "raw":
        cmd = [sys.executable, str(REPO / "bench" / "raw_server.py"), str(port)]
    elif kind == "daphne":
        cmd = [
            sys.executable,
            "-m",
            "config.serve",  # the Procfile's web process: daphne, size limits set
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ]
    elif kind == "uvicorn":
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "config.asgi:application",
        ]
    else:
        raise ValueError(kind)
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} did not start") from None
                time.sleep(0.1)
        yield Server(port=port, proc=proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: Sequence[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"n={len(ms)} p50={percentile(ms, 50):.1f} ms p99={percentile(ms, 99):.1f} ms "
        f"max={max(ms):.1f} ms mean={statistics.fmean(ms):.1f} ms"
    )
