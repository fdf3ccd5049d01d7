"""The `tnlbot` command in a terminal: piped stdin, one line per message, resume after a restart."""
import os
import subprocess
import sys

from sqlalchemy import create_engine, select, text

from tnlbot.store import tables as T


def run_tnlbot(tmp_path, lines, *args):
    env = {**os.environ, "TNLBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "USER": "agent"}
    return subprocess.run([sys.executable, "-m", "tnlbot", *args], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, env=env, timeout=120)


def test_piped_chat_saves_answers_and_resumes_at_the_same_question(tmp_path):
    first = run_tnlbot(tmp_path, ["Mairie de Testbourg", "1", "732829320"])
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "Bonjour" in out and "Quel est le nom de votre collectivité" in out
    assert out.index("De quel type de structure") < out.index("Quel est le numéro SIREN")
    assert out.rstrip().endswith("◀ Retour /retour · Passer ▶ /passer")
    assert "Dans quel département" in out

    second = run_tnlbot(tmp_path, ["/recap 1"])
    assert second.returncode == 0, second.stderr
    assert "Bon retour" in second.stdout and "brouillon" in second.stdout
    assert second.stdout.index("Dans quel département") < second.stdout.index("Récapitulatif")
    assert "3. Quel est le numéro SIREN de votre structure ? → 732829320" in second.stdout

    engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        keys = {k for (k,) in conn.execute(select(T.answers.c.key))}
    assert keys == {"nom_collectivite", "type_collectivite", "siren"}


def test_the_terminal_speaks_english_after_language_switch(tmp_path):
    result = run_tnlbot(tmp_path, ["/language en", "/help"])
    assert "I will speak English" in result.stdout and "Available commands" in result.stdout


def test_a_file_can_be_sent_from_the_terminal(tmp_path):
    document = tmp_path / "deliberation.pdf"
    document.write_bytes(b"%PDF-1.4 test")
    result = run_tnlbot(tmp_path, ["/aller 2", "oui", "/aller deliberation_votee", "oui", "10/12/2021",
                                   f"/fichier {document}"])
    assert result.returncode == 0, result.stderr
    assert "À quels enjeux" in result.stdout.split("Joignez la délibération")[-1]
