"""The top of a cProfile dump of the bot's process, per update: cumulative and own (tottime) time."""

from __future__ import annotations

import pstats
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1]) + "/"
PREFIXES = sorted({p.rstrip("/") + "/" for p in sys.path if p}, key=len, reverse=True)


def where(file: str, line: int, function: str) -> str:
    """file:function, the file relative to the repository or to site-packages / the standard library."""
    if file.startswith(ROOT):
        file = file.removeprefix(ROOT)
    else:
        file = next((file.removeprefix(p) for p in PREFIXES if file.startswith(p)), file)
    return f"{file}:{line}({function})" if line else function


def top_of_profile(path: Path, updates: int, lines: int = 25) -> str:
    """Two markdown tables of the profile's heaviest functions, in ms per update and share of the total."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in stats.values())
    out = [f"profiled time: {total * 1e3 / updates:.2f} ms per update ({updates} updates)"]
    for title, index in (("cumulative", 3), ("tottime (own time)", 2)):
        out += [
            "",
            f"by {title}:",
            "",
            "| ms/update | share | calls/update | function |",
            "|---|---|---|---|",
        ]
        ranked = sorted(stats.items(), key=lambda kv: -kv[1][index])[:lines]
        for (file, line, function), values in ranked:
            spent = values[index]
            out.append(
                f"| {spent * 1e3 / updates:.2f} | {spent / total:.1%} | {values[1] / updates:.1f} "
                f"| {where(file, line, function)} |"
            )
    return "\n".join(out)


if __name__ == "__main__":  # python -m bench.step_profile FILE UPDATES
    print(top_of_profile(Path(sys.argv[1]), int(sys.argv[2])))
