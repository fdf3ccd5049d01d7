"""A real Synapse homeserver for the tests, on a free 127.0.0.1 port.

Synapse is AGPL: it runs as a separate process, never imported. The child
gets PR_SET_PDEATHSIG so it dies with the test runner, and `stop()` ends it
(SIGTERM, then SIGKILL) so no process is left behind.
"""
from __future__ import annotations

import ctypes
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1
_BIG = {"per_second": 10000, "burst_count": 100000}


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class User:
    user_id: str
    password: str
    device_id: str
    access_token: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


def config(port: int, data: Path, secret: str) -> dict:
    limits = {name: _BIG for name in ("rc_message", "rc_registration", "rc_room_creation",
                                      "rc_joins_per_room", "rc_media_create", "rc_profile")}
    return {
        "server_name": "localhost",
        "public_baseurl": f"http://127.0.0.1:{port}/",
        "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                       "resources": [{"names": ["client"], "compress": False}]}],
        "database": {"name": "sqlite3", "args": {"database": str(data / "homeserver.db")}},
        "media_store_path": str(data / "media_store"),
        "signing_key_path": str(data / "localhost.signing.key"),
        "log_config": str(data / "log.yaml"),
        "report_stats": False,
        "enable_registration": False,
        "registration_shared_secret": secret,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        "bcrypt_rounds": 4,
        "caches": {"sync_response_cache_duration": 0},
        "rc_joins": {"local": _BIG, "remote": _BIG},
        "rc_invites": {"per_room": _BIG, "per_user": _BIG, "per_issuer": _BIG},
        "rc_login": {"address": _BIG, "account": _BIG, "failed_attempts": _BIG},
        "rc_presence": {"per_user": _BIG},
        **limits,
    }


def _log_config(data: Path) -> str:
    return json.dumps({
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "formatter": "plain",
                              "filename": str(data / "homeserver.log")}},
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    })


def sweep_stale(folder: Path, prefix: str, min_age: float = 600.0) -> None:
    """Remove data folders of homeservers whose test run was killed: older than `min_age`
    seconds and named on no running process's command line."""
    import shutil
    alive = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            alive.add(cmdline.read_bytes())
        except OSError:
            continue
    for data in folder.glob(prefix + "*"):
        try:
            old = time.time() - data.stat().st_mtime > min_age
        except OSError:
            continue
        if old and not any(str(data).encode() in line for line in alive):
            shutil.rmtree(data, ignore_errors=True)


class Synapse:
    def __init__(self, data: Path):
        self.data = data
        self.secret = secrets.token_hex(16)
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, attempts: int = 3) -> "Synapse":
        for _ in range(attempts):
            self.port = free_port()
            if self._try_start():
                return self
        raise RuntimeError(f"Synapse did not start; see {self.data / 'homeserver.log'}")

    def _try_start(self, deadline: float = 180.0) -> bool:
        self.data.mkdir(parents=True, exist_ok=True)
        (self.data / "log.yaml").write_text(_log_config(self.data))
        path = self.data / "homeserver.yaml"
        path.write_text(json.dumps(config(self.port, self.data, self.secret)))
        out = open(self.data / "stdout.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(path)],
            cwd=self.data, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        out.close()
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/_matrix/client/versions", timeout=2):
                    return True
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
        self.stop()
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def register(self, localpart: str, password: str = "", admin: bool = False) -> User:
        """A new user through the shared-secret admin API (no /login needed)."""
        password = password or secrets.token_hex(8)
        nonce = self._call("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self.secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        answer = self._call("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": localpart, "password": password, "admin": admin,
            "mac": mac.hexdigest()})
        return User(answer["user_id"], password, answer["device_id"], answer["access_token"])

    def limit_messages(self, admin: User, user_id: str, per_second: float, burst: int) -> None:
        """Give one account a tight message rate limit (admin API), to provoke 429s."""
        request = urllib.request.Request(
            f"{self.url}/_synapse/admin/v1/users/{user_id}/override_ratelimit",
            data=json.dumps({"messages_per_second": per_second, "burst_count": burst}).encode(),
            method="POST", headers={"Content-Type": "application/json",
                                    "Authorization": f"Bearer {admin.access_token}"})
        with urllib.request.urlopen(request, timeout=30):
            pass


if __name__ == "__main__":  # a homeserver by hand: python -m tests.matrix.synapse DIR
    server = Synapse(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/synapse-probe")).start()
    print(server.url, os.getpid(), flush=True)
    try:
        signal.pause()
    finally:
        server.stop()
