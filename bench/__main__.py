"""`python -m bench`: our provider beside node-oidc-provider, one table (bench/README.md).

    python -m bench                      3 × 10 s per cell at 1, 16 and 64 connections
    python -m bench --smoke              1 s per cell, once, at 1 and 16 (CI: it must not rot)
    python -m bench --scale              and a second table on 10,000 people, 1,000 clients,
                                         1,000,000 refresh tokens
    python -m bench --server granian --workers 2 --threads 8
"""

from __future__ import annotations

import argparse
import sys

from . import cells, scale
from .run import Options, main
from .servers import DEFAULT_SERVER, DEFAULT_THREADS, DEFAULT_WORKERS, SERVERS, ServerChoice


def _positive_ints(text: str) -> tuple[int, ...]:
    values = tuple(int(v) for v in text.split(","))
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("give positive integers, comma-separated")
    return values


def parse(argv: list[str]) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="1 s per cell, 1 repetition, 1 and 16 connections, no scale")
    p.add_argument("--seconds", type=int, help="duration of one measurement, whole seconds (default 10)")
    p.add_argument("--repetitions", type=int, help="measurements per side and cell (default 3)")
    p.add_argument("--connections", type=_positive_ints, help="comma-separated (default 1,16,64)")
    p.add_argument("--server", choices=SERVERS, default=DEFAULT_SERVER, help=f"our server (default {DEFAULT_SERVER})")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help=f"our worker processes (default {DEFAULT_WORKERS})")
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help=f"threads per worker, gthread and granian (default {DEFAULT_THREADS})")
    p.add_argument("--peer-workers", type=int, default=2,
                   help="node-oidc-provider processes; 1 = one process with its in-memory adapter (default 2, over Redis)")
    p.add_argument("--endpoints", help="comma-separated subset of: " + ", ".join(e.key for e in cells.ENDPOINTS))
    p.add_argument("--people", type=int, help="people signing in with a password (default 32; smoke 8)")
    p.add_argument("--warmup", type=int,
                   help="seconds of warm-up per side on two endpoints before the table (default 2; smoke 0)")
    p.add_argument("--scale", action="store_true", help="also the large-database table")
    p.add_argument("--scale-refresh-tokens", type=int, default=scale.Sizes.refresh_tokens)
    p.add_argument("--keep", action="store_true", help="keep the scratch folder (logs) after the run")
    a = p.parse_args(argv)
    if a.smoke and a.scale:
        p.error("--smoke has no scale table")
    opts = Options(
        server=ServerChoice(a.server, a.workers, a.threads),
        peer_workers=a.peer_workers, scale=a.scale, keep=a.keep,
        sizes=scale.Sizes(refresh_tokens=a.scale_refresh_tokens),
    )
    if a.smoke:
        opts.seconds, opts.repetitions, opts.connections = 1, 1, (1, 16)
        opts.people, opts.warmup, opts.verify_seconds, opts.argon2_samples = 8, 0, 0.3, 5
    if a.seconds is not None:
        opts.seconds = a.seconds
    if a.repetitions is not None:
        opts.repetitions = a.repetitions
    if a.connections is not None:
        opts.connections = a.connections
    if a.warmup is not None:
        opts.warmup = a.warmup
    if a.people is not None:
        opts.people = a.people
    if a.endpoints:
        opts.endpoints = tuple(a.endpoints.split(","))
        cells.by_key(list(opts.endpoints))
    if opts.seconds <= 0 or opts.seconds > 120 or opts.repetitions < 1:
        p.error("--seconds must be in (0, 120] and --repetitions at least 1")
    return opts


if __name__ == "__main__":
    sys.exit(main(parse(sys.argv[1:])))
