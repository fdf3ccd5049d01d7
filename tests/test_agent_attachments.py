"""Attachments sent from the terminal are files, not paths: read, typed from their content,
stored content-addressed in the database; links and special files refused with a reason."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from sqlalchemy import create_engine, select

from tnlbot.store import tables as T
from tnlbot.store.attachments import attachments, sniff

TO_THE_FILE_QUESTION = ["/aller 2", "oui", "/aller deliberation_votee", "oui", "10/12/2021"]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def run_tnlbot(tmp_path, lines):
    env = {**os.environ, "TNLBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "USER": "agent"}
    result = subprocess.run([sys.executable, "-m", "tnlbot"], input="\n".join(lines) + "\n",
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def stored(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    with engine.connect() as conn:
        answers = {k: json.loads(v) for k, v in conn.execute(select(T.answers.c.key, T.answers.c.value))}
        files = {r.sha256: r for r in conn.execute(select(attachments))}
    engine.dispose()
    return answers, files


def test_links_special_files_and_missing_paths_are_refused_with_a_reason(tmp_path):
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(PDF)
    link = tmp_path / "lien.pdf"
    link.symlink_to(secret)
    fifo = tmp_path / "tube.pdf"
    os.mkfifo(fifo)
    out = run_tnlbot(tmp_path, TO_THE_FILE_QUESTION + [
        f"/fichier {link}", f"/fichier {fifo}", f"/fichier {tmp_path}", f"/fichier {tmp_path / 'absent.pdf'}"])
    assert "Ce chemin est un lien symbolique" in out
    assert out.count("n'est pas un fichier ordinaire") == 2          # the FIFO and the folder
    assert "Je ne trouve pas ce fichier" in out
    assert "Ce fichier est vide" not in out
    answers, files = stored(tmp_path)
    assert "deliberation" not in answers and files == {}


def test_a_text_file_named_odt_is_refused_and_a_real_pdf_is_kept_in_the_database(tmp_path):
    fake = tmp_path / "deliberation.odt"
    fake.write_text("Délibération du conseil municipal (texte brut)", encoding="utf-8")
    real = tmp_path / "deliberation.pdf"
    real.write_bytes(PDF)
    out = run_tnlbot(tmp_path, TO_THE_FILE_QUESTION + [f"/fichier {fake}", f"/fichier {real}"])
    assert "Le contenu de ce fichier ne correspond pas à son extension" in out
    assert "Fichier « deliberation.pdf » reçu et enregistré" in out
    real.unlink()                                   # the file on disk may go: the answer holds it
    answers, files = stored(tmp_path)
    digest = hashlib.sha256(PDF).hexdigest()
    assert answers["deliberation"] == {"name": "deliberation.pdf", "mime": "application/pdf",
                                       "size": len(PDF), "ref": f"sha256:{digest}"}
    assert bytes(files[digest].content) == PDF and files[digest].kind == "pdf"
    assert set(files) == {digest}            # the refused text was never stored: checked first


def test_the_type_is_read_from_the_content_not_the_name():
    assert sniff(PDF).kind == "pdf"
    assert sniff("du texte".encode()).kind == "txt"
    assert sniff(b"\x00\x01\x02binary").kind == ""


def test_the_jurys_dossiers_hold_the_attached_file_itself(flows, catalog):
    import io
    import zipfile

    from tnlbot.jury.rules import Entry, Meta, Snapshot
    from tnlbot.jury.exports import dossiers_zip

    ref = "sha256:" + hashlib.sha256(PDF).hexdigest()
    answers = {"nom_collectivite": "Testbourg", "deliberation": {
        "name": "délibération 2021.pdf", "mime": "application/pdf", "size": len(PDF), "ref": ref}}
    entry = Entry(candidature=7, status="submitted", sha256="", intact=True,
                  snapshot=Snapshot(candidature=7, version=1, flow="tnl-2022", flow_version=1, answers=answers))
    meta = Meta("tnl-2022-test", 2022, "2026-12-03T02:00:00Z", "fr")
    archive = zipfile.ZipFile(io.BytesIO(dossiers_zip(flows["tnl-2022"], [entry], meta, catalog, {ref: PDF})))
    pieces = [n for n in archive.namelist() if "-pieces/" in n]
    assert pieces == ["dossier-007-testbourg-pieces/deliberation-deliberation-2021.pdf"]
    assert archive.read(pieces[0]) == PDF
