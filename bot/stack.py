"""Starts the bot's processes (Rasa, action server, api), waits until /healthz is 200, stops them.

`make run` uses it in the foreground; the end-to-end tests use the same class.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "jiangxin.tar.gz"


@dataclass
class Stack:
    """The three processes of the bot, started with the same commands as docker-compose."""

    port: int = 8000
    rasa_port: int = 5005
    actions_port: int = 5055
    env: dict[str, str] = field(default_factory=dict)
    with_api: bool = True
    log: Callable[[str], None] = print
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.actions_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def commands(self) -> dict[str, list[str]]:
        """name -> argv of each process."""
        app_python = sys.executable
        rasa = str(ROOT / ".venv-rasa" / "bin" / "rasa")
        cmds = {
            "rasa": [
                rasa,
                "run",
                "--enable-api",
                "-m",
                str(MODEL),
                "-i",
                "127.0.0.1",
                "-p",
                str(self.rasa_port),
                "--endpoints",
                "endpoints.yml",
                "--credentials",
                "credentials.yml",
            ],
            "actions": [
                app_python,
                "-m",
                "rasa_sdk",
                "--actions",
                "actions",
                "-p",
                str(self.actions_port),
            ],
        }
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
        return cmds

    def start(self, output: IO[str] | None = None) -> None:
        """Start every process; their output goes to `output` with a name prefix."""
        env = {
            **os.environ,
            **self.env,
            "PYTHONPATH": str(ROOT),
            "RASA_URL": self.rasa_url,
            "ACTION_SERVER_URL": self.actions_url,
            "PORT": str(self.port),
            "RASA_TELEMETRY_ENABLED": "false",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "PYTHONUNBUFFERED": "1",
        }
        for name, argv in self.commands().items():
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.processes[name] = proc
            threading.Thread(target=_pump, args=(name, proc, output), daemon=True).start()

    def wait_ready(self, timeout: float = 240) -> float:
        """Seconds until every part answers; raises if a process dies or time runs out."""
        started = time.monotonic()
        checks = {"rasa": f"{self.rasa_url}/status", "actions": f"{self.actions_url}/health"}
        if self.with_api:
            checks = {"api": f"{self.api_url}/healthz"}
        while time.monotonic() - started < timeout:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {proc.returncode}")
            if all(_ok(url) for url in checks.values()):
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


def _ok(url: str) -> bool:
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
