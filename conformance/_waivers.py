"""Waivers: accepted risks, each with a reason, an owner and an expiry date.

A waivers file is TOML::

    [[waiver]]
    id = "time.exp.skew_inside"      # a case id, or a glob ("time.exp.*")
    reason = "clock tolerance is 120 s by design (TICKET-42)"
    owner = "alice@example.com"
    expires = 2027-01-31              # the last day the waiver holds

:meth:`Waivers.apply` turns a ``fail``/``warn`` covered by an active waiver into
``waived``; an expired waiver leaves (or makes) the verdict ``fail``, so the run fails
until someone renews or removes it; a waiver on a case that now passes is ``stale``.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._exceptions import ConfigError
from ._toml_reader import read_toml

_KEYS = ("id", "reason", "owner", "expires")
_ID_RE = re.compile(r"^[a-z0-9_.*?\[\]-]+$")


@dataclass(frozen=True, slots=True)
class Waiver:
    """One accepted risk. ``id`` is a case id or an ``fnmatch`` glob over case ids."""

    id: str
    reason: str
    owner: str
    expires: dt.date

    def matches(self, case_id: str) -> bool:
        return fnmatch.fnmatchcase(case_id, self.id)

    def active(self, today: dt.date) -> bool:
        """Whether the waiver still holds on ``today`` (``expires`` is inclusive)."""
        return today <= self.expires

    def info(self, state: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "reason": self.reason,
            "owner": self.owner,
            "expires": self.expires.isoformat(),
            "state": state,
        }


class Waivers:
    """The waivers of a run (immutable: safe to share between threads)."""

    def __init__(self, entries: tuple[Waiver, ...] = (), *, source: str = "") -> None:
        self.entries = entries
        self.source = source

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"Waivers({len(self.entries)} from {self.source or '<none>'})"

    def _match(self, case_id: str, today: dt.date) -> Waiver | None:
        matching = [(i, w) for i, w in enumerate(self.entries) if w.matches(case_id)]
        if not matching:
            return None
        # An exact id beats a glob; an active waiver beats an expired one.
        matching.sort(key=lambda iw: (iw[1].id != case_id, not iw[1].active(today)))
        return matching[0][1]

    def apply(
        self, case_id: str, verdict: str, *, today: dt.date
    ) -> tuple[str, dict[str, Any] | None]:
        """The verdict after waivers, and what the report shows about the waiver.

        * ``fail``/``warn`` + active waiver → ``waived`` (state ``active``);
        * ``fail``/``warn`` + expired waiver → ``fail`` (state ``expired``);
        * ``pass`` + any waiver → ``pass`` (state ``stale``: remove the waiver);
        * ``error``/``skip`` → unchanged (state ``not_applied``): a waiver accepts a
          known behaviour, never a target that erred or a case that did not run.
        No waiver → ``(verdict, None)``.
        """
        waiver = self._match(case_id, today)
        if waiver is None:
            return verdict, None
        if verdict in {"fail", "warn"}:
            if waiver.active(today):
                return "waived", waiver.info("active")
            return "fail", waiver.info("expired")
        if verdict == "pass":
            return verdict, waiver.info("stale")
        return verdict, waiver.info("not_applied")

    def unused(self, case_ids: Iterable[str]) -> tuple[Waiver, ...]:
        """The waivers that match none of ``case_ids`` (a typo, or a renamed case): the
        run's records (so that it also holds when xdist workers applied them) and the
        catalog's ids (a waiver for a case the selection left out is not unused)."""
        ids = tuple(case_ids)
        return tuple(w for w in self.entries if not any(w.matches(i) for i in ids))


def load_waivers(path: Path | None) -> Waivers:
    """Read a waivers file (``None`` gives no waivers).

    Raises :class:`ConfigError` (one line naming the entry and the key) for an unreadable
    file, invalid TOML, an unknown key, a missing or empty ``id``/``reason``/``owner``/
    ``expires``, an ``id`` that is not a case id or glob (or waives everything), or an
    ``expires`` that is not a date (``2027-01-31``).
    """
    if path is None:
        return Waivers()
    data = read_toml(path, "waivers file")
    unknown = [k for k in data if k != "waiver"]
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]} (allowed: [[waiver]] tables)")
    raw = data.get("waiver", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: waiver must be an array of tables ([[waiver]])")
    entries = tuple(_entry(path, i, item) for i, item in enumerate(raw))
    return Waivers(entries, source=str(path))


def _entry(path: Path, index: int, item: Any) -> Waiver:
    where = f"{path}: waiver[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a table")
    for key in item:
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown key {key} (allowed: {', '.join(_KEYS)})")
    for key in ("id", "reason", "owner"):
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {key} must be a non-empty string (missing or empty)")
    case_id = item["id"].strip()
    if not _ID_RE.match(case_id):
        raise ConfigError(f"{where}: id {case_id[:60]!r} is not a case id or glob")
    if not case_id.strip("*?.[]"):
        raise ConfigError(f"{where}: id {case_id!r} would waive every case; name the cases")
    expires: Any = item.get("expires")
    if isinstance(expires, str):
        text = expires
        try:
            expires = dt.date.fromisoformat(text)
        except ValueError:
            raise ConfigError(
                f"{where}: expires {text[:30]!r} is not a date (write 2027-01-31)"
            ) from None
    if isinstance(expires, dt.datetime) or not isinstance(expires, dt.date):
        got = "missing" if expires is None else f"got {type(expires).__name__}"
        raise ConfigError(f"{where}: expires must be a date such as 2027-01-31 ({got})")
    return Waiver(
        id=case_id,
        reason=item["reason"].strip(),
        owner=item["owner"].strip(),
        expires=expires,
    )


#: What each kind of note asks of the waiver's owner, in the order they are shown.
NOTE_STATES = ("expired", "stale", "unused")


@dataclass(frozen=True, slots=True)
class WaiverNote:
    """A waiver that needs its owner: ``expired`` (its cases fail again), ``stale`` (its
    cases pass now) or ``unused`` (it matches no case of the catalog)."""

    state: str
    waiver: str
    owner: str = ""
    expires: str = ""
    cases: tuple[str, ...] = ()

    def line(self, *, shown: int = 5) -> str:
        """One line for the terminal: what happened and what to do."""
        cases = ", ".join(self.cases[:shown])
        if len(self.cases) > shown:
            cases += f" (+{len(self.cases) - shown} more)"
        if self.state == "expired":
            return (
                f"{self.waiver} expired on {self.expires} (owner {self.owner}): "
                f"{cases} fail{'s' if len(self.cases) == 1 else ''} because it expired; "
                "renew it or fix the target"
            )
        if self.state == "stale":
            return (
                f"{self.waiver} is stale (owner {self.owner}): {cases} "
                f"pass{'es' if len(self.cases) == 1 else ''} now; remove the waiver"
            )
        return (
            f"{self.waiver} is unused: it matches no case of the catalog "
            "(a misspelt id or glob, or a renamed case?)"
        )


def waiver_notes(
    cases: Iterable[tuple[str, Mapping[str, Any] | None]], unused: Iterable[str] = ()
) -> list[WaiverNote]:
    """The waivers that need their owner, from what results.json records: each case's id
    with its ``waiver`` record (``state``, ``id``, ``owner``, ``expires``), and the ids of
    the unused waivers. One note per waiver and state, expired first, then stale, unused."""
    grouped: dict[tuple[str, str], WaiverNote] = {}
    for case_id, waiver in cases:
        if not waiver or waiver.get("state") not in ("expired", "stale"):
            continue
        key = (str(waiver.get("state")), str(waiver.get("id")))
        note = grouped.get(key) or WaiverNote(
            state=key[0],
            waiver=key[1],
            owner=str(waiver.get("owner", "")),
            expires=str(waiver.get("expires", "")),
        )
        grouped[key] = WaiverNote(
            state=note.state,
            waiver=note.waiver,
            owner=note.owner,
            expires=note.expires,
            cases=(*note.cases, case_id),
        )
    notes = list(grouped.values()) + [WaiverNote(state="unused", waiver=w) for w in unused]
    return sorted(notes, key=lambda n: NOTE_STATES.index(n.state))
