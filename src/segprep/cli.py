"""Command line: parse arguments, call ``segprep.api``, print, set the exit code. No logic here.

Exit codes: 0 success, 1 some tasks or checks failed, 2 the run could not start (bad input,
missing download, not enough space), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from segprep import __version__, api, datasets
from segprep.datasets.base import Option
from segprep.engine import workerserver
from segprep.engine.executors import SCHEDULER_ENV, default_jobs
from segprep.errors import SegprepError

MAX_FAILURES_SHOWN = 20


def main(argv: list[str] | None = None) -> int:
    _start_workers_early(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except SegprepError as exc:
        print(f"segprep: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("segprep: interrupted; rerun the same command to resume (finished files are kept)", file=sys.stderr)
        return 130


def _start_workers_early(argv: list[str]) -> None:
    """``prepare`` on local workers: their server starts warming up now, before the parser imports every
    recipe (~0.25 s earlier); ``api.prepare`` stops it at the end of the run (or at once if unused)."""
    if not argv or argv[0] != "prepare" or {"--dry-run", "--executor=dask"} & set(argv):
        return
    if "--executor" in argv and argv[argv.index("--executor") + 1:][:1] == ["dask"]:
        return
    jobs = default_jobs()
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--jobs=") else (
            argv[i + 1] if arg in ("--jobs", "-j") and i + 1 < len(argv) else None)
        if value is not None:
            jobs = int(value) if value.isdigit() else 1
    if jobs > 1 and len(argv) > 1:
        workerserver.start(datasets.compiled_codecs(argv[1]), adoptable=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segprep", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"segprep {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    listing = commands.add_parser("list", help="the datasets and the downloads each needs; with --raw, what is there")
    listing.add_argument("--raw", type=_raw_arg, default=None, help="a folder (or URL) of downloads to inspect")
    listing.set_defaults(func=_list)

    prepare = commands.add_parser("prepare", help="build data/<dataset> from the raw download")
    prepare_sets = prepare.add_subparsers(title="datasets", metavar="DATASET", required=True)
    verify = commands.add_parser("verify", help="check a prepared dataset")
    verify_sets = verify.add_subparsers(title="datasets", metavar="DATASET", required=True)
    sample = commands.add_parser("sample", help="write a miniature raw download in the official format")
    sample_sets = sample.add_subparsers(title="datasets", metavar="DATASET", required=True)

    every = prepare_sets.add_parser("all", help="every dataset whose downloads are complete in --raw (or --raw/<name>)")
    every.add_argument("--raw", required=True, type=_raw_arg, help="a folder or a URL (as for one dataset)")
    every.add_argument("--data", default=Path("data"), type=Path)
    every.add_argument("--quiet", action="store_true")
    _add_jobs(every)
    every.set_defaults(func=_prepare_all)

    for name, recipe in datasets.registry().items():
        p = prepare_sets.add_parser(name, help=recipe.TITLE, description=f"{recipe.TITLE}. Downloads:\n"
                                    + recipe.download_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--raw", required=True, type=_raw_arg,
                       help="folder with the official downloads (archives or extracted), or a URL: s3://, gs://, "
                            "https://, file://... (archives are read by byte ranges, files directly)")
        p.add_argument("--remote", action="append", default=[], metavar="HOME", choices=("cityscapes", "kitti", "coco"),
                       help="read a download missing from --raw where it is published, fetching only the members "
                            "needed: cityscapes (your account, as csDownload), kitti, coco (public); repeatable")
        p.add_argument("--data", default=Path("data"), type=Path, help="output root (default: data)")
        _add_jobs(p)
        mode = p.add_mutually_exclusive_group()
        mode.add_argument("--link", dest="placement", action="store_const", const="link",
                          help="hard-link unchanged files (copy across filesystems); the default")
        mode.add_argument("--copy", dest="placement", action="store_const", const="copy", help="always copy")
        mode.add_argument("--move", dest="placement", action="store_const", const="move",
                          help="consume the extracted source files once everything is written")
        p.add_argument("--dry-run", action="store_true", help="print the plan and the disk space it needs; write nothing")
        p.add_argument("--fail-fast", action="store_true", help="stop at the first failed task")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.add_argument("--verbose", action="store_true", help="statistics in full (e.g. every class, also without objects)")
        p.add_argument("--executor", choices=("local", "dask"), default="local",
                       help="where tasks run: local processes (default) or a Dask cluster")
        p.add_argument("--scheduler", default=None,
                       help=f"Dask scheduler address, e.g. tcp://HOST:8786 (default: ${SCHEDULER_ENV})")
        _add_options(p, recipe.OPTIONS)
        p.set_defaults(func=_prepare, dataset=name, placement="link", recipe_options=recipe.OPTIONS)

        v = verify_sets.add_parser(name, help=recipe.TITLE)
        v.add_argument("--data", default=Path("data"), type=Path, help="output root (default: data)")
        v.add_argument("--official", action="store_true", help="also compare with the published counts")
        v.add_argument("--quiet", action="store_true", help="no progress bars")
        _add_jobs(v)
        v.set_defaults(func=_verify, dataset=name)

        s = sample_sets.add_parser(name, help=recipe.TITLE)
        s.add_argument("--out", required=True, type=Path, help="folder to write the miniature download to")
        _add_jobs(s)
        _add_options(s, recipe.SAMPLE_OPTIONS)
        s.set_defaults(func=_sample, dataset=name, recipe_options=recipe.SAMPLE_OPTIONS)

    report = commands.add_parser("report", help="a static HTML report of the prepared datasets")
    report.add_argument("--data", default=Path("data"), type=Path)
    report.add_argument("--out", default=Path("report"), type=Path, help="folder for index.html and thumbnails")
    report.add_argument("--dataset", action="append", dest="names", help="only this dataset (repeatable)")
    report.add_argument("--quiet", action="store_true")
    report.add_argument("--verify", action="store_true", dest="reverify",
                        help="verify again instead of using the last verify results")
    _add_jobs(report)
    report.set_defaults(func=_report)

    download = commands.add_parser("download", help="fetch the public archives of a dataset, resumably, checked")
    download.add_argument("dataset", choices=list(datasets.registry()))
    download.add_argument("--raw", required=True, type=Path, help="folder to download into")
    download.add_argument("--use-tool", action="store_true",
                          help="run the dataset's official downloader for files behind a login (e.g. csDownload)")
    download.add_argument("--mirror", default=None,
                          help="fetch the public files from a mirror or cache instead: a base URL holding them as "
                               "MIRROR/<host>/<path> (as `wget --mirror` lays them out), or a template with {host}, "
                               "{path}, {filename}; the published sizes and checksums are still checked "
                               "(default: $SEGPREP_MIRROR)")
    download.add_argument("--quiet", action="store_true")
    download.set_defaults(func=_download)

    demo = commands.add_parser("demo", help="sample -> prepare -> verify every dataset into ./demo")
    demo.add_argument("--dir", default=Path("demo"), type=Path)
    demo.add_argument("--quiet", action="store_true")
    _add_jobs(demo)
    demo.set_defaults(func=_demo)
    return parser


def _raw_arg(text: str) -> str | Path:
    return text if "://" in text else Path(text)


def _add_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", "-j", type=int, default=None, help=f"worker processes (default: all cores, {default_jobs()})")


def _add_options(p: argparse.ArgumentParser, options: tuple[Option, ...]) -> None:
    for o in options:
        if o.flag:
            p.add_argument(f"--{o.name}", dest=o.dest, action="store_true", help=o.help)
        else:
            p.add_argument(f"--{o.name}", dest=o.dest, type=o.type, default=o.default, help=f"{o.help} (default: {o.default})")


def _recipe_options(args: argparse.Namespace) -> dict:
    return {o.dest: getattr(args, o.dest) for o in args.recipe_options}


def _list(args: argparse.Namespace) -> int:
    found = api.inventory(args.raw) if args.raw else {}
    for name, recipe in datasets.registry().items():
        print(f"{name}: {recipe.TITLE} -> data/{recipe.FOLDER}/")
        if not args.raw:
            print(recipe.download_help())
            continue
        for f in found[name]:
            print(f"  [{f.status:^7}] {f.download.filename}: {f.detail}")
    if args.raw:
        ready = [name for name, rows in found.items() if all(f.status == "found" for f in rows)]
        print(f"ready to prepare: {', '.join(ready) or 'none'}")
    return 0


def _prepare_all(args: argparse.Namespace) -> int:
    outcomes = api.prepare_all(args.raw, args.data, jobs=args.jobs, quiet=args.quiet)
    width = max(len(o.name) for o in outcomes)
    print("prepare all:")
    for o in outcomes:
        print(f"  {o.name:<{width}}  {o.status:<8}  {o.detail}")
    if not any(o.status in ("prepared", "failed") for o in outcomes):
        print(f"nothing to prepare: no dataset has all its downloads in {args.raw} (see `segprep list --raw {args.raw}`)",
              file=sys.stderr)
        return 2  # could not start, as for a single dataset whose download is missing
    return 0 if all(o.status != "failed" for o in outcomes) else 1


def _prepare(args: argparse.Namespace) -> int:
    scheduler = None
    if args.executor == "dask":
        scheduler = args.scheduler or os.environ.get(SCHEDULER_ENV)
        if not scheduler:
            raise SegprepError(f"--executor dask needs --scheduler tcp://HOST:PORT (or ${SCHEDULER_ENV})")
    summary = api.prepare(args.dataset, args.raw, args.data, jobs=args.jobs, placement=args.placement,
                          dry_run=args.dry_run, fail_fast=args.fail_fast, quiet=args.quiet,
                          options=_recipe_options(args), scheduler=scheduler, verbose=args.verbose,
                          remote=args.remote)
    if summary.dry_run:
        print(summary.plan_text)
        return 0
    print(summary.table())
    if summary.failures:
        print(f"{len(summary.failures):,} task(s) failed; every other output was written:")
        for failure in sorted(summary.failures, key=lambda r: r.key)[:MAX_FAILURES_SHOWN]:
            print(f"  {failure.key}: {failure.error}")
        if len(summary.failures) > MAX_FAILURES_SHOWN:
            print(f"  ... {len(summary.failures) - MAX_FAILURES_SHOWN:,} more")
        print(f"full list: {args.data / api.STATE_FOLDER / args.dataset / 'failures.log'}; "
              "fix the inputs and rerun the same command: finished files are kept")
    return 0 if summary.ok else 1


def _verify(args: argparse.Namespace) -> int:
    report = api.verify(args.dataset, args.data, official=args.official, jobs=args.jobs, quiet=args.quiet)
    print(report.table())
    return 0 if report.ok else 1


def _sample(args: argparse.Namespace) -> int:
    out = api.sample(args.dataset, args.out, options=_recipe_options(args), jobs=args.jobs)
    print(f"wrote a miniature {args.dataset} download to {out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    index = api.report_html(args.data, args.out, names=args.names, jobs=args.jobs, quiet=args.quiet,
                            reverify=args.reverify)
    print(f"report written: {index}")
    return 0


def _download(args: argparse.Namespace) -> int:
    outcomes = api.download(args.dataset, args.raw, use_tool=args.use_tool, quiet=args.quiet, mirror=args.mirror)
    width = max(len(o.filename) for o in outcomes)
    for o in outcomes:
        print(f"  {o.filename:<{width}}  {o.status:<13}  {o.detail}")
    if any(o.status == "manual" for o in outcomes):
        print("files marked 'manual' need a login: fetch them in a browser, then run `segprep prepare`")
    return 1 if any(o.status in ("failed", "manual") for o in outcomes) else 0


def _demo(args: argparse.Namespace) -> int:
    return 0 if api.demo(args.dir, jobs=args.jobs, quiet=args.quiet) else 1
