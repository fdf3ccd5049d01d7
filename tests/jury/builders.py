"""Build candidatures by talking to the real bot: each answer goes through the engine.

`fill` answers whatever the bot asks, with the given answers by slot key,
adds the given number of items to repeat blocks, declares the listed volets
"not concerned", then submits with /deposer and "oui".
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tnlbot.core.engine import Dossier, Outcome, State
from tnlbot.core.flow import JSON, Flow, Kind
from tnlbot.core.machine import Mode
from tnlbot.core.walk import applicable_answers
from tnlbot.jury.freeze import freeze

from ..harness import Chat, Reply

SIREN = "732829320"   # Luhn-valid

BY_KIND = {
    Kind.SHORT_TEXT: "Texte court", Kind.LONG_TEXT: "Nous utilisons LibreOffice et Firefox.",
    Kind.INTEGER: "12", Kind.DECIMAL: "5,5", Kind.PERCENT: "40 %", Kind.DATE: "15/03/2022",
    Kind.EMAIL: "referent@testbourg.fr", Kind.URL: "https://www.testbourg.fr",
    Kind.PHONE: "01 23 45 67 89", Kind.SIREN: SIREN, Kind.SIRET: "73282932000074", Kind.DEPARTEMENT: "34",
    Kind.YES_NO: "oui", Kind.SINGLE: "1", Kind.MULTI: "1, 2",
}


@dataclass
class Plan:
    answers: dict[str, str] = field(default_factory=dict)   # slot key -> what the person types
    items: dict[str, int] = field(default_factory=dict)     # repeat id -> how many items
    skip_volets: tuple[str, ...] = ()                        # volets declared "not concerned"
    volets: tuple[str, ...] = ()                             # if set: the only optional volets concerned


def _typed(flow: Flow, ref: str, plan: Plan) -> str:
    if ref in plan.answers:
        return plan.answers[ref]
    if ref.startswith("volet:"):
        volet = ref[len("volet:"):]
        concerned = volet not in plan.skip_volets and (not plan.volets or volet in plan.volets)
        return "oui" if concerned else "non"
    if ref.endswith(".other"):
        return "Précision libre"
    q = flow.questions[ref.split(".")[-1] if "[" in ref else ref]
    if q.kind is Kind.SHORT_TEXT and q.max_length < len(BY_KIND[q.kind]):
        return "34"[: q.max_length]
    if q.kind is Kind.INTEGER and q.minimum is not None and q.minimum > 12:
        return str(q.minimum)
    if q.kind is Kind.DATE and q.min_date:
        return "/".join(reversed(q.min_date.split("-")))
    return BY_KIND[q.kind]


def fill(chat: Chat, flow: Flow, plan: Plan, submit: bool = True) -> Reply:
    """Answer every question the bot asks, then submit."""
    added: dict[str, int] = {}
    reply = chat.say("/start")
    for _ in range(400):
        ref = reply.ref
        if not ref:
            break
        if ref.endswith("+"):   # items seen so far (the first one may be opened without asking)
            repeat = ref[:-1]
            reply = chat.say("oui" if added.get(repeat, 0) < plan.items.get(repeat, 0) else "non")
            continue
        if "[" in ref:
            repeat, index = ref.split("[")[0], int(ref.split("[")[1].split("]")[0])
            added[repeat] = max(added.get(repeat, 0), index + 1)
        q = flow.questions.get(ref.split(".")[-1] if "[" in ref else ref)
        if q is not None and q.kind is Kind.FILE and not ref.endswith(".other"):
            reply = chat.send_file(f"{q.id}.{q.formats[0]}", 120_000, "application/pdf")
            continue
        reply = chat.say(_typed(flow, ref, plan))
    else:
        raise AssertionError("the questionnaire did not end")
    if not submit:
        return reply
    reply = chat.say("/deposer")
    assert reply.ref == "confirm", reply.text
    reply = chat.say("oui")
    assert "Votre candidature est déposée" in reply.text, reply.text
    return reply


# The three bodies of the sample campaign (2022 flow); one SIREN per body (Luhn-valid).
RICH = Plan(
    answers={
        "nom_collectivite": "Syndicat mixte du Numérique Libre", "type_collectivite": "7", "siren": "200034254",
        "type_collectivite.other": "Syndicat mixte ouvert", "departement": "34",
        "elu_nom": "Camille Élu", "referent_nom": "Dominique Référente",
        "referent_fonction": "Chef de projet <DSI> & co",
        "strategie_existe": "oui", "strategie_description": "=1+2 démarche engagée depuis 2018",
        "deliberation_votee": "oui", "membre_structure_mutualisation": "oui",
        "structures_mutualisation[0].structure_nom": "@SUM(A1) Adullact",
        "structures_mutualisation[0].structure_role": "1",
        "structures_mutualisation[1].structure_nom": "-Gip régional",
        "structures_mutualisation[1].structure_role": "4",
        "structures_mutualisation[1].structure_role.other": "+Membre observateur",
        "strategie_enjeux": "1, 10", "strategie_enjeux.other": "Autonomie des services",
        "postes_linux_existe": "oui", "logiciels_metier_libres": "oui",
        "logiciels_metier[0].logiciel_metier_nom": "openCimetière",
        "logiciels_metier[1].logiciel_metier_nom": "QGIS",
    },
    items={"structures_mutualisation": 2, "logiciels_metier": 2},
    volets=("strategie", "logiciels"),
)
SMALL_A = Plan(answers={"nom_collectivite": "Commune de Testbourg", "type_collectivite": "1", "siren": "213401722",
                        "deja_labellise": "non"}, volets=("donnees",))
FULL = Plan(answers={"nom_collectivite": "Communauté de communes du Lez", "type_collectivite": "2", "siren": "243400355",
                     "deja_labellise": "non"})


# A valid set of answers for the 2025 badge flow, written through the Store.
BADGE_ANSWERS: dict[str, JSON] = {
    "nom_collectivite": "Ville", "type_collectivite": "commune", "siren": SIREN, "departement": "34",
    "email_contact": "dsi@ville.fr", "strategie_libre": "deliberee", "formats_ouverts": ["odt", "csv"],
    "declaration_accessibilite": True, "sobriete_actions": ["reemploi", "autre"],
    "sobriete_actions.other": "Ateliers de réparation", "membre_structure_mutualisation": True,
    "donnees_ouvertes": "data_gouv", "contributions_projets": False, "part_postes_linux": "40",
    "logiciels_metier_libres": "QGIS, openCimetière", "actions_sensibilisation": ["elus", "agents"],
}


def quick(app, user: str, campaign_id: int, flow: Flow, answers: dict[str, JSON],
          submit: bool = True) -> Chat:
    """A candidature written straight through the Store and frozen by the jury (the bot's save
    path, without the engine), in one transaction."""
    chat = Chat(app, user)
    now = app.clock.now()
    with app.store.begin() as conn:
        conv = app.store.start_conversation(conn, chat.transport, chat.chat, user, user, campaign_id, now)
        kept = applicable_answers(flow, answers)
        dossier = Dossier(status="submitted", version=1) if submit else Dossier()
        outcome = Outcome(State(mode=Mode.IDLE), dossier, tuple(answers.items()), (), kept if submit else None)
        app.store.apply(conn, conv, {}, outcome, [], now, flow)
        freeze(conn, conv, outcome, flow, now)
    return chat
