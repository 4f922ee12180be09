"""Trim the Bot API spec (api.json) to what the emulator needs: method fields, returns and version.

Usage: python -m sandbox.trim_spec ../shared/telegram-bot-api/api.json [out.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DEFAULT_OUT = Path(__file__).with_name("botapi_spec.json")


def trim(spec: dict) -> dict:
    """Return the trimmed spec: version plus methods → fields(name, types, required) and returns."""
    methods = {}
    for name, method in sorted(spec["methods"].items()):
        methods[name] = {
            "returns": method.get("returns", []),
            "fields": [
                {"name": f["name"], "types": f["types"], "required": bool(f["required"])}
                for f in method.get("fields", [])
            ],
        }
    return {
        "version": spec["version"],
        "release_date": spec.get("release_date", ""),
        "methods": methods,
    }


def main(argv: list[str]) -> int:
    """Read the full spec from argv[0] and write the trimmed copy (argv[1] or the packaged path)."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    source = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    # One method per line keeps diffs readable when the spec is regenerated.
    trimmed = trim(source)
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in trimmed["methods"].items()]
    text = (
        "{\n"
        f'"version": {json.dumps(trimmed["version"])},\n'
        f'"release_date": {json.dumps(trimmed["release_date"])},\n'
        '"methods": {\n' + ",\n".join(lines) + "\n}\n}\n"
    )
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} ({len(trimmed['methods'])} methods, {trimmed['version']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
