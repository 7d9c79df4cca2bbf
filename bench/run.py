"""One benchmark run: start everything, prepare both sides, measure every cell
interleaved (peer, ours, peer, ours, ...), print the tables, stop everything."""

from __future__ import annotations

import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher

from . import cells, cpu, fixtures, load, report, scale, servers, sysinfo, verify
from .scale import Sizes
from .servers import ROOT, VENV_BIN, ServerChoice, Stack


@dataclass
class Options:
    seconds: int = 10
    repetitions: int = 3
    connections: tuple[int, ...] = (1, 16, 64)
    server: ServerChoice = field(default_factory=ServerChoice)
    peer_workers: int = 2
    endpoints: tuple[str, ...] = tuple(e.key for e in cells.ENDPOINTS)
    people: int = 32
    warmup: int = 2  # seconds per side and warm-up endpoint
    verify_seconds: float = 3
    argon2_samples: int = 15
    scale: bool = False
    sizes: Sizes = field(default_factory=Sizes)
    keep: bool = False


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def argon2_params() -> dict:
    """The configured parameters (config.py, from the environment like the provider)."""
    sys.path.insert(0, str(ROOT))
    from config import Config

    return {"time_cost": Config.IDP_ARGON2_TIME_COST, "memory_cost": Config.IDP_ARGON2_MEMORY_KIB,
            "parallelism": Config.IDP_ARGON2_PARALLELISM}


def argon2_median_ms(samples: int) -> float:
    hasher = PasswordHasher(**argon2_params())
    digest = hasher.hash(fixtures.PASSWORD)
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        hasher.verify(digest, fixtures.PASSWORD)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _ttl() -> dict:
    sys.path.insert(0, str(ROOT))
    from config import Config

    return {"access": Config.IDP_ACCESS_TOKEN_TTL, "code": Config.IDP_CODE_TTL, "refresh": Config.IDP_REFRESH_TOKEN_TTL,
            "session": Config.IDP_SESSION_TTL, "flow": Config.IDP_FLOW_TTL}


def _terminate_on_sigterm() -> None:
    # A SIGTERM unwinds like Ctrl-C does, so every server is still stopped by its PID.
    def handler(signum, frame):  # noqa: ANN001, ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


class Run:
    def __init__(self, opts: Options):
        self.opts = opts
        self.workdir = Path(tempfile.mkdtemp(prefix="idp-bench-"))
        self.rss: dict[str, float] = {}
        self.contexts: dict[str, cells.Context] = {}
        self.procs: dict[str, servers.Process] = {}
        #: Every row measured so far, so that a run that fails still shows them.
        self.rows: list[report.Row] = []

    # --- set-up -----------------------------------------------------------------------

    def start(self, stack: Stack) -> None:
        o = self.opts
        redis, redis_url = servers.start_redis(self.workdir)
        self.redis = stack.own(redis)
        database = stack.own(servers.Database.create())
        self.database = database
        log(f"redis {redis_url}, database {database.name}, scratch {self.workdir}")

        self.ours = servers.Ours(self.workdir, database.url, redis_url + "/0")
        self.ours.cli("db", "upgrade")
        log(f"creating our clients and {o.people} people with `idp` ...")
        made = fixtures.prepare_ours(self.ours, o.people)
        proc, base = self.ours.start(o.server)
        self.procs["ours"] = stack.own(proc)
        log(f"ours: {o.server.describe()} at {base}")
        ours = fixtures.Side(
            "ours", base, made["confidential"]["client_id"], made["confidential"]["client_secret"],
            made["spa"]["client_id"], made["emails"], session_cookie_names=("idp_session",),
        )

        port = servers.free_port()
        peer_redis = redis_url + "/1" if o.peer_workers > 1 else None
        data = fixtures.peer_fixtures(self.workdir / "peer.json", port, peer_redis, o.peer_workers, made["emails"],
                                      argon2_params(), _ttl())
        proc, peer_base = servers.start_peer(self.workdir, self.workdir / "peer.json", port)
        self.procs["peer"] = stack.own(proc)
        mode = f"{o.peer_workers}-process cluster over Redis" if peer_redis else "1 process, in-memory adapter"
        log(f"peer: node-oidc-provider, {mode}, at {peer_base}")
        peer = fixtures.Side(
            "peer", peer_base, "bench-confidential", data["clients"][0]["client_secret"], "bench-spa",
            made["emails"], resource=fixtures.RS256_RESOURCE, interaction_cookies=True,
            session_cookie_names=("_session",),
        )
        self.peer_mode = mode
        for side in (peer, ours):
            log(f"{side.name}: every person signs in once ...")
            browser = side.prepare_browsers()
            self.contexts[side.name] = cells.Context(side, browser, self.workdir)

    def warm_up(self) -> None:
        if self.opts.warmup <= 0:
            return
        log(f"warming up ({2 * self.opts.warmup} s per side) ...")
        for name in ("peer", "ours"):
            ctx = self.contexts[name]
            for key in ("cc_rs256", "flow_signed_in"):
                endpoint = cells.by_key([key])[0]
                load.run(endpoint.prepare(ctx, 16), 16, self.opts.warmup)

    # --- measuring ----------------------------------------------------------------------

    def measure(self, endpoints: list[cells.Endpoint], sides: tuple[str, ...], stack: Stack) -> list[report.Row]:
        o = self.opts
        rows = []
        for endpoint in endpoints:
            es256_proc = None
            if endpoint.es256 and "ours" in sides:
                # Ours signs with one algorithm per process (IDP_SIGNING_ALG): a second
                # instance over the same database signs with ES256, for this endpoint only.
                es256_proc, es256_base = self.ours.start(o.server, name="ours-es256", signing_alg="ES256")
                stack.own(es256_proc)
                self.contexts["ours"].es256_base = es256_base
            try:
                for connections in o.connections:
                    row = report.Row(endpoint.title, endpoint.unit, connections)
                    row.load_before = sysinfo.load_average()
                    for _ in range(o.repetitions):
                        for side in sides:
                            job = endpoint.prepare(self.contexts[side], connections)
                            server = es256_proc if side == "ours" and es256_proc is not None else self.procs[side]
                            before = self.cpu_sample(side, server)
                            measured = load.run(job, connections, o.seconds)
                            row.runs[side].append(measured)
                            row.cpu[side].append((*cpu.spent(before, self.cpu_sample(side, server)), measured.units))
                    row.load_after = sysinfo.load_average()
                    rows.append(row)
                    self.rows.append(row)
                    self.sample_rss()
                    log(f"{endpoint.title:32} c={connections:<3} " + "  ".join(
                        f"{s} {row.rate(s):8.1f}/s err {row.errors(s)}" for s in sides))
            finally:
                if es256_proc is not None:
                    self.rss["ours ES256 instance"] = max(self.rss.get("ours ES256 instance", 0), es256_proc.peak_rss_mib())
                    es256_proc.stop()
                    self.contexts["ours"].es256_base = ""
        return rows

    def cpu_sample(self, side: str, server: servers.Process) -> cpu.Sample:
        """The CPU time so far of `side`'s server and of the stores it uses (bench/cpu.py)."""
        stores = self.redis.pids()
        if side == "ours":
            stores += cpu.postgres_backends(servers.POSTGRES, self.database.name)
        return cpu.sample(server.pids(), stores)

    def sample_rss(self) -> None:
        for name, proc in self.procs.items():
            self.rss[name] = max(self.rss.get(name, 0.0), proc.peak_rss_mib())

    # --- the extras -------------------------------------------------------------------

    def resource_verification(self) -> list[tuple[str, float]]:
        ctx = self.contexts["ours"]
        s = ctx.side
        tokens = []
        for _ in range(8):
            status, _, body = ctx.browser.request("POST", f"{s.base}/token", form={"grant_type": "client_credentials"},
                                                  headers={"Authorization": s.auth})
            if status != 200:
                raise RuntimeError(f"client_credentials answered {status}")
            tokens.append(json.loads(body)["access_token"])
        tokens.append(ctx.fresh_access_token())
        return verify.measure(s.base, tokens, s.base, s.base, self.opts.verify_seconds)

    def explain(self) -> list[dict]:
        ctx = self.contexts["ours"]
        s = ctx.side
        refresh = s.refresh_chains(1, ctx.browser)[0]
        access = ctx.fresh_access_token()
        job = {"requests": [
            {"name": "client_credentials", "method": "POST", "path": "/token",
             "form": {"grant_type": "client_credentials"}, "headers": {"Authorization": s.auth}},
            {"name": "refresh_token", "method": "POST", "path": "/token",
             "form": {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": s.spa_id}},
            {"name": "introspection", "method": "POST", "path": "/introspect",
             "form": {"token": access}, "headers": {"Authorization": s.auth}},
            {"name": "userinfo", "method": "GET", "path": "/userinfo",
             "headers": {"Authorization": f"Bearer {access}"}},
        ]}
        env = dict(self.ours.env, IDP_ISSUER=s.base)
        done = subprocess.run([str(VENV_BIN / "python"), "-m", "bench.explain"], input=json.dumps(job), env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"bench.explain failed:\n{done.stderr[-2000:]}")
        for line in done.stderr.splitlines():
            if line.startswith("[bench]"):
                log(line[len("[bench] "):])
        plans = json.loads(done.stdout)
        for request in job["requests"]:
            if not any(p["request"] == request["name"] for p in plans):
                plans.append({"request": request["name"], "statement": "(no SELECT, UPDATE or DELETE)",
                              "plan": "", "seq_scan": False})
        return plans


def _explain_text(plans: list[dict]) -> str:
    out = []
    for p in plans:
        flag = "SEQ SCAN" if p["seq_scan"] else "index" if p["plan"] else "nothing to plan"
        out.append(f"-- {p['request']}: {flag}\n{p['statement']}\n" + "\n".join("   " + l for l in p["plan"].splitlines()))
    return "\n\n".join(out)


def main(opts: Options) -> int:
    _terminate_on_sigterm()
    run = Run(opts)
    started = time.monotonic()
    try:
        with Stack() as stack:
            run.start(stack)
            argon2_ms = argon2_median_ms(opts.argon2_samples)
            run.warm_up()
            endpoints = cells.by_key(list(opts.endpoints))
            rows = run.measure(endpoints, ("peer", "ours"), stack)
            run.sample_rss()
            verifications = run.resource_verification() if opts.verify_seconds > 0 else []

            scale_rows, plans, loaded = [], [], {}
            if opts.scale:
                log(f"loading {opts.sizes.users:,} people, {opts.sizes.clients:,} clients and "
                    f"{opts.sizes.refresh_tokens:,} refresh tokens ...")
                timings = scale.load(run.database.dsn, opts.sizes, argon2_params())
                loaded = scale.counts(run.database.dsn)
                log("loaded in " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
                scale_endpoints = [e for e in cells.by_key(list(cells.SCALE_ENDPOINTS)) if e.key in opts.endpoints]
                scale_rows = run.measure(scale_endpoints, ("ours",), stack)
                plans = run.explain()
                run.sample_rss()

            print(render(opts, run, rows, argon2_ms, verifications, scale_rows, plans, loaded,
                         time.monotonic() - started), flush=True)
    except KeyboardInterrupt:
        log("interrupted: every process was stopped")
        _partial(run)
        return 130
    except Exception:
        _partial(run)
        raise
    finally:
        if not opts.keep:
            shutil.rmtree(run.workdir, ignore_errors=True)
    return 0


def _partial(run: Run) -> None:
    if run.rows:
        log("the rows measured before the run stopped:\n" + report.main_table(run.rows))


def render(opts: Options, run: Run, rows: list[report.Row], argon2_ms: float, verifications: list[tuple[str, float]],
           scale_rows: list[report.Row], plans: list[dict], loaded: dict, elapsed: float) -> str:
    parts = [
        f"## node-oidc-provider ({run.peer_mode}) vs ours ({opts.server.describe()})",
        f"{opts.repetitions} × {opts.seconds} s per cell, interleaved peer/ours; rates are medians of the "
        "repetitions, latencies the medians of their p50 and p99 (per request, or per complete flow); "
        "errors are socket errors, non-2xx/3xx answers and broken flows, summed.",
        "",
        report.main_table(rows),
        "",
        "CPU time per request (per flow for the code flows), milliseconds, the medians of the repetitions: "
        "the server's processes + the stores' (the Redis both use; ours: also the PostgreSQL backends of its "
        "database), wrk's left out; peer/ours above 1 means ours spends less.",
        "",
        report.cpu_table(rows),
        "",
    ]
    password = [r for r in rows if r.title.startswith("code flow, password") and r.connections == 1]
    extras = [(name, f"{mib:,.0f} MiB") for name, mib in run.rss.items()]
    parts.append(report.key_values("Peak RSS (sum over the server's processes of each one's VmHWM):", extras))
    parts.append("")
    lines = [("argon2id verification (median, in-process)", f"{argon2_ms:.1f} ms at {argon2_params()}")]
    if password:
        r = password[0]
        for side in ("peer", "ours"):
            for what, p50 in (("password sign-in flow", r.latency(side)[0]),
                              ("its sign-in request alone", r.signin_p50(side))):
                lines.append((f"{side}: {what}, 1 connection, p50",
                              f"{p50:.1f} ms = argon2id + {100 * (p50 - argon2_ms) / argon2_ms:.0f} %"))
    parts.append(report.key_values("Password sign-in against one argon2id verification:", lines))
    parts.append("")
    if verifications:
        parts.append(report.key_values("Resource server: our access tokens (RS256) verified per second, one thread:",
                                       [(name, f"{rate:,.0f}/s") for name, rate in verifications]))
        parts.append("")
    if scale_rows:
        baseline = {(r.title, r.connections): r.rate("ours") for r in rows}
        parts += [
            "## Scale: ours on a large database",
            ", ".join(f"{k} {v:,}" for k, v in loaded.items()),
            "",
            report.scale_table(scale_rows, baseline),
            "",
            f"EXPLAIN of every SELECT/UPDATE/DELETE of one request of each kind ("
            f"{sum(p['seq_scan'] for p in plans)} of {sum(bool(p['plan']) for p in plans)} with a Seq Scan):",
            "",
            "```",
            _explain_text(plans),
            "```",
            "",
        ]
    parts.append(report.key_values("Run:", list(sysinfo.describe().items()) + [("took", f"{elapsed / 60:.1f} min")]))
    return "\n".join(parts)


__all__ = ["Options", "main"]
