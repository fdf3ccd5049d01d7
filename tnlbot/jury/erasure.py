"""/oublier: what erasing a person removes, and what the label's rules keep.

Removed: the name, every platform id (accounts, conversations, delivery ids
that carry a chat id, wrong-code counts, jury seats, files of theirs still to be
fetched again from the platform), every message to or
from the person that was delivered, the messages to others that name them
(delivered ones deleted; queued ones no longer name them), their own draft
candidature when they were its only member, the referent's contact they
typed in a candidature not submitted, and their live invitation codes.
The reply to /oublier itself is deleted from the outbox once sent.

Kept, and said in the reply: the body's answers given in a team's
candidature (they belong to the body, `answered_by` keeps a person number
with no name), and the submitted versions, referent's contact included,
that the jury must be able to read (frozen snapshots, until the retention
period of the campaign).

A team never ends without a responsible: the role goes to the member who
joined first; with no member left, the candidature waits for the operator
(`tnlbot claims reassign`), who sees it as "(erased)" in `tnlbot claims list`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, or_, select, update

from .rules import digest
from ..store import campaign_tables as C
from ..store import flow_tables as F
from ..store import jury_tables as J
from ..store import tables as T
from ..store.attachments import forget_unreferenced
from ..store.fetches import file_fetches
from ..store.jsontext import dumps

REFERENT_KEYS = ("referent_nom", "referent_fonction", "referent_email", "referent_telephone")
ERASED_NAME = "(personne effacée)"


@dataclass(frozen=True, slots=True)
class Erased:
    known: bool                 # anything was stored about this account
    kept_submitted: int         # submitted candidatures whose versions the jury keeps
    in_team: int                # team candidatures whose answers stay (the body's)
    handed_over: tuple[int, ...]  # people who became responsible


def erase(conn: Connection, transport: str, user_id: str, now: datetime) -> Erased:
    person = conn.execute(select(T.accounts.c.person_id).where(
        T.accounts.c.transport == transport, T.accounts.c.external_id == user_id)).scalar()
    jury = _jury(conn, transport, user_id)
    if person is None:
        return Erased(jury, 0, 0, ())
    name = conn.execute(select(T.people.c.display_name).where(T.people.c.id == person)).scalar() or ""
    chats = conn.execute(select(T.accounts.c.transport, T.accounts.c.external_id, T.accounts.c.chat_id)
                         .where(T.accounts.c.person_id == person)).all()
    chats += conn.execute(select(T.conversations.c.transport, T.conversations.c.user_id,
                                 T.conversations.c.chat_id).where(T.conversations.c.person_id == person)).all()
    handed = _hand_over(conn, person, now)
    kept, teams = _candidatures(conn, person, now)
    _messages(conn, chats, name)
    _codes(conn, person, chats, now)
    conn.execute(delete(T.conversations).where(T.conversations.c.person_id == person))
    conn.execute(delete(T.accounts).where(T.accounts.c.person_id == person))
    conn.execute(update(T.people).where(T.people.c.id == person).values(display_name="", erased_at=now))
    forget_unreferenced(conn)           # the files of an erased draft go with its answers
    return Erased(True, kept, teams, handed)


def _jury(conn: Connection, transport: str, user_id: str) -> bool:
    assessor = f"{transport}:{user_id}"
    changed = conn.execute(update(J.assessments).where(J.assessments.c.assessor == assessor).values(
        assessor="erased:" + digest(assessor)[:16], assessor_name="")).rowcount
    changed += conn.execute(delete(J.jury_members).where(
        J.jury_members.c.transport == transport, J.jury_members.c.kind == "user",
        J.jury_members.c.external_id == user_id)).rowcount
    return changed > 0


def _hand_over(conn: Connection, person: int, now: datetime) -> tuple[int, ...]:
    """Each candidature the person is responsible for goes to the member who joined first."""
    m, k = T.members, T.candidatures
    handed = []
    for cand in conn.execute(select(k.c.id).where(k.c.responsible_id == person)).scalars().all():
        heir = conn.execute(select(m.c.person_id).where(
            m.c.candidature_id == cand, m.c.person_id != person, m.c.role == "member")
            .order_by(m.c.joined_at, m.c.person_id).limit(1)).scalar()
        if heir is None:
            continue                       # alone (or with the élu only): the operator decides
        conn.execute(update(m).where(m.c.candidature_id == cand, m.c.person_id == heir)
                     .values(role="responsible"))
        conn.execute(update(k).where(k.c.id == cand).values(responsible_id=heir, updated_at=now))
        handed.append(int(heir))
    return tuple(handed)


def _candidatures(conn: Connection, person: int, now: datetime) -> tuple[int, int]:
    """Own solo drafts go; the referent's contact typed in unsubmitted ones goes.
    Returns (submitted ones kept, team ones kept)."""
    m, k, a, h = T.members, T.candidatures, T.answers, T.answer_history
    kept = teams = 0
    for cand, _status in conn.execute(select(k.c.id, k.c.status).join(m, m.c.candidature_id == k.c.id)
                                     .where(m.c.person_id == person)).all():
        others = conn.execute(select(func.count()).select_from(m).where(
            m.c.candidature_id == cand, m.c.person_id != person)).scalar()
        submitted = conn.execute(select(T.submissions.c.id).where(
            T.submissions.c.candidature_id == cand).limit(1)).first() is not None
        kept += int(submitted)
        teams += int(bool(others))
        if not others and not submitted:
            conn.execute(delete(h).where(h.c.candidature_id == cand))
            conn.execute(delete(a).where(a.c.candidature_id == cand))
            conn.execute(delete(F.answers_aside).where(F.answers_aside.c.candidature_id == cand))
            conn.execute(delete(F.draft_migrations).where(F.draft_migrations.c.candidature_id == cand))
            conn.execute(delete(C.claims).where(C.claims.c.candidature_id == cand))
            conn.execute(update(k).where(k.c.id == cand).values(status="abandoned", organisation_id=None,
                                                                 updated_at=now))
        elif not submitted:
            conn.execute(delete(a).where(a.c.candidature_id == cand, a.c.key.in_(REFERENT_KEYS),
                                         a.c.answered_by == person))
            conn.execute(delete(h).where(h.c.candidature_id == cand, h.c.key.in_(REFERENT_KEYS)))
            conn.execute(delete(F.answers_aside).where(F.answers_aside.c.candidature_id == cand,
                                                       F.answers_aside.c.key.in_(REFERENT_KEYS)))
        if others:
            conn.execute(delete(m).where(m.c.candidature_id == cand, m.c.person_id == person))
    return kept, teams


def _messages(conn: Connection, chats: list, name: str) -> None:
    """Delivered messages to the person's chats go, and the ones to others that name them."""
    o, seen = T.outbox, T.inbound_seen
    for transport, user in {(c[0], c[1]) for c in chats}:
        # to the person (in any chat), or in their private chat (Telegram: its id is theirs)
        conn.execute(delete(o).where(o.c.transport == transport,
                                     or_(o.c.user_id == user, o.c.chat_id == user)))
        # Telegram delivery ids read "update:chat/message": those of their private chat
        conn.execute(delete(seen).where(seen.c.transport == transport,
                                        seen.c.external_id.like(f"%:{_like(user)}/%", escape="\\")))
    if len(name) < 2:
        return
    quoted = dumps(name)[1:-1]
    pattern = f"%{_like(quoted)}%"
    conn.execute(delete(o).where(o.c.payload.like(pattern, escape="\\"), o.c.status != "pending"))
    for row_id, payload in conn.execute(select(o.c.id, o.c.payload).where(
            o.c.payload.like(pattern, escape="\\"))).all():
        conn.execute(update(o).where(o.c.id == row_id).values(
            payload=payload.replace(quoted, dumps(ERASED_NAME)[1:-1])))


def _codes(conn: Connection, person: int, chats: list, now: datetime) -> None:
    inv = C.invitations
    conn.execute(update(inv).where(inv.c.created_by == person, inv.c.used_at.is_(None),
                                   inv.c.revoked_at.is_(None)).values(revoked_at=now))
    for transport, user, _chat in chats:
        conn.execute(delete(C.code_failures).where(C.code_failures.c.transport == transport,
                                                   C.code_failures.c.user_id == user))
        conn.execute(delete(file_fetches).where(file_fetches.c.transport == transport,
                                                file_fetches.c.user_id == user))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
