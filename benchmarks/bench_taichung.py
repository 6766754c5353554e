"""Preprocessing speed and rejection rate of the Taichung reader (boxes -> upright crops).

    python benchmarks/bench_taichung.py [--images 50] [--data ../shared/data/taichung]

Reads the first ``--images`` metaphases (one process, no cache) and prints boxes/s, the share of
boxes rejected by reason and the chromosomes kept per class.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path


def main() -> None:
    from napari_karyotype.datasets.taichung import Stats, read_taichung

    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=50)
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "taichung"
    parser.add_argument("--data", default=str(default))
    args = parser.parse_args()
    ids = sorted(p.stem for p in (Path(args.data) / "annotations").glob("*.xml"))[: args.images]
    stats = Stats()
    start = time.perf_counter()
    chromosomes = read_taichung(args.data, ids=ids, stats=stats)
    seconds = time.perf_counter() - start
    print(
        f"{len(ids)} images, {stats.boxes} boxes in {seconds:.1f} s: "
        f"{stats.boxes / seconds:.0f} boxes/s"
    )
    print(f"kept {len(chromosomes)}; rejected {stats.rejection_rate:.1%}:")
    for why, n in sorted(stats.rejected.items(), key=lambda kv: -kv[1]):
        print(f"  {why}: {n / stats.boxes:.1%}")
    print("kept per class:", dict(Counter(c.cls for c in chromosomes)))


if __name__ == "__main__":
    main()
