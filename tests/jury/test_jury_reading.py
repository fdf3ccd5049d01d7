"""The jury reads the sample campaign in chat; everyone else is refused politely.

The sample campaign (2022 flow, 3 candidatures submitted through the bot) is
shared: these tests only read it.
"""
from __future__ import annotations

import base64
import csv
import io

from sqlalchemy import func, select

from tnlbot.core.events import OutKind
from tnlbot.jury.exports import closing_attachments
from tnlbot.store import tables as T

from ..harness import Chat
from .conftest import seat


def conversations(sample) -> int:
    with sample.store.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(T.conversations)).scalar())


def documents(reply) -> dict[str, bytes]:
    return {i.filename: base64.b64decode(i.data) for i in reply.items if i.kind is OutKind.DOCUMENT}


def juror(sample, name: str = "juge", **chat) -> Chat:
    seat(sample, name)
    return Chat(sample.app, name, **chat)


def test_a_jury_member_lists_the_candidatures_with_status_and_completeness(sample):
    before = conversations(sample)
    reply = juror(sample).say("/jury liste")
    assert len(reply.messages) == 1
    ids = sample.ids
    assert "Candidatures de la campagne tnl-2022-test (3) :" in reply
    assert f"N°{ids['syndicat']} · Syndicat mixte du Numérique Libre — déposée, version 1 — 70/70 réponses" in reply
    assert f"N°{ids['commune']} · Commune de Testbourg — déposée, version 1" in reply
    assert conversations(sample) == before       # the jury's commands start no candidature


def test_a_jury_member_reads_a_candidature_volet_by_volet(sample):
    juge = juror(sample)
    number = sample.ids["syndicat"]
    reply = juge.say(f"/jury voir {number}")
    assert f"Candidature n°{number} : Syndicat mixte du Numérique Libre" in reply
    assert "Version 1, déposée le 12 juin 2024, 10:00" in reply
    assert "3. Bonnes pratiques numériques : non concerné" in reply
    assert len(reply.messages[0].actions) == 6
    volet = juge.say(f"/jury voir {number} 2")
    assert "volet 2 : Stratégie et mutualisation" in volet
    assert "• structure 1 · Quel est le nom de cette structure ? : '@SUM(A1) Adullact" not in volet.text
    assert "• structure 1 · Quel est le nom de cette structure ? : @SUM(A1) Adullact" in volet
    assert "• structure 2 · Précisez votre rôle : +Membre observateur" in volet
    assert "• Joignez la délibération. : deliberation.pdf (120 ko)" in volet
    assert "Indiquez un volet par son numéro, entre 1 et 6" in juge.say(f"/jury voir {number} 9")
    assert "• Concernée par le volet « Bonnes pratiques numériques » ? : Non" in juge.say(
        f"/jury voir {number} bonnes_pratiques")


def test_a_jury_member_gets_the_dossier_and_the_exports_as_files(sample):
    juge = juror(sample)
    number = sample.ids["commune"]
    files = documents(juge.say(f"/jury dossier {number}"))
    name = f"dossier-{number:03d}-commune-de-testbourg"
    assert sorted(files) == [name + ".html", name + ".odt"]
    assert "<h1>Commune de Testbourg</h1>" in files[name + ".html"].decode("utf-8")
    files = documents(juge.say("/jury export csv"))
    data = files["candidatures-tnl-2022-test.csv"]
    with sample.store.begin() as conn:                # one dialect: the closing notice's, the command line's
        [closing_csv] = [d for n, _, d in closing_attachments(conn, sample.campaign_id, sample.app.flows,
                                                              sample.app.catalog) if n.endswith(".csv")]
    assert data == closing_csv and data.startswith("\ufeffcandidature;".encode("utf-8"))
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 3
    assert sorted(documents(juge.say("/jury export tout"))) == [
        "candidature.schema.json", "candidatures-tnl-2022-test.csv", "candidatures-tnl-2022-test.json",
        "candidatures-tnl-2022-test.ods", "dossiers-tnl-2022-test.zip"]
    assert "Précisez le format" in juge.say("/jury export")


def test_jury_commands_are_refused_to_someone_not_on_the_jury(sample):
    before = conversations(sample)
    zoe = Chat(sample.app, "zoe")
    for command in ("/jury", "/jury liste", f"/jury voir {sample.ids['commune']}", "/jury export csv"):
        reply = zoe.say(command)
        assert len(reply.messages) == 1 and not documents(reply)
        assert "Ces commandes sont réservées aux membres du jury" in reply
        assert "Testbourg" not in reply.text
    assert conversations(sample) == before


def test_an_applicant_cannot_read_another_body_through_the_jury_commands(sample):
    applicant = sample.chats["commune"]
    answers = applicant.answers()
    other = sample.ids["syndicat"]
    for command in (f"/jury voir {other}", f"/jury dossier {other}", "/jury export json",
                    "/jury notes", f"/jury diff {other}"):
        reply = applicant.say(command)
        assert "réservées aux membres du jury" in reply and "Syndicat" not in reply.text
        assert not documents(reply)
    assert applicant.answers() == answers


def test_a_guest_of_the_jury_room_is_not_a_juror_and_a_juror_reads_only_in_private(sample):
    seat(sample, "salle-du-jury", kind="room")
    guest = Chat(sample.app, "invitee", chat="salle-du-jury")
    for command in ("/jury liste", "/jury export csv", f"/jury dossier {sample.ids['commune']}"):
        reply = guest.say(command)
        assert "réservées aux membres du jury" in reply and "Testbourg" not in reply.text
        assert not [i for i in reply.items if i.kind.value == "document"]
    assert "réservées aux membres du jury" in Chat(sample.app, "invitee").say("/jury liste")
    seat(sample, "camille")          # a listed juror, writing in the shared room: told where to ask
    in_room = Chat(sample.app, "camille", chat="salle-du-jury").say("/jury export csv")
    assert "conversation directe" in in_room and "Testbourg" not in in_room.text
    assert not [i for i in in_room.items if i.kind.value == "document"]
    assert "Commune de Testbourg" in Chat(sample.app, "camille").say("/jury liste")


def test_unknown_jury_commands_and_numbers_get_help(sample):
    juge = juror(sample)
    assert "Commandes du jury (campagnes : tnl-2022-test)" in juge.say("/jury")
    assert "Je ne connais pas la commande /jury voter" in juge.say("/jury voter 1")
    assert "Indiquez le numéro de la candidature" in juge.say("/jury voir Testbourg")
    assert "Je ne trouve pas de candidature n°999" in juge.say("/jury voir 999")
    assert "qu'une seule version déposée" in juge.say(f"/jury diff {sample.ids['commune']}")


def test_the_jury_speaks_english_to_an_english_speaker(sample):
    judge = juror(sample, "judge", language="en")
    assert "Applications of the campaign tnl-2022-test (3):" in judge.say("/jury list")
    assert "These commands are for the members" in Chat(sample.app, "nobody", language="en").say("/jury list")


def test_odd_arguments_get_a_polite_answer_and_change_nothing(sample):
    juge = juror(sample)
    number = sample.ids["syndicat"]
    for command in ("/jury voir ²", "/jury voir ٣", f"/jury voir {number} ²", "/jury voir 99999999999999999999",
                    f"/jury noter {number} ² ²", f"/jury diff {number} ² ³", "/jury export \u202ecsv",
                    "/jury liste \x00", "/jury " + "x" * 5000, "/jury notes ²", "/mes_donnees \u202e",
                    "/oublier \x07"):
        reply = juge.say(command)
        assert len(reply.messages) >= 1 and reply.text.strip(), command
    assert "Syndicat mixte" in juge.say("/jury liste")
