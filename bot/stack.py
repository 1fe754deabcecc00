"""Starts the bot's processes (Rasa, action server, api), waits until /healthz is 200, stops them.

`make run` uses it in the foreground; the end-to-end tests use the same class.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "jiangxin.tar.gz"


def free_port() -> int:
    """A TCP port nothing listens on now (for stacks beside someone else's)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sandbox_app() -> FastAPI:
    """The WeChat API sandbox as a process of its own (`uvicorn bot.stack:sandbox_app
    --factory`): one WeChat for several api workers, as in production."""
    from bot.sandbox import create_sandbox
    from crm.config import Settings

    return create_sandbox(Settings())


@dataclass
class Stack:
    """The bot's processes, started with the same commands as docker-compose.

    Parts: Rasa and the action server (`with_rasa`; `more_rasa_ports` adds Rasa replicas, which
    share conversations through the tracker store of `endpoints`), the api (`with_api`, with
    `api_workers` uvicorn workers), and the WeChat API sandbox as its own process
    (`with_sandbox`); with `sandbox_port` the api sends to that sandbox instead of its own.
    """

    port: int = 8000
    rasa_port: int = 5005
    actions_port: int = 5055
    env: dict[str, str] = field(default_factory=dict)
    with_api: bool = True
    log: Callable[[str], None] = print
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    with_rasa: bool = True
    more_rasa_ports: tuple[int, ...] = ()
    endpoints: str = "endpoints.yml"
    api_workers: int = 1
    with_sandbox: bool = False
    sandbox_port: int | None = None
    _metrics_dir: str | None = field(default=None, init=False)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def rasa_urls(self) -> list[str]:
        """Every Rasa server, the first being `rasa_url`."""
        return [f"http://127.0.0.1:{p}" for p in (self.rasa_port, *self.more_rasa_ports)]

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sandbox_url(self) -> str | None:
        return f"http://127.0.0.1:{self.sandbox_port}" if self.sandbox_port else None

    def commands(self) -> dict[str, list[str]]:
        """name -> argv of each process."""
        app_python = sys.executable
        # `rasa run` with a fix to its hot path (rasa_server/speedups.py).
        rasa = (str(ROOT / ".venv-rasa" / "bin" / "python"), "-m", "rasa_server")
        cmds: dict[str, list[str]] = {}
        if self.with_rasa:
            for index, port in enumerate((self.rasa_port, *self.more_rasa_ports)):
                cmds["rasa" if index == 0 else f"rasa{index + 1}"] = [
                    *rasa,
                    "run",
                    "--enable-api",
                    "-m",
                    str(MODEL),
                    "-i",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "--endpoints",
                    self.endpoints,
                    "--credentials",
                    "credentials.yml",
                ]
            cmds["actions"] = [
                app_python,
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "-p",
                str(self.actions_port),
            ]
        if self.with_sandbox and self.sandbox_port:
            cmds["sandbox"] = [
                *(app_python, "-m", "uvicorn", "bot.stack:sandbox_app", "--factory"),
                *("--host", "127.0.0.1", "--port", str(self.sandbox_port)),
                # Keeps the api's connections open between calls, as WeChat's servers do (5 s
                # by default: under load the api then opened new ones all the time).
                *("--log-level", "warning", "--timeout-keep-alive", "75"),
            ]
        if self.with_api:
            cmds["api"] = [
                app_python,
                "-m",
                "uvicorn",
                "api.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ]
            if self.api_workers > 1:
                cmds["api"] += ["--workers", str(self.api_workers)]
        return cmds

    def start(self, output: IO[str] | None = None) -> None:
        """Start every process; their output goes to `output` with a name prefix (None: nowhere,
        without a thread reading it)."""
        (ROOT / "var").mkdir(exist_ok=True)  # Rasa's tracker store (endpoints.yml) lives there
        env = {
            **os.environ,
            **self.env,
            "PYTHONPATH": str(ROOT),
            "RASA_URL": ",".join(self.rasa_urls),
            "ACTION_SERVER_URL": self.actions_url,
            "PORT": str(self.port),
            "RASA_TELEMETRY_ENABLED": "false",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "PYTHONUNBUFFERED": "1",
        }
        if self.sandbox_url:
            env["WECHAT_API_BASE"] = self.sandbox_url
        if self.with_api and self.api_workers > 1:
            # Workers add up their metrics through files in one fresh directory.
            self._metrics_dir = tempfile.mkdtemp(prefix="jiangxin-metrics-")
            env["PROMETHEUS_MULTIPROC_DIR"] = self._metrics_dir
        for name, argv in self.commands().items():
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL if output is None else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.processes[name] = proc
            if output is not None:
                threading.Thread(target=_pump, args=(name, proc, output), daemon=True).start()

    def wait_ready(self, timeout: float = 240) -> float:
        """Seconds until every part answers; raises if a process dies or time runs out."""
        started = time.monotonic()
        checks: dict[str, str] = {}
        if self.with_rasa:
            checks = {f"rasa {url}": f"{url}/status" for url in self.rasa_urls}
            checks["actions"] = f"{self.actions_url}/health"
        if self.with_sandbox and self.sandbox_url:
            checks["sandbox"] = f"{self.sandbox_url}/stats"
        if self.with_api:  # its /healthz checks the database, Rasa and the action server
            checks = {"api": f"{self.api_url}/healthz"}
        while time.monotonic() - started < timeout:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {proc.returncode}")
            if all(http_ok(url) for url in checks.values()):
                return time.monotonic() - started
            time.sleep(0.5)
        raise TimeoutError(f"not ready after {timeout:.0f} s: {checks}")

    def stop(self) -> None:
        """Terminate every process group, then kill what is left."""
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._metrics_dir:
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
            self._metrics_dir = None


def http_ok(url: str) -> bool:
    """The URL answers 200 (a process is up and ready)."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _pump(name: str, proc: subprocess.Popen[bytes], output: IO[str] | None) -> None:
    assert proc.stdout is not None
    for raw in proc.stdout:
        if output is not None:
            output.write(f"{name:>7} | {raw.decode(errors='replace')}")
            output.flush()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """`make run`: start everything in the foreground until Ctrl-C or a process exits."""
    if not MODEL.exists():
        print("run: no trained model; run `make train` first", file=sys.stderr)
        return 1
    # A process manager's SIGTERM (or a closed terminal's SIGHUP) stops the children too.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    stack = Stack(port=int(os.environ.get("PORT", "8000")))
    print("run: starting rasa, actions and api (Rasa needs about a minute to load) ...", flush=True)
    stack.start(sys.stdout)
    try:
        seconds = stack.wait_ready()
        print(
            f"\nrun: ready in {seconds:.0f} s\n"
            f"  WeChat OA callback   {stack.api_url}/wechat/oa\n"
            f"  mini-program push    {stack.api_url}/wechat/mp\n"
            f"  health               {stack.api_url}/healthz\n"
            f"  API docs             {stack.api_url}/docs\n"
            f"  back office          {stack.api_url}/backoffice   (demo: super1 / jiangxin-demo)\n"
            f"  WeChat API sandbox   {stack.api_url}/sandbox/messages\n"
            f"  Rasa                 {stack.rasa_url}\n"
            f"  chat as a customer:  make chat   (in another terminal)\n",
            flush=True,
        )
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(0.5)
        dead = [n for n, p in stack.processes.items() if p.poll() is not None]
        print(f"run: {', '.join(dead)} stopped; shutting down", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nrun: stopping ...", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
