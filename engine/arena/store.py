"""The arena's database: battles the server issued, and one vote per battle, in SQLite (WAL) or PostgreSQL.

`SEQ2SEQ_ARENA_DB` picks it: a file path (default: ~/.local/share/seq2seq-arena/arena.db) or a PostgreSQL URL
(`postgresql://user@host/db`). A vote counts only for a battle this server issued to the same session, not yet
voted on, and not older than BATTLE_LIFETIME_S; a session votes at most SEQ2SEQ_ARENA_VOTES_PER_MINUTE times a
minute. Locked-database errors are retried; if the database stays unavailable the caller gets ArenaUnavailable.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from engine.messages import Message

SCHEMA_VERSION = 2
VERDICTS = ("A is better", "B is better", "Tie", "Both bad")
BATTLE_LIFETIME_S = 3600
DEFAULT_VOTES_PER_MINUTE = 20
DEFAULT_PATH = Path.home() / ".local" / "share" / "seq2seq-arena" / "arena.db"

metadata = sa.MetaData()
schema_version = sa.Table("schema_version", metadata, sa.Column("version", sa.Integer, nullable=False))
battles = sa.Table(
    "battles", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("issued_at", sa.Float, nullable=False),
    sa.Column("session", sa.String(64), nullable=False),  # salted hash of the session id
    sa.Column("sentence", sa.Text, nullable=False),
    sa.Column("source", sa.String(80), nullable=False),  # "typed", or "<corpus> test line <n>"
    sa.Column("model_a", sa.String(120), nullable=False),
    sa.Column("model_b", sa.String(120), nullable=False),
    sa.Column("output_a", sa.Text, nullable=False),
    sa.Column("output_b", sa.Text, nullable=False),
    sa.Column("decoding", sa.String(200), nullable=False),  # JSON
)
votes = sa.Table(
    "votes", metadata,
    sa.Column("battle_id", sa.String(32), primary_key=True),  # one vote per battle, enforced by the database
    sa.Column("voted_at", sa.Float, nullable=False),
    sa.Column("session", sa.String(64), nullable=False),
    sa.Column("sentence", sa.Text, nullable=False),
    sa.Column("source", sa.String(80), nullable=False),
    sa.Column("words", sa.Integer, nullable=False),  # v2: source length, for the leaderboard's split by length
    sa.Column("model_a", sa.String(120), nullable=False),
    sa.Column("model_b", sa.String(120), nullable=False),
    sa.Column("output_a", sa.Text, nullable=False),
    sa.Column("output_b", sa.Text, nullable=False),
    sa.Column("decoding", sa.String(200), nullable=False),
    sa.Column("verdict", sa.String(20), nullable=False),
)


class VoteRefused(ValueError):
    """The vote does not count; the message says why, in words for the visitor."""


class ArenaUnavailable(RuntimeError):
    """The database could not be reached or stayed locked; nothing was recorded."""


def database_url(setting: str | None = None) -> str:
    """An SQLAlchemy URL from SEQ2SEQ_ARENA_DB (a PostgreSQL URL, or a file path for SQLite)."""
    setting = setting if setting is not None else os.environ.get("SEQ2SEQ_ARENA_DB", "")
    if setting.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return "postgresql+psycopg://" + setting.split("://", 1)[1]
    path = Path(setting or DEFAULT_PATH).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def session_hash(session_id: str, salt: str | None = None) -> str:
    """A salted hash of a session id: votes can be grouped by session without storing the id."""
    salt = salt if salt is not None else os.environ.get("SEQ2SEQ_ARENA_SALT", "seq2seq-arena")
    return hashlib.sha256(f"{salt}:{session_id}".encode()).hexdigest()


class Arena:
    """Issue battles and record votes in one database (safe to share between threads and processes)."""

    def __init__(self, url: str | None = None, votes_per_minute: int | None = None):
        self.url = url or database_url()
        self.votes_per_minute = votes_per_minute or int(os.environ.get("SEQ2SEQ_ARENA_VOTES_PER_MINUTE",
                                                                       DEFAULT_VOTES_PER_MINUTE))
        sqlite = self.url.startswith("sqlite")
        self.engine = sa.create_engine(self.url, connect_args={"timeout": 10} if sqlite else {},
                                       pool_pre_ping=not sqlite)
        if sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._retry(self._migrate)

    # ------------------------------------------------------------ schema
    def _migrate(self) -> None:
        """Create the schema, or bring an older one up to SCHEMA_VERSION."""
        with self.engine.begin() as db:
            inspector = sa.inspect(db)
            if not inspector.has_table("schema_version"):
                if inspector.has_table("votes"):  # v1: votes without `words`, no version table
                    migrate_v1(db)
                metadata.create_all(db)
                db.execute(schema_version.delete())
                db.execute(schema_version.insert().values(version=SCHEMA_VERSION))
                return
            version = db.execute(sa.select(schema_version.c.version)).scalar()
            if version != SCHEMA_VERSION:
                raise ArenaUnavailable(f"the arena database has schema version {version}; this code knows "
                                       f"{SCHEMA_VERSION}")
            metadata.create_all(db)

    # ------------------------------------------------------------ battles and votes
    def issue_battle(self, session: str, sentence: str, source: str, models: tuple[str, str],
                     outputs: tuple[str, str], decoding: dict) -> str:
        """Record a battle shown to `session` (models in their A/B order) and return its id."""
        battle_id = uuid.uuid4().hex
        row = {"id": battle_id, "issued_at": time.time(), "session": session, "sentence": sentence,
               "source": source, "model_a": models[0], "model_b": models[1], "output_a": outputs[0],
               "output_b": outputs[1], "decoding": json.dumps(decoding, sort_keys=True)}
        self._retry(lambda: self._write(battles.insert().values(**row)))
        return battle_id

    def record_vote(self, battle_id: str, session: str, verdict: str) -> dict:
        """Count `verdict` for a battle issued to `session`; returns the battle (names now revealed)."""
        if verdict not in VERDICTS:
            raise VoteRefused(f"unknown verdict {verdict!r}")
        return self._retry(lambda: self._vote(battle_id, session, verdict))

    def _vote(self, battle_id: str, session: str, verdict: str) -> dict:
        now = time.time()
        with self.engine.begin() as db:
            battle = db.execute(sa.select(battles).where(battles.c.id == battle_id)).mappings().first()
            if battle is None:
                raise VoteRefused(Message("this battle was not issued by this server"))
            if battle["session"] != session:
                raise VoteRefused(Message("this battle belongs to another visitor"))
            if now - battle["issued_at"] > BATTLE_LIFETIME_S:
                raise VoteRefused(Message("this battle has expired: start a new one"))
            if db.execute(sa.select(votes.c.battle_id).where(votes.c.battle_id == battle_id)).first():
                raise VoteRefused(Message("you already voted on this battle"))
            recent = db.execute(sa.select(sa.func.count()).select_from(votes).where(
                votes.c.session == session, votes.c.voted_at > now - 60)).scalar()
            if recent >= self.votes_per_minute:
                raise VoteRefused(Message("at most {count} votes a minute: wait a moment", count=self.votes_per_minute))
            row = {k: battle[k] for k in ("sentence", "source", "model_a", "model_b", "output_a", "output_b",
                                          "decoding")}
            try:
                db.execute(votes.insert().values(battle_id=battle_id, voted_at=now, session=session,
                                                 words=len(battle["sentence"].split()), verdict=verdict, **row))
            except IntegrityError:  # a double click raced this one: the first vote counts
                raise VoteRefused(Message("you already voted on this battle")) from None
        return dict(battle)

    def votes(self) -> list[dict]:
        """Every vote, oldest first."""
        return self._retry(lambda: self._read(sa.select(votes).order_by(votes.c.voted_at, votes.c.battle_id)))

    def pair_counts(self) -> dict[tuple[str, str], int]:
        """Votes per unordered pair of models."""
        statement = sa.select(votes.c.model_a, votes.c.model_b, sa.func.count().label("n")).group_by(
            votes.c.model_a, votes.c.model_b)
        counts: dict[tuple[str, str], int] = {}
        for r in self._retry(lambda: self._read(statement)):  # one row per ordered pair
            pair = tuple(sorted((r["model_a"], r["model_b"])))
            counts[pair] = counts.get(pair, 0) + r["n"]
        return counts

    # ------------------------------------------------------------ plumbing
    def _write(self, statement) -> None:
        with self.engine.begin() as db:
            db.execute(statement)

    def _read(self, statement) -> list[dict]:
        with self.engine.connect() as db:
            return [dict(r) for r in db.execute(statement).mappings()]

    def _retry(self, action: Callable, attempts: int = 8):
        """Run `action`, retrying while the database is locked or briefly unreachable."""
        for attempt in range(attempts):
            try:
                return action()
            except OperationalError as exc:
                if attempt == attempts - 1:
                    raise ArenaUnavailable(Message("the vote database is busy or unreachable; nothing was recorded, "
                                               "please try again")) from exc
                time.sleep(0.05 * 2 ** attempt * (0.5 + secrets.randbelow(1000) / 1000))

    def close(self) -> None:
        self.engine.dispose()


def migrate_v1(db) -> None:
    """v1 -> v2: votes gain `words` (the source's length in words, filled in from the sentence)."""
    db.execute(sa.text("ALTER TABLE votes ADD COLUMN words INTEGER NOT NULL DEFAULT 0"))
    for battle_id, sentence in db.execute(sa.text("SELECT battle_id, sentence FROM votes")).all():
        db.execute(sa.text("UPDATE votes SET words = :w WHERE battle_id = :b"),
                   {"w": len(sentence.split()), "b": battle_id})


def _sqlite_pragmas(connection, _record) -> None:
    """WAL lets readers run beside one writer; busy_timeout waits for a lock instead of failing at once."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
