"""The emulator's state: used jtis, sessions and issued elevated tokens, in SQLite.

With a directory, the database is one WAL-mode file shared by every worker process;
``":memory:"`` keeps a private database in this process. Single use rests on the
database, not on Python: a jti is recorded with one ``INSERT`` against a primary key, so
of two concurrent identical inserts (threads or processes) exactly one succeeds.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from .config import MEMORY

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jti (
    env TEXT NOT NULL, jti TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (env, jti)
);
CREATE TABLE IF NOT EXISTS session (
    sid TEXT PRIMARY KEY, env TEXT NOT NULL, subject TEXT NOT NULL, user_id TEXT NOT NULL,
    expires REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS elevated (
    jti TEXT PRIMARY KEY, sid TEXT NOT NULL, scopes TEXT NOT NULL, expires REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS elevated_sid ON elevated (sid);
"""

DB_NAME = "emulator.sqlite3"


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A signed-in user, as stored."""

    sid: str
    env: str
    subject: str
    user_id: str
    expires: float
    revoked: bool


class Store:
    """SQLite-backed state. Thread-safe; process-safe when backed by a directory.

    ``state`` is ``":memory:"`` or a directory (created if missing). Raises
    ``sqlite3.Error`` if the database cannot be opened.
    """

    def __init__(self, state: str = MEMORY) -> None:
        if state == MEMORY:
            target = ":memory:"
        else:
            directory = Path(state)
            directory.mkdir(parents=True, exist_ok=True)
            target = str(directory / DB_NAME)
        # One connection per store, serialised by a lock: SQLite work here is
        # microseconds, and a shared connection keeps ":memory:" a single database.
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            target, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA busy_timeout = 10000")
        if target != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- jti --------------------------------------------------------------------------

    def record_jti(self, env: str, jti: str, *, expires: float, now: float) -> bool:
        """Record ``jti`` as used until ``expires``; ``False`` if it was already in use.

        A stale row (past its ``expires``) is replaced: the assertion it guarded can no
        longer be valid.
        """
        with self._lock:
            self._db.execute(
                "DELETE FROM jti WHERE env = ? AND jti = ? AND expires < ?", (env, jti, now)
            )
            try:
                self._db.execute(
                    "INSERT INTO jti (env, jti, expires) VALUES (?, ?, ?)", (env, jti, expires)
                )
            except sqlite3.IntegrityError:
                return False
            return True

    def jti_seen(self, env: str, jti: str, *, now: float) -> bool:
        """Whether ``jti`` is recorded and still kept (used by the ``jti_race`` flaw only)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM jti WHERE env = ? AND jti = ? AND expires >= ?", (env, jti, now)
            ).fetchone()
        return row is not None

    def put_jti(self, env: str, jti: str, *, expires: float) -> None:
        """Record ``jti`` unconditionally (the ``jti_race`` flaw's second half)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO jti (env, jti, expires) VALUES (?, ?, ?)",
                (env, jti, expires),
            )

    def keep_newest_jtis(self, env: str, count: int) -> None:
        """Forget all but the ``count`` newest jtis of ``env`` (the ``jti_store_bounded``
        flaw: a bounded cache)."""
        with self._lock:
            self._db.execute(
                "DELETE FROM jti WHERE env = ? AND rowid NOT IN "
                "(SELECT rowid FROM jti WHERE env = ? ORDER BY rowid DESC LIMIT ?)",
                (env, env, count),
            )

    def forget_jtis(self) -> None:
        """Forget every recorded jti (tests that replay drawn examples need a clean slate)."""
        with self._lock:
            self._db.execute("DELETE FROM jti")

    def purge(self, now: float) -> None:
        """Forget jtis and elevated tokens that can no longer matter."""
        with self._lock:
            self._db.execute("DELETE FROM jti WHERE expires < ?", (now,))
            self._db.execute("DELETE FROM elevated WHERE expires < ?", (now,))

    # -- sessions ---------------------------------------------------------------------

    def add_session(self, row: SessionRow) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO session (sid, env, subject, user_id, expires, revoked) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row.sid, row.env, row.subject, row.user_id, row.expires, int(row.revoked)),
            )

    def session(self, sid: str) -> SessionRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT sid, env, subject, user_id, expires, revoked FROM session WHERE sid = ?",
                (sid,),
            ).fetchone()
        if row is None:
            return None
        return SessionRow(row[0], row[1], row[2], row[3], float(row[4]), bool(row[5]))

    def revoke_session(self, sid: str) -> None:
        with self._lock:
            self._db.execute("UPDATE session SET revoked = 1 WHERE sid = ?", (sid,))

    # -- elevated tokens --------------------------------------------------------------

    def add_elevated(self, jti: str, *, sid: str, scopes: tuple[str, ...], expires: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO elevated (jti, sid, scopes, expires) VALUES (?, ?, ?, ?)",
                (jti, sid, " ".join(scopes), expires),
            )

    def use_elevated(self, jti: str) -> bool:
        """Mark an issued elevated token used; ``False`` if unknown or already used."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE elevated SET used = 1 WHERE jti = ? AND used = 0", (jti,)
            )
            return cursor.rowcount == 1

    def has_unused_elevated(self, sid: str, scope: str, *, now: float) -> bool:
        """Whether the session holds an unused, unexpired elevated token for ``scope``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT scopes FROM elevated WHERE sid = ? AND used = 0 AND expires > ?",
                (sid, now),
            ).fetchall()
        return any(scope in str(row[0]).split(" ") for row in rows)
