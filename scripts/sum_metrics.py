"""Several replicas' Prometheus text, one after the other on stdin, summed into one: what
``make metrics`` prints for a replicated service.

Each replica serves its own /metrics, and Prometheus scrapes each and adds them up with
``sum by``. A reader of one service's counters wants that sum too, so samples of the same
series (name and labels) are added here and the HELP and TYPE lines kept once. The
exposition format is one sample per line, so this needs no parser (prometheus_client's
builds metric families and has no writer for them). For reading, not for scraping: a
series only a later replica has comes after the others.
"""

from __future__ import annotations

import sys


def summed(lines: list[str]) -> list[str]:
    order: list[str] = []
    totals: dict[str, float] = {}
    for line in (line.rstrip("\n") for line in lines):
        if not line or line in order:
            continue
        if line.startswith("#"):
            order.append(line)
            continue
        series, _, value = line.rpartition(" ")
        if series not in totals:
            totals[series] = 0.0
            order.append(series)
        totals[series] += float(value)
    return [f"{line} {totals[line]!r}" if line in totals else line for line in order]


if __name__ == "__main__":
    sys.stdout.write("".join(f"{line}\n" for line in summed(sys.stdin.readlines())))
