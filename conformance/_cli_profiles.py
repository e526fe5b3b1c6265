"""``conformance profiles``: the shipped declarative profiles (``docs/profiles.md``)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    profiles = sub.add_parser(
        "profiles",
        help="list the shipped declarative profiles (use one with run --profile NAME)",
        description="The profiles shipped with the package: name, what endpoint it "
        "describes, where its contract is documented, and its base semantics. Run one "
        "with 'conformance run --profile NAME --config FILE', or write your own "
        "(docs/profiles.md) and point [target] profile_file at it.",
    )
    profiles.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format"
    )
    profiles.set_defaults(func=list_profiles)


def list_profiles(args: argparse.Namespace) -> int:
    from ._profile import shipped, shipped_names  # lazy: `conformance --help` stays light

    loaded = [shipped(name) for name in shipped_names()]
    if args.format == "json":
        rows = [
            {
                "name": p.name,
                "description": p.description,
                "source": p.source,
                "semantics": p.semantics,
                "params": {
                    n: {
                        "required": q.required,
                        "default": q.default,
                        "kind": q.kind,
                        "secret": q.secret,
                    }
                    for n, q in p.params.items()
                },
            }
            for p in loaded
        ]
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(p.name) for p in loaded)
    for p in loaded:
        print(f"{p.name:<{width}}  {p.description}")
        print(f"{'':<{width}}  source: {p.source} (semantics {p.semantics})")
        keys = [n if q.required else f"[{n}]" for n, q in p.params.items()]
        if "client_id" in p.request.placeholders and "client_id" not in p.params:
            keys.insert(0, "client_id")
        keys.insert(0, "issuer" if p.base == "dynamic" else "[issuer]")
        print(f"{'':<{width}}  [target] keys: {', '.join(keys)}, keys ([optional])")
    return 0
