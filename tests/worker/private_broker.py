"""A broker of the test's own, on a free port under a temporary directory, that the test can crash
(SIGKILL) and start again without touching the shared brokers other tests and helpers use.

- `PrivateRedis`: `redis-server` without persistence, as the CI broker runs (`.ci/run`): a crash
  loses whatever it held, so the platform must not rely on the broker to keep a job.
- `PrivateRabbitMQ`: a `rabbitmq-server` node of its own (own node name, ports, data and log
  directories, no plugins); its durable queues and persistent messages survive the crash.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

START_TIMEOUT = 90  # seconds; a RabbitMQ node boots in about 10 s on two busy cores


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


class PrivateBroker:
    kind = ""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        raise NotImplementedError

    def command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def start(self) -> None:
        if self.alive():
            raise BrokerError(f"{self.kind} on {self.port} is already running")
        self.starts += 1
        cmd, env = self.command()
        log = (self.workdir / f"{self.kind}-{self.starts}.out").open("wb")
        with log:
            self.process = subprocess.Popen(  # noqa: S603 - a fixed server binary and our own arguments
                cmd, env=os.environ | env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ready():
            if self.process.poll() is not None:
                raise BrokerError(f"{self.kind} exited with {self.process.returncode}: {self.output()}")
            if time.monotonic() > deadline:
                self.crash()
                raise BrokerError(f"{self.kind} did not accept connections in {START_TIMEOUT} s: {self.output()}")
            time.sleep(0.1)

    def ready(self) -> bool:
        return _accepts(self.port)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def crash(self) -> None:
        """SIGKILL the server and everything it started (its own process group)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _accepts(self.port) and time.monotonic() < deadline:  # children closing their sockets
            time.sleep(0.1)

    def output(self) -> str:
        path = self.workdir / f"{self.kind}-{self.starts}.out"
        return path.read_text(encoding="utf-8", errors="replace")[-3000:] if path.exists() else ""


class PrivateRedis(PrivateBroker):
    kind = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self):
        binary = shutil.which("redis-server")
        if binary is None:
            raise BrokerError("redis-server is not installed")
        return [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log"),
        ], {}  # fmt: skip

    def ready(self) -> bool:
        if not _accepts(self.port):
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        return False


class PrivateRabbitMQ(PrivateBroker):
    kind = "rabbitmq"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.dist_port = free_port()
        self.node = f"crash{uuid.uuid4().hex[:8]}@localhost"
        (self.workdir / "rabbitmq.conf").write_text(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n", encoding="utf-8")
        (self.workdir / "enabled_plugins").write_text("[].\n", encoding="utf-8")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def command(self):
        # The server script itself: Debian's /usr/sbin wrapper would switch to the rabbitmq user,
        # who cannot write under the test's directory.
        binary = next(
            (p for p in ("/usr/lib/rabbitmq/bin/rabbitmq-server",) if os.access(p, os.X_OK)),
            shutil.which("rabbitmq-server"),
        )
        if binary is None:
            raise BrokerError("rabbitmq-server is not installed")
        return [binary], {
            "HOME": str(self.workdir),  # the Erlang cookie of this node
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
            "RABBITMQ_PID_FILE": str(self.workdir / "rabbitmq.pid"),
        }

    def ready(self) -> bool:
        if not _accepts(self.port):
            return False
        from kombu import Connection

        with contextlib.suppress(Exception), Connection(self.url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
            return True
        return False


def private_broker(kind: str, workdir: Path) -> PrivateBroker:
    return {"redis": PrivateRedis, "rabbitmq": PrivateRabbitMQ}[kind](workdir)
