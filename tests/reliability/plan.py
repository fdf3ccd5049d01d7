"""A whole 2022 candidature typed line by line, and what a clean run prints for it.

The kill -9 loop feeds these lines to a bot process and compares what it
prints and stores with the reference built here by one uninterrupted,
in-process run of the same lines (same flows, same rendering as the
terminal): the reply to each line, the greeting of a restart at each step,
the answers each line changes and where the conversation stands after it.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from tnlbot.app import App, Settings
from tnlbot.core.answers import luhn
from tnlbot.core.events import Outgoing
from tnlbot.store import Store
from tnlbot.store import tables as T
from tnlbot.transports.console import parse_line, render

FILE_LINE = "/fichier {deliberation}"

# (the question the bot asks, what the person types)
LINES: tuple[tuple[str, str], ...] = (
    ("nom_collectivite", "Mairie de Kerbriand"), ("type_collectivite", "5"),
    ("siren", "{siren}"), ("departement", "29"), ("population", "12 500"),
    ("nombre_agents", "120"), ("nombre_postes", "80"), ("elu_nom", "Marie Le Goff"),
    ("elu_mandat", "Adjointe au numérique"), ("elu_email", "marie.legoff@kerbriand.bzh"),
    ("elu_telephone", "02 98 00 00 00"), ("referent_nom", "Yann Morvan"),
    ("referent_fonction", "Responsable informatique"), ("referent_email", "dsi@kerbriand.bzh"),
    ("referent_telephone", "+33 2 98 00 00 01"), ("deja_labellise", "oui"),
    ("annees_label", "1, 3"), ("dernier_niveau", "2"),
    ("volet:strategie", "oui"), ("strategie_existe", "oui"),
    ("strategie_description", "Une politique « Libre d'abord » votée en 2019."),
    ("deliberation_votee", "oui"), ("deliberation_date", "14/02/2019"),
    ("deliberation", FILE_LINE), ("strategie_enjeux", "1, 2, 6"), ("strategie_portage", "1, 3"),
    ("freins_rencontres", "2; 6"), ("freins_solutions", "Formations et accompagnement des agents."),
    ("plan_action_existe", "non"), ("part_logiciels_mutualises", "35 %"),
    ("membre_structure_mutualisation", "oui"),
    ("structures_mutualisation[0].structure_nom", "SIM Finistère"),
    ("structures_mutualisation[0].structure_role", "1"), ("structures_mutualisation+", "non"),
    ("budget_logiciels_libres", "25 000"), ("economies_estimees", "40 000"),
    ("economies_methode", "Comparaison des coûts de licences sur trois ans."),
    ("volet:bonnes_pratiques", "oui"), ("formats_ouverts_defaut", "oui"),
    ("formats_ouverts_utilises", "1, 2, 5"), ("consultation_rgi", "non"),
    ("echanges_formats_ouverts", "2, 3"),
    ("echanges_difficultes", "Quelques partenaires utilisent encore des formats fermés."),
    ("declaration_accessibilite", "oui"),
    ("declaration_accessibilite_url", "https://www.kerbriand.bzh/accessibilite"),
    ("taux_conformite_rgaa", "62,5"), ("audit_rgaa", "non"),
    ("schema_pluriannuel_accessibilite", "oui"), ("duree_vie_equipements", "6,5"),
    ("reemploi_materiel", "non"), ("ecoconception_sites", "non"),
    ("volet:logiciels", "oui"), ("postes_linux_existe", "oui"), ("nombre_postes_linux", "12"),
    ("part_postes_linux", "15"), ("distributions_linux", "1, 2"),
    ("logiciels_bureautiques", "1, 2, 3"), ("part_postes_suite_libre", "80"),
    ("logiciels_metier_libres", "non"), ("outils_infrastructure", "1, 2, 5"),
    ("ecoles_logiciels_libres", "non"), ("developpements_publies", "non"),
    ("clauses_marches", "non"),
    ("volet:communication", "oui"), ("actions_sensibilisation", "oui"),
    ("publics_sensibilises", "1, 2"), ("types_actions", "2, 4"),
    ("actions_detail", "Deux ateliers par an à la médiathèque."), ("formation_agents", "oui"),
    ("nombre_agents_formes", "25"), ("contributions_existe", "non"),
    ("adhesions_associations", "1, 2"),
    ("ecosysteme_local", "Un groupe d'utilisateurs local se réunit chaque mois."),
    ("partage_experience", "non"),
    ("volet:donnees", "oui"), ("opendata_strategie", "oui"),
    ("opendata_strategie_detail", "Stratégie publiée sur le site."), ("donnees_publiees", "oui"),
    ("portails_utilises", "4"), ("portail_url", "https://data.kerbriand.bzh"),
    ("nombre_jeux_donnees", "42"), ("formats_donnees", "1, 2"), ("licences_donnees", "1"),
    ("anonymisation_donnees", "non"), ("reutilisations_connues", "non"),
    ("gouvernance_donnees", "1, 2"),
)


@dataclass(frozen=True, slots=True)
class Step:
    ref: str      # the question the bot is asking
    line: str     # what is typed


@dataclass(frozen=True)
class Reference:
    """What one uninterrupted run printed and stored, step by step."""
    steps: tuple[Step, ...]
    welcome: bytes                      # printed at the first launch
    replies: tuple[bytes, ...]          # printed after step k's line
    resumes: tuple[bytes, ...]          # printed by a launch when k steps are done (n + 1)
    changes: tuple[tuple[tuple[str, str], ...], ...]   # (key, JSON text) written by step k
    cursors: tuple[str, ...]            # the cursor when k steps are done (n + 1)

    def __len__(self) -> int:
        return len(self.steps)

    def answers_after(self, done: int) -> dict[str, str]:
        answers: dict[str, str] = {}
        for changes in self.changes[:done]:
            answers.update(changes)
        return answers

    def history_after(self, done: int) -> Counter:
        return Counter(change for changes in self.changes[:done] for change in changes)


def siren_for(index: int) -> str:
    """A valid SIREN of its own for each candidature (a SIREN links one body only)."""
    body = f"{73282932 + index:08d}"
    return next(body + d for d in "0123456789" if luhn(body + d))


def steps_for(document: Path, siren: str) -> tuple[Step, ...]:
    return tuple(Step(ref, line.format(deliberation=document, siren=siren)) for ref, line in LINES)


def printed(app: App, ids: tuple[int, ...]) -> bytes:
    """What the terminal prints for these outbox rows (as Console.send does)."""
    o = T.outbox
    with app.store.begin() as conn:
        rows = conn.execute(select(o.c.payload).where(o.c.id.in_(ids)).order_by(o.c.id)).all()
        conn.execute(o.update().where(o.c.id.in_(ids)).values(status="sent"))
    texts = [render(Outgoing.from_json(json.loads(r.payload))) for r in rows]
    return "".join(t + "\n\n" for t in texts if t).encode("utf-8")


class _Run:
    def __init__(self, app: App, user: str):
        self.app, self.user, self.chat = app, user, f"terminal:{user}"
        self.count = 0
        self.seen_history = 0

    def type(self, line: str) -> bytes:
        self.count += 1
        # as the terminal does: /fichier reads the file and keeps its content with the answer
        inbound = parse_line(line, self.chat, self.user, f"reference-{self.count}", keep=self.app.keep_file)
        handled = self.app.dispatcher.handle(inbound)
        assert not handled.duplicate
        return printed(self.app, handled.outbox_ids)

    def start(self) -> bytes:
        return self.type("/start")

    def new_changes(self) -> tuple[tuple[str, str], ...]:
        h = T.answer_history
        with self.app.store.begin() as conn:
            rows = conn.execute(select(h.c.id, h.c.key, h.c.new_value).where(
                h.c.id > self.seen_history).order_by(h.c.id)).all()
        if rows:
            self.seen_history = rows[-1].id
        return tuple((r.key, r.new_value) for r in rows)

    def cursor(self) -> str:
        c = T.conversations
        with self.app.store.begin() as conn:
            state = conn.execute(select(c.c.state).where(c.c.chat_id == self.chat)).scalar()
        return json.loads(state).get("cursor", "")


def build_reference(workdir: Path, flows, catalog, document: Path, index: int = 0) -> Reference:
    """Run every line once, in process, on a fresh SQLite file (the `index`-th candidature)."""
    store = Store(Store.sqlite_url(workdir / f"reference-{index}.db"))
    app = App(Settings(database_url=store.url), store=store, flows=flows, catalog=catalog)
    try:
        app.ensure_campaign()
        run = _Run(app, "reference")
        steps = steps_for(document, siren_for(index))
        welcome = run.start()
        replies, resumes, changes, cursors = [], [], [], []
        for step in steps:
            cursors.append(run.cursor())
            assert cursors[-1] == step.ref, f"the plan expects {step.ref!r}, the bot asks {cursors[-1]!r}"
            resumes.append(run.start())
            replies.append(run.type(step.line))
            changes.append(run.new_changes())
            assert changes[-1], f"{step.line!r} changed nothing"
        cursors.append(run.cursor())
        resumes.append(run.start())
        return Reference(steps, welcome, tuple(replies), tuple(resumes), tuple(changes),
                         tuple(cursors))
    finally:
        app.close()


class References:
    """The reference of the n-th candidature, built on first use (lanes share it)."""

    def __init__(self, workdir: Path, flows, catalog):
        self.workdir, self.flows, self.catalog = workdir, flows, catalog
        self.document = workdir / "deliberation.pdf"
        self.document.write_bytes(b"%PDF-1.4\n% a deliberation\n")
        self._built: dict[int, Reference] = {}
        self._lock = threading.Lock()

    def __call__(self, index: int) -> Reference:
        with self._lock:
            if index not in self._built:
                self._built[index] = build_reference(self.workdir, self.flows, self.catalog,
                                                     self.document, index)
            return self._built[index]
