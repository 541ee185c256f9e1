"""Reader metrics for 1,000 cases x 2 readers x 6 timepoints (issue 12): prints the time of `compute_reader_metrics`.

    .venv/bin/python benchmarks/read_metrics.py [--cases 1000] [--timepoints 6] [--repeats 5]

Target: well under a second per computation. The peer measured in the same run is the time
to build the input (the dataclasses the Django layer would map its rows onto), so the ratio
shows what the metrics add on top of merely materialising the outcomes.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reads.metrics import AdjudicationRecord, AdjudicationState, CaseRead, TimepointRead, compute_reader_metrics
from reads.recist import OverallResponse

READERS = [f"reader-{i}" for i in range(6)]
RESPONSES = list(OverallResponse)


def build_input(cases: int, timepoints: int, seed: int = 7) -> tuple[list[CaseRead], list[AdjudicationRecord]]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    reads, adjudications = [], []
    for number in range(cases):
        case = f"C-{number:04d}"
        pair = rng.sample(READERS, 2)
        for reader in pair:
            tps = tuple(
                TimepointRead(f"TP{t}", rng.choice(RESPONSES), start + timedelta(days=number // 4 + 56 * t),
                              active_seconds=rng.randint(120, 2400))
                for t in range(timepoints)
            )
            reads.append(CaseRead(reader, case, tps, rng.choice(RESPONSES)))
        if rng.random() < 0.4:
            adjudications.append(AdjudicationRecord(
                case, pair[0], pair[1], AdjudicationState.DECIDED, 1, rng.choice((1, 2)),
                rng.choice(["measurement", "target_selection", "new_lesion_call"]),
                start + timedelta(days=number // 3),
            ))
    return reads, adjudications


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--timepoints", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    build_times, metric_times = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        reads, adjudications = build_input(args.cases, args.timepoints)
        t1 = time.perf_counter()
        report = compute_reader_metrics(reads, adjudications)
        report.to_dict()
        t2 = time.perf_counter()
        build_times.append(t1 - t0)
        metric_times.append(t2 - t1)
    build, metrics = statistics.median(build_times), statistics.median(metric_times)
    n_tp = sum(len(r.timepoints) for r in reads)
    print(f"{args.cases} cases x 2 readers x {args.timepoints} timepoints = {n_tp} timepoint reads, "
          f"{len(adjudications)} decisions, {len(report.pairs)} reader pairs")
    print(f"build input (peer): median {build * 1000:.1f} ms")
    print(f"compute_reader_metrics + to_dict: median {metrics * 1000:.1f} ms "
          f"({metrics / build:.2f}x the input build; target well under 1 s: {'OK' if metrics < 1 else 'SLOW'})")


if __name__ == "__main__":
    main()
