"""The tables the benchmark prints (Markdown, so that a run pastes into bench/README.md)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from .load import Measurement
from .sysinfo import fmt_load


@dataclass
class Row:
    title: str
    unit: str
    connections: int
    runs: dict[str, list[Measurement]] = field(default_factory=lambda: {"peer": [], "ours": []})
    #: Per measurement: CPU seconds of the server's processes and of the stores, and its units.
    cpu: dict[str, list[tuple[float, float, int]]] = field(default_factory=lambda: {"peer": [], "ours": []})
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def rate(self, side: str) -> float:
        runs = self.runs[side]
        return statistics.median(m.rate for m in runs) if runs else math.nan

    def latency(self, side: str) -> tuple[float, float]:
        runs = self.runs[side]
        if not runs:
            return math.nan, math.nan
        return statistics.median(m.p50_ms for m in runs), statistics.median(m.p99_ms for m in runs)

    def signin_p50(self, side: str) -> float:
        # A repetition that completed no sign-in has none (NaN), which would make the median
        # depend on the order of the repetitions.
        timed = [m.signin_p50_ms for m in self.runs[side] if not math.isnan(m.signin_p50_ms)]
        return statistics.median(timed) if timed else math.nan

    def errors(self, side: str) -> int:
        return sum(m.errors for m in self.runs[side])

    def cpu_ms(self, side: str) -> tuple[float, float]:
        """Milliseconds of CPU per unit: (server, stores), medians over the repetitions."""
        runs = [(server, stores, units) for server, stores, units in self.cpu[side] if units]
        if not runs:
            return math.nan, math.nan
        return (statistics.median(1000 * s / u for s, _, u in runs),
                statistics.median(1000 * st / u for _, st, u in runs))

    def ratio(self) -> float:
        peer, ours = self.rate("peer"), self.rate("ours")
        return ours / peer if peer else math.nan


def _num(x: float) -> str:
    if math.isnan(x):
        return "-"
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def _ms(x: float) -> str:
    if math.isnan(x):
        return "-"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def _latency(pair: tuple[float, float]) -> str:
    return f"{_ms(pair[0])} / {_ms(pair[1])}"


def main_table(rows: list[Row]) -> str:
    lines = [
        "| endpoint | conns | peer /s | ours /s | ours/peer | peer p50 / p99 ms | ours p50 / p99 ms | errors peer / ours | load before → after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        unit = " (flows)" if r.unit == "flows/s" else ""
        ratio = r.ratio()
        lines.append(
            f"| {r.title}{unit} | {r.connections} | {_num(r.rate('peer'))} | {_num(r.rate('ours'))} | "
            f"{'-' if math.isnan(ratio) else f'{ratio:.2f}×'} | {_latency(r.latency('peer'))} | "
            f"{_latency(r.latency('ours'))} | {r.errors('peer')} / {r.errors('ours')} | "
            f"{fmt_load(r.load_before)} → {fmt_load(r.load_after)} |"
        )
    return "\n".join(lines)


def cpu_table(rows: list[Row]) -> str:
    lines = [
        "| endpoint | conns | peer: server + stores ms | ours: server + stores ms | peer/ours |",
        "|---|---:|---:|---:|---:|",
    ]

    def cell(pair: tuple[float, float]) -> str:
        return "-" if math.isnan(pair[0]) else f"{pair[0]:.2f} + {pair[1]:.2f} = {sum(pair):.2f}"

    for r in rows:
        peer, ours = r.cpu_ms("peer"), r.cpu_ms("ours")
        ratio = sum(peer) / sum(ours) if sum(ours) else math.nan
        unit = " (flows)" if r.unit == "flows/s" else ""
        lines.append(f"| {r.title}{unit} | {r.connections} | {cell(peer)} | {cell(ours)} | "
                     f"{'-' if math.isnan(ratio) else f'{ratio:.2f}×'} |")
    return "\n".join(lines)


def scale_table(rows: list[Row], baseline: dict[tuple[str, int], float]) -> str:
    lines = [
        "| endpoint (ours) | conns | small database /s | large database /s | large/small | p50 / p99 ms | errors | load before → after |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        small = baseline.get((r.title, r.connections), math.nan)
        large = r.rate("ours")
        ratio = large / small if small and not math.isnan(small) else math.nan
        lines.append(
            f"| {r.title} | {r.connections} | {_num(small)} | {_num(large)} | "
            f"{'-' if math.isnan(ratio) else f'{ratio:.2f}×'} | {_latency(r.latency('ours'))} | "
            f"{r.errors('ours')} | {fmt_load(r.load_before)} → {fmt_load(r.load_after)} |"
        )
    return "\n".join(lines)


def key_values(title: str, pairs: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in pairs)
    return "\n".join([title, *(f"  {k.ljust(width)}  {v}" for k, v in pairs)])
