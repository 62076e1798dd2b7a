"""Command line of the corpora package: build the embedded corpus, or summarise a corpus root.

    python -m aelib.corpora build --size {smoke,small} [--out DIR] [--seed 0] [--force] [--workers N]
    python -m aelib.corpora summary [DIR]
    python -m aelib.corpora adapt NAME SRC_DIR --out OUT_DIR [options]   (real corpora: see .adapters)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..config import default_data_dir
from ..errors import guard
from .adapters.__main__ import main as adapt_main
from .embedded import SIZES, BuildError, build_corpus, read_build_info, summary
from .sources import SourceError


@guard
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["adapt"]:  # the real-corpus adapters keep their own command line
        return adapt_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m aelib.corpora", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build (or reuse) the offline embedded corpus")
    b.add_argument("--size", choices=tuple(SIZES), default="small", help="preset (default: small)")
    b.add_argument("--out", default=None, help="corpus root (default: $AELIB_DATA or ~/.cache/aelib/corpus/<size>)")
    b.add_argument("--seed", type=int, default=0, help="every random choice derives from it (default: 0)")
    b.add_argument("--force", action="store_true", help="remove an existing build and rebuild")
    b.add_argument("--workers", type=int, default=None, help="parallel engine calls (default: min(2, cores))")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    s = sub.add_parser("summary", help="per task/split counts, hours, voices/sources of a corpus root")
    s.add_argument("dir", nargs="?", default=None, help="corpus root (default: the small corpus)")
    sub.add_parser("adapt", help="turn a real corpus into manifests (python -m aelib.corpora adapt NAME --help)")
    args = parser.parse_args(argv)

    if args.command == "summary":
        root = args.dir or default_data_dir("small")
        if read_build_info(Path(root)) is None:
            raise BuildError(f"{root}: no finished embedded corpus (build_info.json missing); run "
                             "`python -m aelib.corpora build`")
        print(summary(root))
        return 0
    t0 = time.perf_counter()
    try:
        root = build_corpus(args.out, size=args.size, seed=args.seed, progress=not args.quiet, force=args.force,
                            workers=args.workers)
    except (SourceError, BuildError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"corpus ready at {root} ({time.perf_counter() - t0:.1f} s)")
    print(summary(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
