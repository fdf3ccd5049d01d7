"""The `tnlbot` command as a new user meets it: odd bytes, odd paths, Ctrl-C, blank lines,
pasted blocks. Each runs the real command in a subprocess."""
from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys

import pytest

from tnlbot.transports.console import messages


def _utf8_locale(tmp_path_factory) -> dict[str, str]:
    """Environment variables for a real French UTF-8 locale (Python then reads stdin as
    strict UTF-8, unlike the C locale); compiled into a folder of the test's own when the
    system does not have it."""
    listed = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
    for name in listed:
        if name.lower().replace("-", "") in ("fr_fr.utf8", "en_us.utf8", "en_gb.utf8"):
            return {"LC_ALL": name, "LANG": name}
    if shutil.which("localedef") is None:
        pytest.fail("no UTF-8 locale other than C.UTF-8, and no localedef to build one")
    folder = tmp_path_factory.mktemp("locales")
    subprocess.run(["localedef", "-i", "fr_FR", "-f", "UTF-8", str(folder / "fr_FR.UTF-8")],
                   check=True, capture_output=True)
    return {"LOCPATH": str(folder), "LC_ALL": "fr_FR.UTF-8", "LANG": "fr_FR.UTF-8"}


@pytest.fixture(scope="module")
def french_locale(tmp_path_factory):
    return _utf8_locale(tmp_path_factory)


def _env(tmp_path, extra=None) -> dict[str, str]:
    return {**os.environ, "TNLBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
            "USER": "agent", **(extra or {})}


def run(tmp_path, data: bytes, extra=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tnlbot"], input=data, capture_output=True,
                          env=_env(tmp_path, extra), timeout=120)


def test_a_latin1_byte_under_a_utf8_locale_is_refused_politely_and_the_chat_goes_on(tmp_path, french_locale):
    result = run(tmp_path, "Mairie de T\xe9stbourg\n".encode("latin-1") + "Mairie de Téstbourg\n".encode(),
                 french_locale)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
    assert "votre terminal n'envoie pas de l'UTF-8" in out
    assert "De quel type de structure" in out      # the retyped line answered the question


def test_a_file_path_too_long_for_the_system_is_refused_politely(tmp_path):
    long_path = "/tmp/" + "a" * 300 + "/deliberation.pdf"
    result = run(tmp_path, f"/fichier {long_path}\n/aide\n".encode())
    assert result.returncode == 0, result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
    out = result.stdout.decode()
    assert "Je n'attends pas de fichier pour cette question" in out
    assert "/fichier CHEMIN : envoyer un fichier" in out   # /aide in the terminal lists it


def test_a_blank_line_gets_an_answer(tmp_path):
    out = run(tmp_path, b"\n").stdout.decode()
    assert "Votre réponse est vide" in out


def test_a_pasted_block_is_one_message_not_one_answer_per_line(tmp_path):
    pasted = "\x1b[200~Mairie de\nTestbourg\n1\x1b[201~\n"
    out = run(tmp_path, pasted.encode() + b"Mairie de Testbourg\n").stdout.decode()
    assert "Cette question attend une réponse sur une seule ligne" in out
    # the lines of the paste answered nothing: the next question is asked once, after the retyped name
    assert out.count("De quel type de structure") == 1


def test_ctrl_c_at_the_prompt_stops_at_once_saying_everything_is_kept(tmp_path):
    bot = subprocess.Popen([sys.executable, "-m", "tnlbot"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(tmp_path))
    try:
        bot.stdin.write("Mairie de Testbourg\n".encode())
        bot.stdin.flush()
        seen = b""
        while b"De quel type de structure" not in seen:    # the answer was taken: at the prompt
            ready, _, _ = select.select([bot.stdout], [], [], 60)
            assert ready, seen.decode()
            chunk = os.read(bot.stdout.fileno(), 65536)
            assert chunk, seen.decode()
            seen += chunk
        bot.send_signal(signal.SIGINT)
        out, err = bot.communicate(timeout=30)   # stdin still open: no Enter is needed
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0, err.decode()
    assert "toutes vos réponses envoyées sont enregistrées" in out.decode()
    resumed = run(tmp_path, b"/recap 1\n").stdout.decode()
    assert "Mairie de Testbourg" in resumed


def test_pasted_lines_are_joined_and_typed_lines_stay_apart():
    typed = iter(["oui\n", "\x1b[200~Ligne un\r\n", "Ligne deux\x1b[201~\n", "non\n"])
    assert list(messages(typed)) == ["oui", "Ligne un\nLigne deux", "non"]


def test_in_a_real_terminal_odd_bytes_a_paste_and_ctrl_c_behave(tmp_path, french_locale):
    import pty
    import time

    pid, fd = pty.fork()
    if pid == 0:        # the child: tnlbot with the pseudo-terminal as its controlling terminal
        os.execve(sys.executable, [sys.executable, "-m", "tnlbot"], _env(tmp_path, french_locale))
    seen = b""

    def until(token: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60
        while token not in seen:
            assert time.monotonic() < deadline, seen.decode("utf-8", "replace")
            if select.select([fd], [], [], 1)[0]:
                seen += os.read(fd, 65536)

    try:
        until("› ".encode())
        os.write(fd, "Mairie de T\xe9st\r".encode("latin-1"))
        until("n'envoie pas de l'UTF-8".encode())
        os.write(fd, b"\x1b[200~Mairie de\rTestbourg\x1b[201~\r")
        until("une seule ligne".encode())
        os.write(fd, b"\x03")                          # Ctrl-C, as typed
        until("Relancez tnlbot".encode())
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert "\x1b[?2004h" in seen.decode("utf-8", "replace")     # bracketed paste was asked for
