"""The hypervolume targets of the sampler benchmark, read from several JSON files at once.

A suite at 100 trials and 5 seeds takes hours on two cores, so it runs as several
``studies.benchmark`` commands (a problem, or a few samplers, each); this merges their runs,
keeps the cells that have ``--seeds`` seeds, and prints the docs' table (median [min, max] of
the normalised hypervolume at each checkpoint, median seconds per suggestion), the mean rank
of each sampler by median HV per checkpoint, and on how many problems ``--sampler``'s median
beats each peer's. The issue's targets: the best mean rank, and above qNParEGO on at least
80 % of the problems.

A sampler that lacks a cell some peer has (a run too long to finish) is ranked only where every
sampler is complete; beside that, each missing median is put at every place it can take among
the peers' medians on its problem (below all, between each two, above all), and the range of
every mean rank over all these cases bounds what the missing runs can change. Where the cell
has shorter runs of every seed (a 50-trial study of a 100-trial suite), their median is exact
at the checkpoints they reach, and a floor beyond: a seeded run reproduces, so the longer run
would begin with the shorter, and the hypervolume of the points found so far never falls as
trials are added, so neither does a median over seeds.

    python -m studies.targets results/full100_*.json --checkpoints 25,50,100 \\
        --out results/targets100.json
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import itertools
import json
import math
from pathlib import Path
import statistics
import sys
from typing import Any

from studies.benchmark import mean_ranks
from studies.benchmark import summarize

_Key = tuple[str, str, int]  # (problem, sampler, seed)
_MAX_CASES = 100_000  # placements of the missing medians that rank_bounds enumerates at most


def load_runs(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The runs of several benchmark JSON files, each (problem, sampler, seed) once.

    The same run in two files (a rerun: seeded runs reproduce) is kept once, the longer where
    one run's hypervolumes begin the other's (a study of the same seed run for more trials);
    two files that disagree on a run's hypervolumes raise ``ValueError`` naming the run and both
    files.
    """
    runs: dict[_Key, tuple[dict[str, Any], Path]] = {}
    for path in paths:
        try:
            found = json.loads(path.read_text())["runs"]
            keyed = [((r["problem"], r["sampler"], int(r["seed"])), r) for r in found]
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: not a studies.benchmark JSON ({err!r})") from err
        for key, run in keyed:
            if key not in runs:
                runs[key] = (run, path)
                continue
            short, long = sorted((runs[key][0]["hv"], run["hv"]), key=len)
            if long[: len(short)] != short:
                raise ValueError(f"{key} differs between {runs[key][1]} and {path}")
            if len(run["hv"]) > len(runs[key][0]["hv"]):
                runs[key] = (run, path)
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
    Mean ranks count the problems where every sampler is complete; with cells missing,
    ``rank_bounds`` gives what the missing medians can make of them.
    """
    long = [r for r in runs if len(r["hv"]) >= checkpoints[-1]]
    rows = [r for r in summarize(long, checkpoints, n_startup=n_startup) if r["seeds"] == seeds]
    incomplete = sorted(
        {(r["problem"], r["sampler"]) for r in runs} - {(r["problem"], r["sampler"]) for r in rows}
    )
    median = {(r["problem"], r["sampler"]): r for r in rows}
    problems = sorted({p for p, _ in median})
    samplers = sorted({s for _, s in median})
    missing = [(p, s) for p in problems for s in samplers if (p, s) not in median]
    gapped = {p for p, _ in missing}
    common = [r for r in rows if r["problem"] not in gapped]
    peers = [s for s in samplers if s != sampler]
    result: dict[str, Any] = {
        "rows": rows,
        "incomplete": incomplete,
        "missing": missing,
        "common_problems": sorted({r["problem"] for r in common}),
        "checkpoints": {},
    }
    for c in checkpoints:
        key = f"hv@{c}"
        wins = {}
        for peer in peers:
            both = sorted(p for p, s in median if s == peer and (p, sampler) in median)
            ahead = [p for p in both if median[p, sampler][key][0] > median[p, peer][key][0]]
            wins[peer] = {"ahead": ahead, "problems": len(both)}
        found = {"mean_rank": mean_ranks(common, key), "wins": wins}
        if missing:
            floors = _floors(runs, missing, c, seeds=seeds)
            found["rank_bounds"] = rank_bounds(rows, missing, key, sampler=sampler, floors=floors)
        result["checkpoints"][key] = found
    return result


def _floors(
    runs: list[dict[str, Any]], missing: list[tuple[str, str]], checkpoint: int, *, seeds: int
) -> dict[tuple[str, str], tuple[float, bool]]:
    """(median, exact) at ``checkpoint`` of each missing cell that has shorter runs of ``seeds``
    seeds: the median at the checkpoint where they reach it, else at their shortest length."""
    floors = {}
    for cell in missing:
        group = [r["hv"] for r in runs if (r["problem"], r["sampler"]) == cell]
        if len(group) == seeds:
            n = min(checkpoint, *map(len, group))
            floors[cell] = (statistics.median(hv[n - 1] for hv in group), n == checkpoint)
    return floors


def rank_bounds(
    rows: list[dict[str, Any]],
    missing: list[tuple[str, str]],
    key: str,
    *,
    sampler: str,
    floors: dict[tuple[str, str], tuple[float, bool]] | None = None,
) -> dict[str, Any]:
    """Each mean rank's [min, max] over every place the ``missing`` medians can take.

    A missing (problem, sampler) median goes below, between or above the other medians on its
    problem (k distinct medians: k + 1 places; a tie is a boundary of two of them); a cell in
    ``floors`` takes its value where that is exact, else only the places at or above it. Every
    combination is one case. Also how many cases have ``sampler`` alone lowest, and tied lowest.
    """
    floors = floors or {}
    places = []
    for cell in missing:
        known = sorted({r[key][0] for r in rows if r["problem"] == cell[0]})  # (k,)
        edges = [known[0] - 1.0, *known, known[-1] + 1.0]
        floor, exact = floors.get(cell, (-math.inf, False))
        if exact:
            places.append([floor])
        else:  # one value inside each of the k + 1 gaps that reach above the floor
            places.append([(lo + hi) / 2 for lo, hi in itertools.pairwise(edges) if hi > floor])
    n_cases = math.prod(len(values) for values in places)
    if n_cases > _MAX_CASES:
        raise ValueError(f"{len(missing)} missing cells give {n_cases} cases (> {_MAX_CASES})")
    bounds: dict[str, list[float]] = {}
    alone = tied = 0
    for case in itertools.product(*places):
        filled = rows + [
            {"problem": p, "sampler": s, key: (v, v, v)}
            for (p, s), v in zip(missing, case, strict=True)
        ]
        ranks = mean_ranks(filled, key)
        for s, r in ranks.items():
            low, high = bounds.setdefault(s, [r, r])
            bounds[s] = [min(low, r), max(high, r)]
        best = min(ranks.values())
        if sampler in ranks and ranks[sampler] == best:
            if sum(r == best for r in ranks.values()) == 1:
                alone += 1
            else:
                tied += 1
    ordered = dict(sorted(bounds.items(), key=lambda t: t[1]))
    return {
        "bounds": ordered,
        "cases": n_cases,
        "lowest_alone": alone,
        "lowest_tied": tied,
        "floors": [[p, s, v, exact] for (p, s), (v, exact) in floors.items()],
    }


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
    try:
        result = evaluate(
            runs, checkpoints, seeds=args.seeds, n_startup=args.startup, sampler=args.sampler
        )
    except ValueError as err:
        parser.error(str(err))
    print("\n".join(_markdown(result["rows"], checkpoints)))
    for key, found in result["checkpoints"].items():
        ranks = ", ".join(f"{s} {r:.2f}" for s, r in found["mean_rank"].items())
        wins = "; ".join(
            f"above {peer} on {len(w['ahead'])} of {w['problems']}"
            for peer, w in found["wins"].items()
        )
        print(f"{key}: mean rank {ranks}; {args.sampler} {wins}")
        if "rank_bounds" in found:
            b = found["rank_bounds"]
            spans = ", ".join(
                f"{s} {lo:.2f}" + (f"-{hi:.2f}" if hi > lo else "")
                for s, (lo, hi) in b["bounds"].items()
            )
            print(
                f"  {key} with the missing medians, {b['cases']} cases: mean rank {spans}; "
                f"{args.sampler} lowest alone in {b['lowest_alone']}, tied in {b['lowest_tied']}"
            )
            for problem, name, value, exact in b["floors"]:
                print(
                    f"    {name} on {problem}: {'=' if exact else '>='} {value:.3f} (shorter runs)"
                )
    if result["missing"]:
        print(
            f"mean rank over {result['common_problems']}; "
            f"missing (ranked at every place): {result['missing']}"
        )
    if result["incomplete"]:
        print(f"left out (fewer than {args.seeds} seeds): {result['incomplete']}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
