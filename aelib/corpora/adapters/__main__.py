"""Command line: ``python -m aelib.corpora.adapters NAME SRC_DIR --out OUT_DIR [options]``.

``python -m aelib.corpora.adapters NAME --help`` lists a dataset's options. Exit status 0 on success,
2 when the dataset folder is wrong or incomplete (the message says what was expected where).
"""
from __future__ import annotations

import argparse
import sys
import warnings

from ...errors import guard
from ..manifest import ManifestError
from . import ADAPTERS
from .common import AdapterWarning
from .noise import ESC_URBAN, NOISE_NAMES


def _percent_or_all(value: str) -> float | str:
    return "all" if value.lower() == "all" else float(value)


def _fractions(p: argparse.ArgumentParser, val: float, test: float | None, what: str) -> None:
    p.add_argument("--val-frac", type=float, default=val, help=f"fraction of {what} held out for val (default {val})")
    if test is not None:
        p.add_argument("--test-frac", type=float, default=test, help=f"fraction of {what} for test (default {test})")


def _noise_opts(p: argparse.ArgumentParser, unseen: str) -> None:
    p.add_argument("--unseen-types", default=unseen,
                   help=f"comma-separated types never trained on -> test_unseen; 'none' for none (default {unseen})")
    p.add_argument("--types", default=None, help="comma-separated types to keep (default: all)")
    p.add_argument("--manifest", default="noise.csv", choices=NOISE_NAMES,
                   help="manifest file: noise.csv (speech tasks) or noise_asc.csv (interferers for asc)")


def _options(name: str, p: argparse.ArgumentParser) -> None:
    """The dataset-specific options; dest names are the adapter's keyword arguments."""
    if name == "speechcommands":
        p.add_argument("--all-words", action="store_true", help="keep all 35 words as labels (no _unknown_)")
        p.add_argument("--unknown-percent", type=_percent_or_all, default=10.0,
                       help="_unknown_ rows per split in %% of its core-word rows, or 'all' (default 10, as the "
                            "official recipe)")
        p.add_argument("--silence-percent", type=float, default=10.0,
                       help="1-s _silence_ clips per split in %% of its word rows; 0 = none (default 10)")
        p.add_argument("--no-noise", dest="noise", action="store_false", help="do not write noise.csv")
    elif name == "librispeech":
        p.add_argument("--split", choices=("train", "val", "test"), default=None,
                       help="split of a single subset folder whose name is not a standard one")
        p.add_argument("--max-seconds", type=float, default=None, help="drop utterances longer than this")
    elif name in ("ravdess", "cremad", "emodb"):
        p.add_argument("--all-classes", dest="four_class", action="store_false",
                       help="keep every emotion (default: neutral/happy/sad/angry, the embedded proxy's classes)")
        _fractions(p, 0.15, 0.15, "speakers")
        if name == "ravdess":
            p.add_argument("--calm-as-neutral", action="store_true", help="label 'calm' as neutral (default: drop)")
            p.add_argument("--include-song", action="store_true", help="also use the sung files (vocal channel 02)")
    elif name == "tau2020mobile":
        _fractions(p, 0.15, None, "each scene's train locations")
        p.add_argument("--devices", default=None, help="comma-separated devices to keep, e.g. a,b,c (default all)")
    elif name == "demand":
        _noise_opts(p, "transportation")
        p.add_argument("--channel", type=int, default=1, help="microphone channel to use (default 1: ch01.wav)")
    elif name == "musan":
        _noise_opts(p, "music")
        _fractions(p, 0.1, 0.1, "each seen type's files")
    elif name == "esc50":
        _noise_opts(p, ",".join(ESC_URBAN))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m aelib.corpora.adapters",
        description="Turn a real dataset folder into aelib manifests (absolute paths; nothing is downloaded "
                    "or copied). Point a study at OUT_DIR with Config(data_dir=OUT_DIR).")
    sub = parser.add_subparsers(dest="adapter", required=True, metavar="NAME")
    for name, fn in ADAPTERS.items():
        p = sub.add_parser(name, help=(fn.__doc__ or "").strip().splitlines()[0].replace("``", ""),
                           description=sys.modules[fn.__module__].__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("src", metavar="SRC_DIR", help="the extracted dataset folder")
        p.add_argument("--out", required=True, metavar="OUT_DIR", help="folder for the manifests")
        p.add_argument("--seed", type=int, default=0, help="seed of the splits (default 0)")
        g = p.add_mutually_exclusive_group()
        g.add_argument("--merge", action="store_true",
                       help="add rows to an existing manifest of another corpus (same paths are replaced)")
        g.add_argument("--overwrite", action="store_true", help="replace an existing manifest of another corpus")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        _options(name, p)
    return parser


def _one_line(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


@guard
def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    name, src, out = args.pop("adapter"), args.pop("src"), args.pop("out")
    args["progress"] = not args.pop("quiet")
    with warnings.catch_warnings():
        warnings.simplefilter("always", AdapterWarning)
        warnings.showwarning = _one_line  # restored when the block ends
        try:
            result = ADAPTERS[name](src, out, **args)
        except (FileNotFoundError, ManifestError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
