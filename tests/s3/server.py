"""moto's S3 server on 127.0.0.1 and the environment every client runs in.

Nothing here may reach anything but 127.0.0.1: credentials are dummies given
through the environment, every client gets the endpoint explicitly, the
instance metadata service is disabled, proxies are switched off and each
client's configuration lives in a private directory.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
_PR_SET_PDEATHSIG = 1

# Variables from the caller's environment that could send a client elsewhere
# or change its behaviour; they are removed from every client's environment.
_SCRUBBED_PREFIXES = ("AWS_", "RCLONE_", "S3CMD")
_SCRUBBED_NAMES = {
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "BOTO_CONFIG",
}


def _die_with_parent() -> None:
    """In the child: ask Linux to kill the server when the harness dies, even by
    SIGKILL, so that a server is never left behind. (SIGKILL: moto answers SIGTERM
    only once its in-flight requests end, and it has nothing to save.)"""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    except (OSError, AttributeError):
        pass  # not Linux: stop() and the signal handlers still apply


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class MotoServer:
    """`moto_server` in its own process group, stopped by `stop()` whatever happened."""

    def __init__(self, executable: Path, log_path: Path):
        self.executable = executable
        self.log_path = log_path
        self.port: int | None = None
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, attempts: int = 3, timeout: float = 30.0) -> None:
        """Start the server on a free port and wait until it answers."""
        last_error = ""
        for _ in range(attempts):
            self.port = free_port()
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [str(self.executable), "-H", HOST, "-p", str(self.port)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=client_environment(Path(self.log_path).parent),
                    start_new_session=True,
                    preexec_fn=_die_with_parent,
                )
            last_error = self._wait_until_ready(timeout)
            if not last_error:
                return
            self.stop()
        raise RuntimeError(f"moto_server did not start: {last_error}; "
                           f"log: {self.log_path}\n{self.log_tail()}")

    def _wait_until_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        error = "no answer"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return f"exited with status {self._process.returncode}"
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):
                    return ""
            except urllib.error.HTTPError:
                return ""  # It answered, which is all that is asked here.
            except OSError as e:
                error = str(e)
            time.sleep(0.2)
        return f"no answer within {timeout:.0f} s ({error})"

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Stop the server and everything it started; safe to call more than once."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def client_environment(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a client process: dummy credentials, no proxies, a private HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED_NAMES
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra or {})
    return env


def isolate_this_process(home: Path) -> None:
    """Give this process (boto3 in-process) the same isolated environment as the clients."""
    env = client_environment(home)
    for key in list(os.environ):
        if key not in env:
            del os.environ[key]
    os.environ.update(env)


def forwarding_proxy(upstream: str, before=None):
    """A proxy on 127.0.0.1 that forwards each HEAD and GET request to `upstream`, after calling
    `before(method, path)` (a delay, a concurrent writer's move); served from a thread of its own.
    Its address is `server_address`; `shutdown()` then `server_close()` end it."""
    import http.server
    import threading

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_HEAD(self) -> None:
            self.forward()

        def do_GET(self) -> None:
            self.forward()

        def forward(self) -> None:
            if before is not None:
                before(self.command, self.path)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            try:
                r = urllib.request.urlopen(urllib.request.Request(upstream + self.path, method=self.command,
                                                                  headers=headers))
            except urllib.error.HTTPError as e:
                r = e
            body = r.read()
            self.send_response(r.status if hasattr(r, "status") else r.code)
            for k, v in r.headers.items():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            head = self.command == "HEAD"
            self.send_header("Content-Length", r.headers.get("Content-Length", str(len(body))) if head else str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
