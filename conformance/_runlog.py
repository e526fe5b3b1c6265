"""The log of a run: case records, facts, retries and the target's description, kept by
each process and merged on the xdist controller (workers send it as JSON through
``workeroutput``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunLog:
    records: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    retries: int = 0
    target: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> str:
        """What an xdist worker sends to the controller."""
        return json.dumps(
            {
                "records": self.records,
                "facts": self.facts,
                "retries": self.retries,
                "target": self.target,
            }
        )

    def merge(self, payload: str) -> None:
        """Add a worker's log (the controller runs no case itself)."""
        data: Mapping[str, Any] = json.loads(payload)
        self.records.extend(data.get("records", ()))
        self.facts.update(data.get("facts", {}))
        self.retries += int(data.get("retries", 0))
        if data.get("target"):
            self.target = dict(data["target"])
