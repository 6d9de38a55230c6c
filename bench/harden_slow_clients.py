"""Issue #15 finding 8: stalled uploads against gunicorn directly and behind nginx.

Starts gunicorn (3 sync workers, as in the Dockerfile) on PORT_GUNICORN and Debian's
nginx with deploy/nginx/nginx.conf (only the upstream address, the listen port and the
file paths changed) on PORT_NGINX. Each round, interleaved: 20 connections send POST
headers announcing a 100 kB body, a few bytes of it, and stall; then one normal GET /
is timed, directly and through nginx; then the stalled connections are closed.

Run from the project root with the project's database and Redis in the environment:
    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/harden_slow_clients.py
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORT_NGINX = int(os.environ.get("BENCH_NGINX_PORT", "8300"))
PORT_GUNICORN = int(os.environ.get("BENCH_GUNICORN_PORT", "8301"))
STALLED = 20
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
GET_TIMEOUT = 40.0  # gunicorn's worker timeout is 30 s


def django_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": os.environ.get(
            "SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuv"
        ),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SUBSCRIPTIONS_TRUSTED_PROXY_COUNT": "1",
        "LOG_LEVEL": "WARNING",
    }


def start_gunicorn(root: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=root,
        env=env,
        check=True,
    )
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    process = subprocess.Popen(
        [gunicorn, "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "3"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process


def start_nginx(workdir: Path) -> subprocess.Popen[bytes]:
    conf = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    conf = conf.replace("server web:8000;", f"server 127.0.0.1:{PORT_GUNICORN};")
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{PORT_NGINX};")
    (workdir / "logs").mkdir(exist_ok=True)
    header = f"pid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\n"
    conf = conf.replace(
        "http {\n",
        f"http {{\n    access_log off;\n    client_body_temp_path {workdir}/body;\n    proxy_temp_path {workdir}/proxy;\n",
        1,
    )
    path = workdir / "nginx.conf"
    path.write_text(header + conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen([nginx, "-p", str(workdir), "-c", str(path), "-g", "daemon off;"])
    wait_for_port(PORT_NGINX)
    return process


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port}")


def stall(port: int, n: int) -> list[socket.socket]:
    sockets = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(
            b"POST /manage/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 100000\r\n\r\nemail=a"
        )
        sockets.append(s)
    return sockets


def timed_get(port: int) -> float:
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=GET_TIMEOUT)
        conn.request("GET", "/", headers={"Host": "127.0.0.1"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
    except TimeoutError:
        return GET_TIMEOUT
    finally:
        conn.close()
    return time.perf_counter() - started


def main() -> None:
    env = django_env()
    workdir = Path(tempfile.mkdtemp(prefix="harden-nginx-"))
    gunicorn = start_gunicorn(ROOT, PORT_GUNICORN, env)
    nginx = start_nginx(workdir)
    results: dict[str, list[float]] = {
        "gunicorn, idle": [],
        "nginx, idle": [],
        "gunicorn, 20 stalled": [],
        "nginx, 20 stalled": [],
    }
    try:
        for port in (PORT_GUNICORN, PORT_NGINX):
            timed_get(port)  # warm up
        for _ in range(ROUNDS):
            for name, port in (("gunicorn", PORT_GUNICORN), ("nginx", PORT_NGINX)):
                results[f"{name}, idle"].append(timed_get(port))
                stalled = stall(port, STALLED)
                time.sleep(0.5)
                results[f"{name}, 20 stalled"].append(timed_get(port))
                for s in stalled:
                    s.close()
                time.sleep(1.0)
    finally:
        nginx.terminate()
        gunicorn.terminate()
        nginx.wait(10)
        gunicorn.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"load average: {os.getloadavg()}")
    for name, values in results.items():
        shown = ", ".join(f"{v * 1000:.0f}" for v in values)
        print(f"{name:24s} median {statistics.median(values) * 1000:8.1f} ms   ({shown} ms)")


if __name__ == "__main__":
    main()
