"""`submeter demo` and `submeter serve` as a user runs them: real processes, real sockets."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

SUBMETER = str(Path(sys.executable).with_name("submeter"))


def answer_ctrl_c() -> None:
    """In the child: Ctrl-C back to its default even when the test run itself was started in
    the background by a shell (which ignores SIGINT, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> bytes:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.read()
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def console_dashboard(base_url: str, username: str, password: str) -> str:
    """Log into the console as a browser would (no Accept-Language) and return the dashboard."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{base_url}/console/login/", timeout=10) as answer:
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', answer.read().decode())
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": csrf.group(1),
            "username": username,
            "password": password,
            "next": "/console/",
        }
    ).encode()
    with opener.open(f"{base_url}/console/login/", data=form, timeout=30) as answer:
        return answer.read().decode()


def run_demo(data: Path, port: int) -> tuple[str, str]:
    """Start `submeter demo`, log into its console, stop it with Ctrl-C: output and dashboard."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process = subprocess.Popen(
        [SUBMETER, "demo", "--data", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=answer_ctrl_c,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for(f"{base_url}/console/login/", process)
        username, password = (data / "demo-login.txt").read_text().split()
        dashboard = console_dashboard(base_url, username, password)
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output, dashboard


def shown_figure(page: str, key: str) -> int:
    found = re.search(rf'data-figure="{key}".*?data-value>\s*(\d+)\s*<', page, re.DOTALL)
    assert found, f"no {key} figure on the page"
    return int(found.group(1))


def test_demo_serves_the_console_stops_on_ctrl_c_and_reuses_its_data(tmp_path):
    first_output, dashboard = run_demo(tmp_path, free_port())
    second_output, _ = run_demo(tmp_path, free_port())

    assert (tmp_path / "submeter.sqlite3").exists()
    password_line = next(line for line in first_output.splitlines() if "admin /" in line)
    assert password_line in second_output
    assert "Stopped." in second_output
    assert '<html lang="zh-hans"' in dashboard
    assert shown_figure(dashboard, "rooms") == 300


def test_serve_answers_on_the_chosen_port(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "SUBMETER_DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    subprocess.run([SUBMETER, "migrate"], env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        [SUBMETER, "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        preexec_fn=answer_ctrl_c,
    )
    try:
        schema = wait_for(f"http://127.0.0.1:{port}/api/schema/", process)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert b"openapi" in schema
