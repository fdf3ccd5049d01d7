"""The packaging in deploy/: systemd units checked by systemd itself, the Containerfile linted.

No container builder runs on the CI machine (no daemon, no registry), so the
image recipe is linted with hadolint and read for what matters: a non-root
user, the data folder a volume, the health check on /healthz, SIGTERM to
stop, the flows and messages built into the package.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ("tnlbot.service", "tnlbot-backup.service", "tnlbot-backup.timer")


def directives(path: Path) -> dict[str, list[str]]:
    """A unit file as systemd reads it: KEY -> every value given, in order."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        if os.environ.get("TNLBOT_REQUIRE_DEPLOY_TOOLS") == "1":
            pytest.fail(f"{name} is required here (TNLBOT_REQUIRE_DEPLOY_TOOLS=1)")
        pytest.skip(f"{name} is not installed")
    return found


def test_the_service_unit_is_hardened_and_runs_the_bot():
    unit = directives(DEPLOY / "tnlbot.service")
    one = {k: v[-1] for k, v in unit.items()}
    assert one["User"] == "tnlbot" and one["StateDirectory"] == "tnlbot"
    for key, value in {"ProtectSystem": "strict", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
                       "ProtectHome": "yes", "PrivateDevices": "yes", "RestrictSUIDSGID": "yes",
                       "CapabilityBoundingSet": "", "UMask": "0077", "KillSignal": "SIGTERM",
                       "Restart": "on-failure"}.items():
        assert one.get(key) == value, key
    assert shlex.split(one["ExecStart"])[1:3] == ["run", "--transport"]
    assert "TNLBOT_HEALTH_LISTEN=127.0.0.1:9464" in unit["Environment"]
    assert any(v.startswith("TNLBOT_DATABASE_URL=sqlite:////var/lib/tnlbot/") for v in unit["Environment"])
    assert int(one["TimeoutStopSec"]) > 10, "systemd waits longer than the bot's 10 s drain"


def _installable(tmp_path: Path) -> Path:
    """The units with their programs pointed at ones that exist here."""
    program = tool("tnlbot")
    for name in UNITS:
        text = (DEPLOY / name).read_text().replace("/opt/tnlbot/bin/tnlbot", program)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_systemd_accepts_the_units(tmp_path):
    analyze = tool("systemd-analyze")
    folder = _installable(tmp_path)
    done = subprocess.run([analyze, "verify", *(str(folder / n) for n in UNITS)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    security = subprocess.run([analyze, "security", "--offline=true", str(folder / "tnlbot.service")],
                              capture_output=True, text=True, timeout=60)
    exposure = re.search(r"Overall exposure level for tnlbot.service: ([\d.]+)", security.stdout)
    assert exposure is not None, security.stdout[-2000:] + security.stderr
    assert float(exposure.group(1)) <= 2.0, security.stdout[-3000:]


def test_the_backup_timer_runs_the_backup_command():
    service = directives(DEPLOY / "tnlbot-backup.service")
    assert service["User"] == ["tnlbot"] and service["Type"] == ["oneshot"]
    assert " backup " in service["ExecStart"][0] and "/var/backups/tnlbot/" in service["ExecStart"][0]
    assert "/var/backups/tnlbot" in service["ReadWritePaths"]
    assert directives(DEPLOY / "tnlbot-backup.timer")["Persistent"] == ["true"]


def stages(path: Path) -> list[list[tuple[str, str]]]:
    """A Containerfile as (INSTRUCTION, arguments) per stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    result: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            result.append([])
        result[-1].append((word.upper(), rest.strip()))
    return result


def test_the_container_image_runs_unprivileged_with_its_data_in_a_volume():
    final = stages(DEPLOY / "Containerfile")[-1]
    def get(word: str) -> list:
        return [rest for w, rest in final if w == word]
    user = get("USER")[-1]
    assert user.split(":")[0] not in ("", "0", "root")
    assert get("VOLUME") == ['["/data"]']
    env = " ".join(get("ENV"))
    assert "TNLBOT_DATABASE_URL=sqlite:////data/tnlbot.db" in env
    assert get("STOPSIGNAL") == ["SIGTERM"]
    assert "/healthz" in get("HEALTHCHECK")[0]
    assert get("ENTRYPOINT") == ['["tnlbot"]']
    assert get("COPY") == ["--from=build /opt/tnlbot /opt/tnlbot"]
    build = stages(DEPLOY / "Containerfile")[0]
    copied = [rest.split()[:-1] for word, rest in build if word == "COPY"]
    sources = {source for sources in copied for source in sources}
    root = DEPLOY.parent
    assert all((root / source).exists() for source in sources), sources
    assert {"setup.py", "MANIFEST.in", "tnlbot", "flows", "locales"} <= sources, \
        "the wheel is built with the flows and messages inside it"
    assert any("tnlbot check-flows" in rest for word, rest in build if word == "RUN")


def test_hadolint_finds_nothing_to_say():
    done = subprocess.run([tool("hadolint"), "--no-color", str(DEPLOY / "Containerfile")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr
