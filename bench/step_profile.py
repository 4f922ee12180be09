"""The top of a cProfile dump of the bot's process, per update: cumulative and own (tottime) time."""

from __future__ import annotations

import pstats
import sys
from collections import Counter
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1]) + "/"
PREFIXES = sorted({p.rstrip("/") + "/" for p in sys.path if p}, key=len, reverse=True)


def where(file: str, line: int, function: str) -> str:
    """file:function, the file relative to site-packages (a virtualenv may lie inside the repository), the
    repository or the standard library."""
    if "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    elif file.startswith(ROOT):
        file = file.removeprefix(ROOT)
    else:
        file = next((file.removeprefix(p) for p in PREFIXES if file.startswith(p)), file)
    return f"{file}:{line}({function})" if line else function


def package(file: str) -> str:
    """The installed package, the repository's top folder, or the standard library module."""
    if "site-packages/" in file:
        return file.split("site-packages/")[1].split("/")[0]
    if file.startswith(ROOT):
        return file.removeprefix(ROOT).split("/")[0]
    return "(C functions)" if file == "~" else "stdlib " + file.rsplit("/", 1)[-1]


def top_of_profile(path: Path, updates: int, lines: int = 25) -> str:
    """Markdown tables of the profile's heaviest functions (cumulative, own time) and of own time by
    package, in ms per update. Under asyncio and SQLAlchemy's greenlets a frame's cumulative time also
    runs on while it is suspended, so cumulative figures overlap and exceed the total: read them as a
    ranking; own time (tottime) adds up."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in stats.values())
    out = [f"profiled time: {total * 1e3 / updates:.2f} ms per update ({updates} updates)"]
    for title, index in (("cumulative (overlapping)", 3), ("own time (tottime)", 2)):
        out += ["", f"by {title}:", "", "| ms/update | calls/update | function |", "|---|---|---|"]
        ranked = sorted(stats.items(), key=lambda kv: -kv[1][index])[:lines]
        for (file, line, function), values in ranked:
            out.append(
                f"| {values[index] * 1e3 / updates:.2f} | {values[1] / updates:.1f} "
                f"| {where(file, line, function)} |"
            )
    by_package: Counter[str] = Counter()
    for (file, _, _), values in stats.items():
        by_package[package(file)] += values[2]
    out += ["", "own time by package:", "", "| ms/update | share | package |", "|---|---|---|"]
    for name, spent in by_package.most_common(15):
        out.append(f"| {spent * 1e3 / updates:.2f} | {spent / total:.1%} | {name} |")
    return "\n".join(out)


if __name__ == "__main__":  # python -m bench.step_profile FILE UPDATES
    print(top_of_profile(Path(sys.argv[1]), int(sys.argv[2])))
