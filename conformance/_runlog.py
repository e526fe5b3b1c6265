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
    #: the case ids pytest collected (after -k/-m); every worker collects them all
    selected: list[str] = field(default_factory=list)
    #: why the run stopped early (Ctrl-C, -x, a crashed worker); empty when it did not
    stopped: list[str] = field(default_factory=list)

    def payload(self) -> str:
        """What an xdist worker sends to the controller."""
        return json.dumps(
            {
                "records": self.records,
                "facts": self.facts,
                "retries": self.retries,
                "target": self.target,
                "selected": self.selected,
                "stopped": self.stopped,
            }
        )

    def merge(self, payload: str) -> None:
        """Add a worker's log (the controller runs no case itself)."""
        data: Mapping[str, Any] = json.loads(payload)
        self.records.extend(data.get("records", ()))
        self.facts.update(data.get("facts", {}))
        self.retries += int(data.get("retries", 0))
        for case_id in data.get("selected", ()):
            if case_id not in self.selected:
                self.selected.append(case_id)
        for why in data.get("stopped", ()):
            if why not in self.stopped:
                self.stopped.append(why)
        if data.get("target"):
            self.target = dict(data["target"])
