"""Valid answers for whatever the bot asks, to walk a whole flow in tests."""
from __future__ import annotations

from tnlbot.core.flow import Flow, Kind

SIREN = "732829320"          # Luhn-valid
SIRET = "73282932000074"

BY_KIND = {
    Kind.SHORT_TEXT: "Testbourg",
    Kind.LONG_TEXT: "Nous avons migré les postes vers LibreOffice et Firefox.",
    Kind.INTEGER: "12",
    Kind.DECIMAL: "5,5",
    Kind.PERCENT: "40 %",
    Kind.DATE: "15/03/2022",
    Kind.EMAIL: "referent@testbourg.fr",
    Kind.URL: "https://www.testbourg.fr",
    Kind.PHONE: "01 23 45 67 89",
    Kind.SIREN: SIREN,
    Kind.SIRET: SIRET,
    Kind.DEPARTEMENT: "34",
    Kind.YES_NO: "oui",
    Kind.SINGLE: "1",
    Kind.MULTI: "1, 2",
}


def valid_answer(flow: Flow, ref: str, overrides: dict[str, str] | None = None) -> str:
    """A valid typed answer for the prompt `ref` (a slot key)."""
    overrides = overrides or {}
    if ref in overrides:
        return overrides[ref]
    if ref.startswith("volet:"):
        return "oui"
    if ref.endswith("+"):
        count_hint = overrides.get("__items__", "non")
        return count_hint
    if ref.endswith(".other"):
        return "Précision libre"
    question_id = ref.split(".")[-1] if "[" in ref else ref
    q = flow.questions[question_id]
    if q.kind is Kind.FILE:
        return ""
    if q.kind is Kind.SHORT_TEXT and q.max_length < len(BY_KIND[q.kind]):
        return "34"[: q.max_length]
    if q.kind is Kind.INTEGER and q.minimum is not None and q.minimum > 12:
        return str(q.minimum)
    if q.kind is Kind.DATE and q.min_date:
        return "/".join(reversed(q.min_date.split("-")))
    return BY_KIND[q.kind]


def fill(chat, flow: Flow, overrides: dict[str, str] | None = None, limit: int = 400):
    """Answer every question until the bot has nothing left to ask."""
    reply = chat.say("/start")
    transcript = [("/start", reply)]
    for _ in range(limit):
        ref = reply.ref
        if ref == "confirm" or (not ref and not any(
                m.kind.value == "notice" and ("/deposer" in m.text or "/submit" in m.text
                                              or "/manquant" in m.text or "/missing" in m.text)
                for m in reply.messages)):
            if not ref and ref != "confirm":
                raise AssertionError(f"the bot did not ask anything after {transcript[-1][0]!r}: {reply.text}")
            return transcript
        if not ref:
            return transcript
        question_id = ref.split(".")[-1] if "[" in ref else ref
        q = flow.questions.get(question_id)
        if q is not None and q.kind is Kind.FILE and not ref.endswith(".other"):
            reply = chat.send_file("deliberation.pdf", 120_000)
            transcript.append(("<fichier>", reply))
            continue
        answer = valid_answer(flow, ref, overrides)
        reply = chat.say(answer)
        transcript.append((answer, reply))
    raise AssertionError("the flow did not end")
