#!/usr/bin/env python3
"""Markdown table from the outputs of bench_workloads, compare.py and the peers crate.

    cargo run --release --example bench_workloads -- --threads 2 --into > upconv.txt
    /work/venv/bin/python scripts/compare.py --threads 2 > baselines.txt
    (cd peers && cargo run --release -- --threads 2 --into) > peers.txt       # optional
    python3 scripts/ratios.py upconv.txt baselines.txt peers.txt

Lines are `[impl] kind name out=[...] <ms> ms <rate> <unit>`; a line without an
implementation prefix is upconv's. `gemm` and `copy` lines (the example's ceilings) fill the
ceiling columns. Lines starting with `#` and anything unparsable are ignored; with files
read in order, a later line for the same implementation and workload replaces an earlier one.

Columns: PyTorch and ORT median ms, any peers' ms, upconv's ms, upconv / best of PyTorch and
ORT (below 1: upconv is faster), upconv / best of every other implementation when peers are
present, then the ceilings: the same FLOP count through a plain GEMM (deconvolution rows), a
memory copy of the same bytes, and upconv's time over the ceiling that applies (the GEMM
for deconvolution, the copy for upsampling).
"""

import argparse
import sys

KINDS = ("deconv", "up", "gemm", "copy")
BASELINES = ("torch", "ort")
NAMES = {"torch": "PyTorch", "ort": "ORT", "upconv": "upconv"}


def parse(lines):
    rows = {}  # (kind, name) -> {impl: ms}
    order = []
    ceilings = {}  # name -> {"gemm" | "copy": ms}
    for ln in lines:
        t = ln.split()
        if not t or t[0].startswith("#"):
            continue
        impl = "upconv"
        if t[0] not in KINDS:
            impl, t = t[0], t[1:]
        if len(t) < 4 or t[0] not in KINDS or "ms" not in t:
            continue
        try:
            ms = float(t[t.index("ms") - 1])
        except ValueError:
            continue
        kind, name = t[0], t[1]
        if kind in ("gemm", "copy"):
            ceilings.setdefault(name, {})[kind] = ms
            continue
        if (kind, name) not in rows:
            rows[(kind, name)] = {}
            order.append((kind, name))
        rows[(kind, name)][impl] = ms
    for (kind, name), r in rows.items():
        r.update(ceilings.get(name, {}))
    return order, rows


def fmt(v, digits=3):
    return "—" if v is None else f"{v:.{digits}f}"


def table(order, rows):
    impls = []
    for key in order:
        for i in rows[key]:
            if i not in impls:
                impls.append(i)
    peers = [i for i in impls if i not in BASELINES + ("upconv", "gemm", "copy")]
    cols = [i for i in BASELINES if i in impls] + peers
    head = ["workload"] + [f"{NAMES.get(i, i)} ms" for i in cols] + ["upconv ms", "upconv/best(PyTorch,ORT)"]
    if peers:
        head.append("upconv/best(all)")
    head += ["GEMM ceiling ms", "copy ceiling ms", "upconv/ceiling"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in order:
        r = rows[key]
        u = r.get("upconv")
        base = [r[i] for i in BASELINES if i in r]
        others = [r[i] for i in cols if i in r]
        ratio = (u / min(base)) if u is not None and base else None
        cells = [f"{key[0]} {key[1]}"] + [fmt(r.get(i)) for i in cols]
        cells += [fmt(u), fmt(ratio, 2) + ("" if ratio is None else "×")]
        if peers:
            ra = (u / min(others)) if u is not None and others else None
            cells.append(fmt(ra, 2) + ("" if ra is None else "×"))
        ceil = r.get("gemm") if key[0] == "deconv" else r.get("copy")
        rc = (u / ceil) if u is not None and ceil else None
        cells += [fmt(r.get("gemm")), fmt(r.get("copy")), fmt(rc, 2) + ("" if rc is None else "×")]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="outputs to read in order (default: stdin)")
    a = ap.parse_args()
    lines = []
    if not a.files:
        lines = sys.stdin.read().splitlines()
    for p in a.files:
        with open(p) as f:
            lines += f.read().splitlines()
    order, rows = parse(lines)
    if not rows:
        print("no result lines found", file=sys.stderr)
        return 1
    print(table(order, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
