"""The cursor of an HTTP source read by change time with an overlap window (Open311, JSON over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import SourceError

# A change can become visible a little after its time (the source's clock behind ours, a late commit): each run
# reads again the changes of the last ten minutes before its cursor. Re-reads cost little: what is unchanged is
# skipped here, and merge by key writes nothing for it anyway.
DEFAULT_LOOKBACK_SECONDS = 600


def exact_time(moment: datetime) -> str:
    """A time in UTC to the microsecond: a cursor that rounded would see an item with a fraction as changed every run."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _stored_time(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment


@dataclass(frozen=True)
class OverlapCursor:
    """The newest change time stored, and the change time of every item read in the overlap before it, by key.

    The time is never later than the start of the run that stored it: an item updated while that run paged may
    sit on a page it had already read, so the next run reads from before that moment.
    """

    updated: datetime | None = None
    seen: Mapping[str, datetime] = field(default_factory=dict)

    @classmethod
    def decode(cls, text: str | None, source_kind: str) -> OverlapCursor:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            moment = _stored_time(data["updated"])
            seen = {str(key): _stored_time(changed) for key, changed in data.get("seen", {}).items()}
            # A cursor written before "seen" existed lists the keys read at its time.
            seen.update({str(key): moment for key in data.get("ids", [])})
            return cls(moment, seen)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise SourceError(f"stored cursor {text[:80]!r} is not {source_kind} cursor", retryable=False) from error

    def floor(self, overlap: timedelta) -> datetime | None:
        """Where the next read starts: the cursor less the overlap (None: from the beginning)."""
        return None if self.updated is None else self.updated - overlap


class OverlapScan:
    """One run's pass over a source: which items to take, and the cursor to store once the scan is complete."""

    def __init__(self, cursor: OverlapCursor, overlap: timedelta, started: datetime) -> None:
        self.cursor = cursor
        self.overlap = overlap
        self.started = started
        self.floor = cursor.floor(overlap)
        self.newest = cursor.updated
        self.read: dict[str, datetime] = {}  # every item read, with its change time, for the next cursor's "seen"
        self.taken: set[tuple[str, datetime | None]] = set()  # an item repeated on a later page is taken once

    def take(self, key: str | None, changed: datetime | None) -> bool:
        """Whether to store this item: new or changed since an earlier run, and not taken already in this one."""
        if key and changed is not None:
            self.read[key] = max(changed, self.read.get(key, changed))
        if key and (key, changed) in self.taken:
            return False
        if (
            self.floor is not None
            and changed is not None
            and (changed < self.floor or self.cursor.seen.get(key or "") == changed)
        ):
            return False  # stored by an earlier run
        if key:
            self.taken.add((key, changed))
        if changed is not None and (self.newest is None or changed > self.newest):
            self.newest = changed
        return True

    def next_cursor(self) -> str | None:
        """The cursor after a complete scan (None when nothing with a change time was read)."""
        if self.newest is None:
            return None
        # Not past the run's start (see OverlapCursor); never back either, which a source clock ahead of ours
        # would cause: the overlap covers that case.
        since = self.cursor.updated
        moment = min(self.newest, self.started) if since is None else max(since, min(self.newest, self.started))
        floor = moment - self.overlap
        seen = {key: exact_time(changed) for key, changed in sorted(self.read.items()) if changed >= floor}
        return json.dumps({"updated": exact_time(moment), "seen": seen})
