"""The benchmark's targets, its printed table and its chart."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import flamegraphs

# Piped (make's log, the e2e test), not 80 columns: the load table's rows would be cut.
console = Console(width=None if sys.stdout.isatty() else 180)

#: The targets the benchmark was asked to reach and keep (never asserted by a test): issue 14.
HEALTHZ_TO_BARE_MIN = 0.90
MIX_TO_BARE_MIN = 0.45
VERIFIER_RATIO_MAX = 1.2
AUTH_P99_ADDED_MS_MAX = 1.0
REVOCATION_MS_MAX = 10.0

#: The rows the targets are about (bench/run.py's row_name).
BARE, NAIVE = "bare /plain", "bare /naive, token mix"
USERS_HEALTHZ, USERS_MIX = "users_service /healthz", "users_service /users/me, token mix"
ORDERS_MIX = "orders_service /orders, token mix"
COST_PLAIN, COST_MIX = "auth_cost_app /plain", "auth_cost_app /authenticated, token mix"


def say(message: str) -> None:
    console.print(f"[bold][bench][/bold] {message}")


#: name, measured value, bound, "min" or "max", and what the run's figures say if it is missed
Row = tuple[str, float, float, str, str]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value, whether it is met, by how much and why it is missed."""
    http = results["http"]
    rows: list[Row] = [
        (
            "users_service /healthz req/s ÷ bare Flask /plain",
            http[USERS_HEALTHZ]["ratio_to_bare"],
            HEALTHZ_TO_BARE_MIN,
            "min",
            _service_floor(http),
        ),
        *(
            (
                f"{name} req/s ÷ bare Flask /plain",
                http[name]["ratio_to_bare"],
                MIX_TO_BARE_MIN,
                "min",
                _endpoint_cost(http, name),
            )
            for name in (USERS_MIX, ORDERS_MIX)
        ),
        (
            "verifier as deployed on a new token ÷ (bare PyJWT decode of a new token, then one Redis round trip)",
            results["verifier"]["ratio_to_floor"],
            VERIFIER_RATIO_MAX,
            "max",
            _verifier_cost(results["verifier"]),
        ),
        (
            "p99 added by authentication (ms): auth_cost_app /authenticated under the token mix − its /plain",
            http[COST_MIX]["summary"]["p99_ms"] - http[COST_PLAIN]["summary"]["p99_ms"],
            AUTH_P99_ADDED_MS_MAX,
            "max",
            _p99_added(results),
        ),
        *_revocation_rows("", results["revocation"]),
    ]
    if results.get("compose"):
        rows += _revocation_rows("compose: ", results["compose"]["revocation"])
    out = []
    for name, value, bound, kind, why in rows:
        met = value >= bound if kind == "min" else value <= bound
        out.append(
            {
                "name": name,
                "value": value,
                "target": f"{'>=' if kind == 'min' else '<='} {bound}",
                "met": met,
                "missed_by": 0 if met else abs(value - bound),
                "why": "" if met else why,
            }
        )
    return out


def _cpu(http: dict[str, Any], name: str) -> float:
    return float(http[name]["summary"]["cpu_us_per_request"])


def _service_floor(http: dict[str, Any]) -> str:
    ratio = http[USERS_HEALTHZ]["ratio_to_bare"]
    cpu, bare = _cpu(http, USERS_HEALTHZ), _cpu(http, BARE)
    return (
        f"{ratio:.2f} × bare, {HEALTHZ_TO_BARE_MIN - ratio:.2f} short: /healthz costs {cpu:.0f} µs of worker CPU"
        f" per request against bare /plain's {bare:.0f}, so the service's own path (middleware, access log,"
        f" metrics, framework layers) adds {cpu - bare:.0f} µs before any token is looked at"
    )


def _endpoint_cost(http: dict[str, Any], name: str) -> str:
    row = http[name]
    ratio, healthz = row["ratio_to_bare"], row["healthz"]
    cpu, own, bare, naive = _cpu(http, name), _cpu(http, healthz), _cpu(http, BARE), _cpu(http, NAIVE)
    return (
        f"{ratio:.2f} × bare, {MIX_TO_BARE_MIN - ratio:.2f} short ({row['ratio_to_healthz']:.2f} × its own"
        f" /healthz): {cpu:.0f} µs of worker CPU per request against bare /plain's {bare:.0f}, of which"
        f" {own - bare:.0f} the service's own path (its /healthz) and {cpu - own:.0f} the endpoint (a new"
        f" token's verification, {row['summary']['redis_mget_per_request']:.2f} Redis MGET per request, the"
        f" database read, the answer); the naive app reaches {http[NAIVE]['ratio_to_bare']:.2f} × bare at"
        f" {naive:.0f} µs"
    )


def _verifier_cost(verifier: dict[str, Any]) -> str:
    return (
        f"{verifier['ratio_to_floor']:.2f} × floor, {verifier['ratio_to_floor'] - VERIFIER_RATIO_MAX:.2f} over:"
        f" {verifier['verifier_new_us']:.0f} µs against {verifier['floor_us']:.0f} (decode"
        f" {verifier['bare_decode_us']:.0f}, Redis {verifier['redis_round_trip_us']:.0f}); with its caches off"
        f" {verifier['verifier_uncached_us']:.0f} µs (a Redis round trip each)"
    )


def _p99_added(results: dict[str, Any]) -> str:
    http = results["http"]
    cost, plain = http[COST_MIX]["summary"], http[COST_PLAIN]["summary"]
    added = cost["p99_ms"] - plain["p99_ms"]
    naive = http[NAIVE]["summary"]["p99_ms"] - http[BARE]["summary"]["p99_ms"]
    settings = results["settings"]
    return (
        f"{added:.2f} ms, {added - AUTH_P99_ADDED_MS_MAX:.2f} over: p99 {cost['p99_ms']:.2f} against"
        f" {plain['p99_ms']:.2f} ms, p50 {cost['p50_ms'] - plain['p50_ms']:+.2f} ms, worker CPU"
        f" {cost['cpu_us_per_request'] - plain['cpu_us_per_request']:+.0f} µs per request; with"
        f" {settings['connections']} connections on {settings['gunicorn']['workers']} workers a request queues"
        f" behind several others, so each µs of service time shows several times over in p99 (the naive app"
        f" adds {naive:.2f} ms to bare /plain)"
    )


def _revocation_rows(prefix: str, revocation: dict[str, Any]) -> list[Row]:
    trials = revocation["users"]["samples"] + revocation["orders"]["samples"]
    floor = revocation["probe_floor"]
    return [
        (
            f"{prefix}requests sent after logout returned and still accepted",
            revocation["accepted_after_logout"],
            0,
            "max",
            "",
        ),
        (
            f"{prefix}logout returned → refusal received, worst p99 of users and orders (ms; includes the refused"
            " request's own round trip)",
            max(revocation["users"]["p99_ms"], revocation["orders"]["p99_ms"]),
            REVOCATION_MS_MAX,
            "max",
            f"an upper bound that includes the refused request's own round trip (the same request sent again at"
            f" once: p50 {floor['p50_ms']:.1f}, p99 {floor['p99_ms']:.1f} ms); in all {trials} trials the first"
            " request sent after logout returned was already refused",
        ),
    ]


def print_table(results: dict[str, Any]) -> None:
    table = Table(title="under wrk, the same alternating rounds (medians of the rounds)")
    columns = (
        "endpoint",
        "req/s",
        "p50 ms",
        "p99 ms",
        "worker CPU µs/req",
        "Redis MGET/req",
        "tokens sent",
        "× bare /plain",
        "× own /healthz",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    mix_tokens = results["mix"]["mints"][-1]["tokens"]
    for name, row in results["http"].items():
        summary = row["summary"]
        sent = {"none": "", "one": "1 token"}.get(row["tokens"], f"{row['tokens_sent']} of {mix_tokens}")
        table.add_row(
            name,
            f"{summary['per_second']:.0f}",
            f"{summary['p50_ms']:.2f}",
            f"{summary['p99_ms']:.2f}",
            f"{summary['cpu_us_per_request']:.0f}",
            f"{summary['redis_mget_per_request']:.2f}",
            sent,
            f"{row['ratio_to_bare']:.2f}",
            f"{row['ratio_to_healthz']:.2f}",
        )
    console.print(table)

    verifier = results["verifier"]
    table = Table(title=f"verifier in-process (median µs per call, {verifier['calls_per_operation']} calls each)")
    columns_by_key = {
        "verifier, new token (deployed: caches on)": "verifier_new_us",
        "verifier, new token, caches off": "verifier_uncached_us",
        "verifier, same token again": "verifier_repeat_us",
        "FJE verify_jwt_in_request (one token, caches off)": "flask_jwt_extended_us",
        "bare PyJWT decode, new token": "bare_decode_us",
        "Redis round trip": "redis_round_trip_us",
        "floor (decode, then RTT)": "floor_us",
    }
    for column in columns_by_key:
        table.add_column(column, justify="right")
    table.add_row(*(f"{verifier[k]:.1f}" for k in columns_by_key.values()))
    console.print(table)

    table = Table(title="token flows (ms)")
    for column in ("flow", "p50", "p99", "samples"):
        table.add_column(column, justify="right" if column != "flow" else "left")
    rows = {
        "login": results["login"],
        "refresh": results["refresh"],
        "logout seen by users": results["revocation"]["users"],
        "logout seen by orders": results["revocation"]["orders"],
        "refused request again (probe floor)": results["revocation"]["probe_floor"],
        "introspect an active access token": results["introspect"],
        "token exchange for users_service (a new subject token each)": results["exchange"],
        "POST /orders, one token (exchanged once, then cached)": results["exchange_cache"]["one_token"]["latency"],
        "POST /orders, a fresh token each (an exchange each)": results["exchange_cache"]["fresh_tokens"]["latency"],
    }
    for name, row in rows.items():
        table.add_row(name, f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}", str(row["samples"]))
    starts = ", ".join(f"{s:.1f}" for s in results["cold_start_seconds"])
    table.add_row("cold start to ready (s)", starts, "", str(len(results["cold_start_seconds"])))
    composed = results.get("compose")
    if composed:
        for name, row in {
            "compose: login": composed["login"],
            "compose: refresh": composed["refresh"],
            "compose: logout seen by users": composed["revocation"]["users"],
            "compose: logout seen by orders": composed["revocation"]["orders"],
            "compose: probe floor": composed["revocation"]["probe_floor"],
        }.items():
            table.add_row(name, f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}", str(row["samples"]))
        table.add_row("compose: up --build --wait (s)", f"{composed['cold_start_seconds']:.1f}", "", "1")
    console.print(table)

    cache = results["exchange_cache"]
    table = Table(title="orders_service's exchanged-token cache: POST /orders")
    for column in ("caller token", "p50 ms", "p99 ms", "orders", "exchanges", "exchanges / order"):
        table.add_column(column, justify="right" if column != "caller token" else "left")
    for name, case in (("one for every order", "one_token"), ("a fresh one per order", "fresh_tokens")):
        row = cache[case]
        table.add_row(
            name,
            f"{row['latency']['p50_ms']:.2f}",
            f"{row['latency']['p99_ms']:.2f}",
            str(row["latency"]["samples"]),
            str(row["exchanges"]),
            f"{row['exchanges_per_order']:.3f}",
        )
    table.add_row("fresh / one, p50", f"{cache['ratio_p50']:.2f}", "", "", "", "")
    console.print(table)

    if results.get("profile"):
        table = Table(title="py-spy: share of the workers' on-CPU samples (parts overlap)")
        rows = list(results["profile"])
        table.add_column("part")
        for name in rows:
            table.add_column(name, justify="right")
        for part in flamegraphs.PARTS:
            table.add_row(part, *(f"{results['profile'][name][part]:.0%}" for name in rows))
        table.add_row("samples", *(f"{results['profile'][name]['samples']:.0f}" for name in rows))
        console.print(table)

    table = Table(title="targets")
    for column in ("target", "measured", "bound", "met", "why missed"):
        table.add_column(column)
    for target in results["targets"]:
        verdict = "[green]yes[/green]" if target["met"] else f"[red]no, missed by {target['missed_by']:.3g}[/red]"
        table.add_row(target["name"], f"{target['value']:.3g}", target["target"], verdict, target["why"])
    console.print(table)


def chart(results: dict[str, Any], path: Path) -> None:
    """Three panels: throughput, in-process cost, flow latency."""
    import matplotlib

    matplotlib.use("Agg")  # no screen here; write the file only
    import matplotlib.pyplot as plt

    figure, (load_axes, verifier_axes, flow_axes) = plt.subplots(1, 3, figsize=(18, 6))
    names = list(results["http"])
    rows = [results["http"][name] for name in names]
    colors = {"none": "#999", "one": "#2ca02c", "mix": "#1f77b4"}
    bars = load_axes.barh(
        range(len(names)), [row["summary"]["per_second"] for row in rows], color=[colors[r["tokens"]] for r in rows]
    )
    load_axes.bar_label(bars, labels=[f"{row['ratio_to_bare']:.2f} × bare" for row in rows], padding=3, fontsize=8)
    load_axes.set_yticks(list(range(len(names))), names, fontsize=8)
    load_axes.invert_yaxis()
    load_axes.margins(x=0.25)  # room for the labels beside the bars
    load_axes.set_title("throughput (grey: no token, green: one token, blue: the token mix)", fontsize=9)
    load_axes.set_xlabel("requests per second")

    verifier = results["verifier"]
    bars_by_label = {
        "bare PyJWT\ndecode": ("bare_decode_us", "#999"),
        "Redis\nround trip": ("redis_round_trip_us", "#999"),
        "floor\n(both)": ("floor_us", "#555"),
        "FJE's\nrequest path": ("flask_jwt_extended_us", "#d62728"),
        "verifier,\nnew token": ("verifier_new_us", "#1f77b4"),
        "caches\noff": ("verifier_uncached_us", "#aec7e8"),
        "verifier,\nsame token": ("verifier_repeat_us", "#2ca02c"),
    }
    bars = verifier_axes.bar(
        list(bars_by_label),
        [verifier[key] for key, _ in bars_by_label.values()],
        color=[color for _, color in bars_by_label.values()],
    )
    verifier_axes.bar_label(bars, fmt="%.0f")
    verifier_axes.tick_params(axis="x", labelsize=8)
    verifier_axes.margins(y=0.15)
    verifier_axes.axhline(
        verifier["floor_us"] * VERIFIER_RATIO_MAX,
        linestyle="--",
        color="red",
        label=f"target: {VERIFIER_RATIO_MAX} × floor",
    )
    verifier_axes.set_title(f"verifier in-process, new token: {verifier['ratio_to_floor']:.2f} × floor")
    verifier_axes.set_ylabel("µs per call (median)")
    verifier_axes.legend(loc="upper right")

    flows = {
        "login": results["login"],
        "refresh": results["refresh"],
        "logout\n→users": results["revocation"]["users"],
        "logout\n→orders": results["revocation"]["orders"],
        "intro-\nspect": results["introspect"],
        "ex-\nchange": results["exchange"],
        "order,\n1 token": results["exchange_cache"]["one_token"]["latency"],
        "order,\nfresh": results["exchange_cache"]["fresh_tokens"]["latency"],
    }
    positions = range(len(flows))
    flow_axes.bar([p - 0.2 for p in positions], [f["p50_ms"] for f in flows.values()], width=0.4, label="p50")
    flow_axes.bar([p + 0.2 for p in positions], [f["p99_ms"] for f in flows.values()], width=0.4, label="p99")
    flow_axes.set_xticks(list(range(len(flows))), list(flows))
    flow_axes.tick_params(axis="x", labelsize=8)
    flow_axes.set_yscale("log")
    flow_axes.set_ylabel("milliseconds (log scale)")
    flow_axes.set_title("token flows")
    flow_axes.legend()

    figure.suptitle(f"make bench, {results['when']}, {results['machine']['cpus']} CPUs")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
