"""The hypervolume targets of the sampler benchmark, read from several JSON files at once.

A suite at 100 trials and 5 seeds takes hours on two cores, so it runs as several
``studies.benchmark`` commands (a problem, or a few samplers, each); this merges their runs,
keeps the cells that have ``--seeds`` seeds, and prints the docs' table (median [min, max] of
the normalised hypervolume at each checkpoint, median seconds per suggestion), the mean rank
of each sampler by median HV per checkpoint, and on how many problems ``--sampler``'s median
beats each peer's. The issue's targets: the best mean rank, and above qNParEGO on at least
80 % of the problems.

    python -m studies.targets results/full100_*.json --checkpoints 25,50,100 \\
        --out results/targets100.json
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
from pathlib import Path
import sys
from typing import Any

from studies.benchmark import mean_ranks
from studies.benchmark import summarize

_Key = tuple[str, str, int]  # (problem, sampler, seed)


def load_runs(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The runs of several benchmark JSON files, each (problem, sampler, seed) once.

    The same run in two files (a rerun: seeded runs reproduce) is kept once; two files that
    disagree on a run's hypervolumes raise ``ValueError`` naming the run and both files.
    """
    runs: dict[_Key, tuple[dict[str, Any], Path]] = {}
    for path in paths:
        try:
            found = json.loads(path.read_text())["runs"]
            keyed = [((r["problem"], r["sampler"], int(r["seed"])), r) for r in found]
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: not a studies.benchmark JSON ({err!r})") from err
        for key, run in keyed:
            if key in runs and runs[key][0]["hv"] != run["hv"]:
                raise ValueError(f"{key} differs between {runs[key][1]} and {path}")
            runs.setdefault(key, (run, path))
    return [run for run, _ in runs.values()]


def evaluate(
    runs: list[dict[str, Any]],
    checkpoints: list[int],
    *,
    seeds: int,
    n_startup: int,
    sampler: str,
) -> dict[str, Any]:
    """Table rows of the complete cells, mean ranks and ``sampler``'s wins per checkpoint.

    A cell (problem, sampler) is complete with ``seeds`` runs of at least the last checkpoint's
    length; only problems where ``sampler`` and a peer are both complete count for that peer.
    """
    long = [r for r in runs if len(r["hv"]) >= checkpoints[-1]]
    rows = [r for r in summarize(long, checkpoints, n_startup=n_startup) if r["seeds"] == seeds]
    incomplete = sorted(
        {(r["problem"], r["sampler"]) for r in runs} - {(r["problem"], r["sampler"]) for r in rows}
    )
    median = {(r["problem"], r["sampler"]): r for r in rows}
    peers = sorted({s for _, s in median} - {sampler})
    result: dict[str, Any] = {"rows": rows, "incomplete": incomplete, "checkpoints": {}}
    for c in checkpoints:
        key = f"hv@{c}"
        wins = {}
        for peer in peers:
            both = sorted(p for p, s in median if s == peer and (p, sampler) in median)
            ahead = [p for p in both if median[p, sampler][key][0] > median[p, peer][key][0]]
            wins[peer] = {"ahead": ahead, "problems": len(both)}
        result["checkpoints"][key] = {"mean_rank": mean_ranks(rows, key), "wins": wins}
    return result


def _markdown(rows: list[dict[str, Any]], checkpoints: list[int]) -> list[str]:
    """The docs' table: best median per problem and checkpoint in bold."""
    head = ["problem", "sampler", *(f"HV@{c}" for c in checkpoints), "s/suggest (median; last)"]
    lines = ["| " + " | ".join(head) + " |", "| --- | --- |" + " ---: |" * (len(head) - 2)]
    for row in rows:
        same = [r for r in rows if r["problem"] == row["problem"]]
        cells = [row["problem"], row["sampler"]]
        for c in checkpoints:
            med, low, high = row[f"hv@{c}"]
            text = f"{med:.3f}"
            if med == max(r[f"hv@{c}"][0] for r in same):
                text = f"**{text}**"
            cells.append(f"{text} [{low:.3f}, {high:.3f}]")
        cells.append(f"{row['sec_median']:.2f}; {row['sec_last']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m studies.targets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", type=Path, help="studies.benchmark JSON files")
    parser.add_argument("--checkpoints", default="25,50,100", help="trial counts")
    parser.add_argument("--seeds", type=int, default=5, help="seeds a complete cell has")
    parser.add_argument("--startup", type=int, default=10, help="start-up trials (seconds)")
    parser.add_argument("--sampler", default="ars", help="the sampler whose wins are counted")
    parser.add_argument("--out", type=Path, default=None, help="JSON of the result")
    args = parser.parse_args(argv)
    try:
        checkpoints = sorted({int(c) for c in args.checkpoints.split(",")})
    except ValueError:
        parser.error(f"--checkpoints {args.checkpoints!r}: comma-separated trial counts")
    if checkpoints[0] < 1 or args.seeds < 1:
        parser.error(f"--checkpoints {args.checkpoints!r} and --seeds {args.seeds} must be >= 1")
    try:
        runs = load_runs(args.files)
    except ValueError as err:
        parser.error(str(err))
    result = evaluate(
        runs, checkpoints, seeds=args.seeds, n_startup=args.startup, sampler=args.sampler
    )
    print("\n".join(_markdown(result["rows"], checkpoints)))
    for key, found in result["checkpoints"].items():
        ranks = ", ".join(f"{s} {r:.2f}" for s, r in found["mean_rank"].items())
        wins = "; ".join(
            f"above {peer} on {len(w['ahead'])} of {w['problems']}"
            for peer, w in found["wins"].items()
        )
        print(f"{key}: mean rank {ranks}; {args.sampler} {wins}")
    if result["incomplete"]:
        print(f"left out (fewer than {args.seeds} seeds): {result['incomplete']}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
