"""Claims of a body: typing a SIREN makes a claim; the operator verifies it.

Rules kept here:
- A claim never locks anyone out: another agent typing the same SIREN makes
  a claim of their own and goes on answering. Nobody is told that someone
  else claims the body, nor who: every claimant gets the same reply.
- The candidature is linked to the body (`candidatures.organisation_id`,
  unique per campaign) only when a claim is verified. Until then the
  candidature cannot be submitted, cannot copy last year's answers of the
  body, and does not rename the body.
- Who verifies: the operator (`tnlbot claims verify`), who knows the bodies.
  A campaign created with `verify_claims: false` accepts the first claim of
  a body on its own; a later claim of the same body waits for the operator
  (a conflict), it is not refused.
- Verifying a claim releases the other claims of the same body in the
  campaign; their responsibles are told, without names.
- Once verified, only the operator changes a candidature's body.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from ..core.events import Addressed, Outgoing, OutKind
from ..core.flow import JSON
from ..i18n import Catalog
from ..store import Store
from ..store import campaign_tables as C
from ..store import tables as T
from .context import Ctx, address_of

ORG_FIELDS = {"nom_collectivite": "name", "type_collectivite": "kind", "departement": "departement"}

ACTIVE = ("pending", "verified")


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    campaign: str
    candidature_id: int
    siren: str
    body: str
    status: str
    responsible: str
    created_at: datetime
    rivals: int            # other active claims of the same body in the campaign


# ------------------------------------------------------------------ in the chat

def claim(ctx: Ctx, org_id: int, siren: str, body: str) -> tuple[bool, list[Addressed]]:
    """The sender's candidature claims the body: (accepted, what to say)."""
    assert ctx.conv is not None
    conn, cand = ctx.conn, ctx.conv.candidature_id
    mine = _active(ctx, cand)
    if any(org == org_id for _id, org, _status in mine):
        return True, []
    if any(status == "verified" for _id, _body, status in mine):
        return False, ctx.say("claims.locked")
    if mine and not ctx.conv.is_responsible:
        return False, ctx.say("teams.siren.responsible_only")
    hot, now = ctx.store.hot, ctx.store.hot.time(ctx.now)
    if any(status == "pending" for _id, _body, status in mine):
        hot.run(conn, RELEASE_PENDING, (now, cand))
    if hot.is_sqlite:     # RETURNING goes through a temporary table there; lastrowid is the id
        claim_id = int(hot.run(conn, NEW_CLAIM_PLAIN, (ctx.conv.campaign_id, cand, org_id, now)).lastrowid)
    else:
        claim_id = int(hot.run(conn, NEW_CLAIM, (ctx.conv.campaign_id, cand, org_id, now)).fetchone()[0])
    if not ctx.settings.verify_claims and not _rivals(ctx, org_id, cand):
        _link_hot(ctx, claim_id, cand, org_id, "accepted on first claim")
    key = "teams.siren.linked" if ctx.conv.is_responsible else "teams.siren.linked_member"
    text = ctx.t(key, body=body, siren=siren)
    if ctx.settings.verify_claims:
        text += "\n" + ctx.t("claims.pending_note")
    return True, [ctx.reply(text)]


# plain SQL (the store's hot path): a SIREN is typed on the answers' path
ACTIVE_OF = ("SELECT id, organisation_id, status FROM claims "
             "WHERE candidature_id = ? AND status IN ('pending', 'verified')")
RELEASE_PENDING = ("UPDATE claims SET status = 'released', decided_at = ?, "
                   "note = 'replaced by another SIREN' WHERE candidature_id = ? AND status = 'pending'")
NEW_CLAIM_PLAIN = ("INSERT INTO claims (campaign_id, candidature_id, organisation_id, status, created_at, "
                   "note) VALUES (?, ?, ?, 'pending', ?, '')")
NEW_CLAIM = NEW_CLAIM_PLAIN + " RETURNING id"
RIVALS = ("SELECT EXISTS (SELECT 1 FROM claims WHERE campaign_id = ? AND organisation_id = ? "
          "AND status IN ('pending', 'verified') AND candidature_id <> ?)")
LINK = "UPDATE candidatures SET organisation_id = ? WHERE id = ?"
# SQLite: the transaction holds the write lock, so the body's other candidature is looked for in
# the statement (no savepoint to catch the unique constraint's error)
LINK_IF_FREE = ("UPDATE candidatures SET organisation_id = ? WHERE id = ? AND NOT EXISTS (SELECT 1 "
                "FROM candidatures o WHERE o.campaign_id = ? AND o.organisation_id = ? AND o.id <> ?)")
VERIFY = "UPDATE claims SET status = 'verified', decided_at = ?, note = ? WHERE id = ?"


def _active(ctx: Ctx, candidature_id: int) -> list[tuple[int, int, str]]:
    return list(ctx.store.hot.run(ctx.conn, ACTIVE_OF, (candidature_id,)).fetchall())


def _rivals(ctx: Ctx, org_id: int, candidature_id: int) -> bool:
    assert ctx.conv is not None
    row = ctx.store.hot.run(ctx.conn, RIVALS, (ctx.conv.campaign_id, org_id, candidature_id)).fetchone()
    return bool(row[0])


def _link_hot(ctx: Ctx, claim_id: int, candidature_id: int, org_id: int, note: str) -> bool:
    """`_link` in plain SQL, in the chat."""
    assert ctx.conv is not None
    conn, hot = ctx.conn, ctx.store.hot
    if hot.is_sqlite:
        if hot.run(conn, LINK_IF_FREE, (org_id, candidature_id, ctx.conv.campaign_id, org_id,
                                        candidature_id)).rowcount != 1:
            return False        # another candidature of the campaign holds the body
    else:
        try:
            with ctx.store.savepoint(conn):
                hot.run(conn, LINK, (org_id, candidature_id))
        except (IntegrityError, conn.dialect.dbapi.IntegrityError):   # linked a moment ago
            return False
    hot.run(conn, VERIFY, (hot.time(ctx.now), note[:200], claim_id))
    return True


def _link(conn: Connection, claim_id: int, candidature_id: int, org_id: int, now: datetime,
          note: str) -> bool:
    """Mark the claim verified and link the candidature; False if another candidature holds the body."""
    savepoint = conn.begin_nested()
    try:
        conn.execute(update(T.candidatures).where(T.candidatures.c.id == candidature_id)
                     .values(organisation_id=org_id))
    except IntegrityError:     # another candidature was linked to the body a moment ago
        savepoint.rollback()
        return False
    savepoint.commit()
    conn.execute(update(C.claims).where(C.claims.c.id == claim_id)
                 .values(status="verified", decided_at=now, note=note[:200]))
    return True


def verified(conn: Connection, candidature_id: int) -> bool:
    k = T.candidatures
    return conn.execute(select(k.c.organisation_id).where(k.c.id == candidature_id)).scalar() is not None


def may_submit(conn: Connection, candidature_id: int, verify: bool) -> bool:
    """Verified; or, where the first claim is accepted, no claim waiting for the operator."""
    if verified(conn, candidature_id):
        return True
    c = C.claims
    return not verify and conn.execute(select(c.c.id).where(
        c.c.candidature_id == candidature_id, c.c.status == "pending").limit(1)).first() is None


def release_all(conn: Connection, candidature_id: int, now: datetime, note: str) -> None:
    """An abandoned candidature claims nothing any more."""
    c = C.claims
    conn.execute(update(c).where(c.c.candidature_id == candidature_id, c.c.status.in_(ACTIVE))
                 .values(status="released", decided_at=now, note=note[:200]))
    conn.execute(update(T.candidatures).where(T.candidatures.c.id == candidature_id)
                 .values(organisation_id=None))


# ------------------------------------------------------------------ the operator

def listing(conn: Connection, campaign_id: int | None = None, every: bool = False) -> list[Claim]:
    """Claims, pending first (the operator's queue); released ones only with `every`."""
    c, o, k, p, g = C.claims, T.organisations, T.candidatures, T.people, T.campaigns
    query = (select(c.c.id, g.c.slug, c.c.candidature_id, o.c.siren, o.c.name, c.c.status,
                    p.c.display_name, c.c.created_at, c.c.campaign_id, c.c.organisation_id)
             .join(o, o.c.id == c.c.organisation_id).join(k, k.c.id == c.c.candidature_id)
             .join(p, p.c.id == k.c.responsible_id).join(g, g.c.id == c.c.campaign_id))
    if campaign_id is not None:
        query = query.where(c.c.campaign_id == campaign_id)
    if not every:
        query = query.where(c.c.status.in_(ACTIVE))
    rows = conn.execute(query.order_by(c.c.status, c.c.id)).all()
    active: dict[tuple[int, int], int] = {}
    for r in rows:
        if r.status in ACTIVE:
            active[(r.campaign_id, r.organisation_id)] = active.get((r.campaign_id, r.organisation_id), 0) + 1
    return [Claim(r.id, r.slug, r.candidature_id, r.siren, r.name, r.status, r.display_name or "(erased)",
                  r.created_at, max(0, active.get((r.campaign_id, r.organisation_id), 0) - 1)
                  if r.status in ACTIVE else 0) for r in rows]


@dataclass(frozen=True, slots=True)
class Desk:
    """The operator's side: one transaction, the catalog for the notices, the instant."""
    store: Store
    conn: Connection
    catalog: Catalog
    now: datetime

    def tell(self, candidature_id: int, key: str) -> None:
        """A notice to the candidature's responsible, where they answer, in their language."""
        responsible = self.conn.execute(select(T.candidatures.c.responsible_id).where(
            T.candidatures.c.id == candidature_id)).scalar()
        where = address_of(self.conn, responsible, candidature_id) if responsible is not None else None
        if where is None:
            return
        text = self.catalog(where.locale, key)
        self.store.enqueue(self.conn, [Addressed(where.transport, where.chat_id,
                                                 Outgoing(OutKind.NOTICE, text), where.user_id)], self.now)


def _row(conn: Connection, claim_id: int):
    return conn.execute(select(C.claims).where(C.claims.c.id == claim_id)).first()


def verify(desk: Desk, claim_id: int) -> str:
    """Verify a claim; other claims of the body are released. Returns "" or a problem (the
    catalog key of what the operator is told: claims.cli.*)."""
    conn = desk.conn
    row = _row(conn, claim_id)
    if row is None or row.status not in ACTIVE:
        return "claims.cli.no_pending"
    if row.status == "verified":
        return ""
    c = C.claims
    others = conn.execute(select(c.c.id).where(
        c.c.campaign_id == row.campaign_id, c.c.organisation_id == row.organisation_id,
        c.c.status.in_(ACTIVE), c.c.id != claim_id)).scalars().all()
    for other in others:
        release(desk, other, "another claim of the body was verified")
    if not _link(conn, claim_id, row.candidature_id, row.organisation_id, desk.now, "verified by the operator"):
        return "claims.cli.body_taken"
    _sync_body(conn, row.candidature_id, row.organisation_id)
    desk.tell(row.candidature_id, "claims.told_verified")
    return ""


def release(desk: Desk, claim_id: int, note: str = "released by the operator") -> str:
    conn = desk.conn
    row = _row(conn, claim_id)
    if row is None or row.status not in ACTIVE:
        return "claims.cli.no_active"
    conn.execute(update(C.claims).where(C.claims.c.id == claim_id)
                 .values(status="released", decided_at=desk.now, note=note[:200]))
    k = T.candidatures
    conn.execute(update(k).where(k.c.id == row.candidature_id, k.c.organisation_id == row.organisation_id)
                 .values(organisation_id=None))
    desk.tell(row.candidature_id, "claims.told_released")
    return ""


def _sync_body(conn: Connection, candidature_id: int, org_id: int) -> None:
    """The verified team's answers name the body."""
    a = T.answers
    rows = dict(conn.execute(select(a.c.key, a.c.value).where(
        a.c.candidature_id == candidature_id, a.c.key.in_(list(ORG_FIELDS)))).all())
    values = {column: str(json.loads(rows[key]))[:3 if column == "departement" else 200]
              for key, column in ORG_FIELDS.items() if rows.get(key)}
    if values:
        conn.execute(update(T.organisations).where(T.organisations.c.id == org_id).values(**values))


def body_of_answers(answers: Mapping[str, JSON]) -> str:
    return str(answers.get("nom_collectivite") or "")[:200]

