"""Turn the benchmark results into ``report.json`` and ``report.md`` (used by ``run.py``).

``python bench/render.py`` re-renders the markdown from an existing ``bench/report.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
Row = dict[str, Any]

TARGET_EPS = 25_000
TARGET_BOUND_RATIO = 1.2
TARGET_SDK_RATIO = 10.0
TARGET_RATE_USED = 0.90
TARGET_429_SHARE = 0.02
TARGET_RSS_MB = 150.0


def write_report(stem: Path, rows: list[Row], *, command: str, meta: dict[str, Any]) -> None:
    data = {"command": command, "meta": meta, "results": rows}
    stem.with_suffix(".json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    stem.with_suffix(".md").write_text(render(data))


def _find(rows: list[Row], kind: str, size: str, latency: int, limited: bool) -> Row | None:
    for row in rows:
        case = row["case"]
        if (
            row["kind"] == kind
            and case["size"] == size
            and case["latency_ms"] == latency
            and bool(case["rate_limit"]) == limited
        ):
            return row
    return None


def _used(row: Row) -> float:
    """Share of the rate limit the run used: successful requests per second / R."""
    rate = row["case"]["rate_limit"]
    return row["ok"] / row["sync_wall"] / rate if rate and row["sync_wall"] else 0.0


def _share_429(row: Row) -> float:
    return row["rate_limited"] / row["requests"] if row["requests"] else 0.0


def _mark(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def targets(rows: list[Row]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) lines for the summary."""
    out: list[tuple[str, str, str]] = []
    for size in ("10k", "100k"):
        row = _find(rows, "streamer", size, 0, False)
        if row:
            eps = row["events_per_s"]
            out.append(
                (
                    f"≥ {TARGET_EPS:,} events/s at 0 ms, {size}",
                    f"{eps:,.0f} events/s ({row['sync_cpu'] / row['sync_wall']:.0%} of one core)",
                    _mark(eps >= TARGET_EPS),
                )
            )
    row = _find(rows, "streamer", "10k", 50, False)
    if row:
        ratio = row["sync_wall"] / row["lower_bound"]
        out.append(
            (
                f"10k @ 50 ms within {TARGET_BOUND_RATIO}× the lower bound",
                f"{row['sync_wall']:.2f} s vs {row['lower_bound']:.2f} s = {ratio:.2f}×",
                _mark(ratio <= TARGET_BOUND_RATIO),
            )
        )
        sdk = _find(rows, "sdk", "10k", 50, False)
        if sdk:
            speedup = sdk["sync_wall"] / row["sync_wall"]
            out.append(
                (
                    f"10k @ 50 ms ≥ {TARGET_SDK_RATIO:g}× faster than the SDK script",
                    f"{sdk['sync_wall']:.1f} s / {row['sync_wall']:.2f} s = {speedup:.1f}×",
                    _mark(speedup >= TARGET_SDK_RATIO),
                )
            )
    for row in rows:
        if row["kind"] == "streamer" and row["case"]["rate_limit"] and row["case"]["size"] != "1k":
            used, share = _used(row), _share_429(row)
            out.append(
                (
                    f"{row['case']['name']}: ≥ {TARGET_RATE_USED:.0%} of R used, "
                    f"≤ {TARGET_429_SHARE:.0%} 429s",
                    f"{used:.0%} used, {share:.1%} 429s ({row['rate_limited']}/{row['requests']})",
                    _mark(used >= TARGET_RATE_USED and share <= TARGET_429_SHARE),
                )
            )
    big = [r for r in rows if r["case"]["size"] == "100k" and r["kind"] in ("streamer", "idle")]
    if big:
        peak = max(r["peak_rss_mb"] for r in big)
        out.append(
            (
                f"peak RSS ≤ {TARGET_RSS_MB:.0f} MB at 100k",
                f"{peak:.0f} MB (worst 100k run)",
                _mark(peak <= TARGET_RSS_MB),
            )
        )
    for row in rows:
        if row["kind"] == "idle":
            out.append(
                (
                    f"idle poll of an unchanged team emits only what is configured "
                    f"(nothing), {row['case']['size']}; its CPU: see the notes",
                    f"{row['sync_cpu']:.2f} CPU s, {row['events']} events, "
                    f"{row['requests']} requests",
                    _mark(row["events"] == 0),
                )
            )
    return out


def _table(header: list[str], lines: list[list[str]]) -> str:
    rows = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    rows += ["| " + " | ".join(line) + " |" for line in lines]
    return "\n".join(rows)


def _rate_cells(row: Row) -> tuple[str, str]:
    if not row["case"]["rate_limit"]:
        return "–", f"{row['rate_limited']}"
    return f"{_used(row):.0%}", f"{row['rate_limited']} ({_share_429(row):.1%})"


def results_table(rows: list[Row], kind: str) -> str:
    lines = []
    for row in rows:
        if row["kind"] != kind:
            continue
        used, limited = _rate_cells(row)
        bound = row["lower_bound"]
        lines.append(
            [
                row["case"]["name"],
                f"{row['sync_wall']:.2f}",
                f"{bound:.2f}" if bound else "–",
                f"{row['sync_wall'] / bound:.2f}×" if bound else "–",
                f"{row['events']:,}",
                f"{row['events_per_s']:,.0f}",
                f"{row['cpu_per_1k_events'] * 1000:.1f}",
                f"{row['process_cpu']:.1f}",
                f"{row['peak_rss_mb']:.0f}",
                f"{row['requests']} / {row['min_requests']}",
                limited,
                used,
            ]
        )
    header = [
        "case",
        "sync wall s",
        "lower bound s",
        "÷ bound",
        "events" if kind != "sdk" else "records",
        "per s",
        "CPU ms / 1k",
        "process CPU s",
        "peak RSS MB",
        "requests / min",
        "429s",
        "R used",
    ]
    return _table(header, lines)


def sdk_table(rows: list[Row]) -> str:
    lines = []
    for sdk in rows:
        if sdk["kind"] != "sdk":
            continue
        case = sdk["case"]
        ours = _find(rows, "streamer", case["size"], case["latency_ms"], bool(case["rate_limit"]))
        if ours is None:
            continue
        lines.append(
            [
                case["name"],
                f"{sdk['sync_wall']:.2f}",
                f"{ours['sync_wall']:.2f}",
                f"{sdk['sync_wall'] / ours['sync_wall']:.1f}×",
                f"{sdk['sync_cpu']:.1f}",
                f"{ours['sync_cpu']:.1f}",
                f"{sdk['events']:,} records",
                f"{ours['events']:,} events",
                f"{sdk['peak_rss_mb']:.0f} / {ours['peak_rss_mb']:.0f}",
                f"{sdk['requests']} / {ours['requests']}",
            ]
        )
    header = [
        "case",
        "SDK wall s",
        "streamer wall s",
        "streamer faster by",
        "SDK CPU s",
        "streamer CPU s",
        "SDK produced",
        "streamer produced",
        "peak RSS MB (SDK / ours)",
        "requests (SDK / ours)",
    ]
    return _table(header, lines)


def _cpu_change(before: Row, after: Row) -> str:
    if before["kind"] == "idle":
        return f"{before['sync_cpu']:.2f} → {after['sync_cpu']:.2f} s"
    return f"{before['cpu_per_1k_events'] * 1000:.1f} → {after['cpu_per_1k_events'] * 1000:.1f}"


def baseline_table(rows: list[Row], baseline: dict[str, Any]) -> str:
    lines = []
    for before in baseline["results"]:
        if before["kind"] not in ("streamer", "idle"):
            continue
        case = before["case"]
        after = _find(
            rows, before["kind"], case["size"], case["latency_ms"], bool(case["rate_limit"])
        )
        if after is None:
            continue
        lines.append(
            [
                case["name"] + (" (idle poll)" if before["kind"] == "idle" else ""),
                f"{before['sync_wall']:.2f} → {after['sync_wall']:.2f}",
                f"{before['events_per_s']:,.0f} → {after['events_per_s']:,.0f}",
                _cpu_change(before, after),
                f"{before['peak_rss_mb']:.0f} → {after['peak_rss_mb']:.0f}",
                f"{before['rate_limited']} → {after['rate_limited']}",
            ]
        )
    header = ["case", "sync wall s", "events/s", "CPU ms / 1k events", "peak RSS MB", "429s"]
    return _table(header, lines)


def render(data: dict[str, Any]) -> str:
    rows: list[Row] = data["results"]
    meta = data["meta"]
    parts = [
        "# Benchmark report",
        "",
        f"Generated by `{data['command']}` on {meta['date']} ({meta['machine']}; commit "
        f"`{meta['git']}`; the whole run took {meta['duration_s'] // 60} min "
        f"{meta['duration_s'] % 60} s). What each column means: [README.md](README.md).",
        "",
        "## Targets",
        "",
        _table(["target", "measured", "verdict"], [list(t) for t in targets(rows)]),
        "",
        "## Streamer: full sync from no state",
        "",
        results_table(rows, "streamer"),
        "",
        "## Reference: plain script on the official SDK (sequential)",
        "",
        sdk_table(rows),
        "",
        "## Idle poll: the same team again, nothing changed",
        "",
        results_table(rows, "idle"),
        "",
    ]
    baseline_file = BENCH / "baseline.json"
    if baseline_file.exists():
        baseline = orjson.loads(baseline_file.read_bytes())
        parts += [
            "## Before → after the tuning",
            "",
            f"Before: `baseline.json`, the same harness (`{baseline['command']}`) at commit "
            f"`{baseline['meta']['git']}`, {baseline['meta']['date']}.",
            "",
            baseline_table(rows, baseline),
            "",
        ]
    notes = BENCH / "notes.md"
    if notes.exists():
        parts += [notes.read_text().rstrip(), ""]
    return "\n".join(parts)


if __name__ == "__main__":
    stem = Path(sys.argv[1]) if len(sys.argv) > 1 else BENCH / "report"
    report = orjson.loads(stem.with_suffix(".json").read_bytes())
    stem.with_suffix(".md").write_text(render(report))
