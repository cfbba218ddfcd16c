"""Shared by the real-browser tests: a `streamlit run` server on a free localhost port and Debian's chromium."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

from engine.paths import ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]


def require_browser() -> None:
    """Skip the calling test module without playwright or chromium; in CI (CI=1) fail instead."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing = True
    else:
        missing = not Path(CHROMIUM).exists()
    if missing:
        if os.environ.get("CI"):
            pytest.fail("browser tests need playwright and /usr/bin/chromium (apt-get install chromium)", pytrace=False)
        pytest.skip("playwright or chromium missing (CI installs them)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(env: dict | None = None, script: str = "streamlit_app.py"):
    """Yield (url, process) of a fresh server running `script` (relative to the repository); stop it afterwards.

    The server's output goes to a log file under test-artifacts/, never to a pipe nobody reads (a full pipe would
    block the server). A server that has not stopped 30 s after SIGTERM is killed with a warning: the tests check
    what visitors see, not how fast a loaded 2-core machine shuts a server down.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log_path = ARTIFACTS / f"streamlit-{port}.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        log.close()
        pytest.fail(f"streamlit did not start: {log_path.read_text()}")
    try:
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            warnings.warn(f"streamlit ignored SIGTERM for 30 s and was killed; its log: {log_path}", stacklevel=1)
        log.close()
