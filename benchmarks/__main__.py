"""OpenROI benchmarks: figures printed, never asserted (tests pin query counts, not times).

    make bench                          # every benchmark, in order
    make bench ARGS="pages"             # staff pages and API on the demo data
    make bench ARGS="portal"            # the requestor portal's status page: requests/s and p95, beside a bare view
    make bench ARGS="urgency"           # aging/priority refresh over the 1,000,000-request data set
    make bench ARGS="escalations"       # escalation evaluation over the same data set
    make bench ARGS="queue"             # queue pages (first and 1,000 pages deep) and claim-next concurrency
    make bench ARGS="dashboard"         # the supervisor dashboard and the daily snapshot job, beside their raw SQL
    make bench ARGS="packets"           # release packets of 100, 1,000 and 5,000 pages beside qpdf copying them
    make bench ARGS="scope"             # the signed tenant scope's check, beside the unsigned setting it replaced
    make bench ARGS="search"            # the header's search: tracking number, MRN, names, dates, a miss
    make bench ARGS="page_images"       # the document viewer's pages drawn cold and cached, beside pdftoppm

Each uses its own database (the configured one with a `_bench` suffix), never the data of `make run`.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "pages",
    "portal",
    "urgency",
    "escalations",
    "queue",
    "dashboard",
    "packets",
    "scope",
    "search",
    "page_images",
]


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    chosen = [argv[0]] if argv and argv[0] in BENCHMARKS else BENCHMARKS
    rest = argv[1:] if argv and argv[0] in BENCHMARKS else argv
    status = 0
    for name in chosen:
        try:
            module = importlib.import_module(f"benchmarks.{name}")
        except ModuleNotFoundError as error:
            print(f"benchmark {name}: not available ({error})")
            status = 1
            continue
        print(f"\n=== benchmark: {name} ===", flush=True)
        status = module.main(rest) or status
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
