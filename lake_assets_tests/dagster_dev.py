"""`dagster dev` (web server + daemon) as a real subprocess for end-to-end tests, started
directly or through `./dev up` exactly as the README starts it.

It runs in its own process group (a non-interactive `dagster dev` ignores SIGINT/SIGTERM) and
is killed by group when the test ends; its log is kept in test-artifacts/."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
LOCATION = "lake_assets.definitions"
SENSOR = "lake_upstream_latest"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dagster_home(tmp_path: Path) -> Path:
    """A fresh instance directory using the repository's dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(ROOT / "dagster.yaml")
    return home


@contextlib.contextmanager
def dagster_dev(env: dict[str, str], tmp_path: Path, name: str) -> Iterator[str]:
    """Start `dagster dev` with `env`, wait until the web server answers, yield its URL."""
    port = free_port()
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [dagster, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)]
    with _serving(command, env, port, tmp_path / f"{name}.log") as url:
        yield url


@contextlib.contextmanager
def dev_up(env: dict[str, str], tmp_path: Path, name: str) -> Iterator[str]:
    """`./dev up` itself (setup, seed, `dagster dev`), on the port it reads from `PORT`: the
    deployment the README describes, wherever `env` points DAGSTER_HOME and the lake."""
    port = free_port()
    log = tmp_path / f"{name}.log"
    with _serving(["./dev", "up"], {**env, "PORT": str(port)}, port, log) as url:
        started = log.read_text()
        assert "Traceback" not in started, f"./dev up printed an error:\n{started[-3000:]}"
        yield url


@contextlib.contextmanager
def _serving(command: list[str], env: dict[str, str], port: int, log_path: Path) -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 240
            while True:
                try:
                    urllib.request.urlopen(f"{url}/server_info", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"{command} did not start:\n" + log_path.read_text()[-3000:]
                        ) from None
                    time.sleep(1)
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            shutil.copy(log_path, ARTIFACTS / log_path.name)


@dataclass
class WebServer:
    """GraphQL against a running `dagster dev`: what tests and benchmarks ask of it."""

    url: str

    def graphql(self, query: str, **variables: object) -> dict:
        body = json.dumps({"query": query, "variables": variables}).encode()
        req = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            answer = json.loads(resp.read())
        if "errors" in answer:
            raise RuntimeError(answer["errors"])
        return answer["data"]

    def ticks(self, limit: int = 25) -> list[dict]:
        """The lake sensor's latest ticks, newest first; it must be running."""
        query = """query Ticks($selector: SensorSelector!, $limit: Int) {
            sensorOrError(sensorSelector: $selector) { __typename ... on Sensor {
              sensorState { status ticks(limit: $limit) { tickId status timestamp endTimestamp
                runIds skipReason error { message causes { message } }
                logEvents { events { message level } } } } } } }"""
        selector = {
            "repositoryName": "__repository__",
            "repositoryLocationName": LOCATION,
            "sensorName": SENSOR,
        }
        found = self.graphql(query, selector=selector, limit=limit)["sensorOrError"]
        if found["__typename"] != "Sensor" or found["sensorState"]["status"] != "RUNNING":
            raise RuntimeError(f"the sensor {SENSOR} is not running: {found}")
        return found["sensorState"]["ticks"]

    def tick_ended(self, after: float, timeout: float = 180) -> dict:
        """Wait for a tick that started after `after` (epoch seconds) to end; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = [t for t in self.ticks() if t["timestamp"] > after and t["status"] != "STARTED"]
            if ended:
                return min(ended, key=lambda t: t["timestamp"])
            time.sleep(0.25)
        raise RuntimeError(f"no tick of {SENSOR} started after {after} and ended")
