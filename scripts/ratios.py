#!/usr/bin/env python3
"""Markdown table from the outputs of bench_workloads, compare.py and the peers crate.

    cargo run --release --example bench_workloads -- --threads 2 --into > upconv.txt
    /work/venv/bin/python scripts/compare.py --threads 2 > baselines.txt
    (cd peers && cargo run --release -- --threads 2 --into) > peers.txt       # optional
    python3 scripts/ratios.py upconv.txt baselines.txt peers.txt

Lines are `[impl] kind name out=[...] <ms> ms <rate> <unit>`; a line without an
implementation prefix is upconv's. `gemm` and `copy` lines (the example's ceilings) fill the
ceiling columns. Lines starting with `#` and anything unparsable are ignored. Files are read
in order; when the same implementation and workload appear again, `--merge last` (default)
keeps the later time, `--merge min` the smaller one (best of several runs' medians: pass the
outputs of repeated runs on this noisy VM).

Columns: PyTorch and ORT median ms, any peers' ms, upconv's ms, upconv / best of PyTorch and
ORT (below 1: upconv is faster), upconv / best of every other implementation when peers are
present, then the ceilings: the same FLOP count through a plain GEMM (deconvolution rows), a
memory copy of the same bytes, and upconv's time over the roofline bound: the larger of the
GEMM and copy times for deconvolution (compute- or memory-bound, whichever binds), the copy
for upsampling.
"""

import argparse
import sys

KINDS = ("deconv", "up", "gemm", "copy")
BASELINES = ("torch", "ort")
NAMES = {"torch": "PyTorch", "ort": "ORT", "upconv": "upconv"}


def parse(lines, merge="last"):
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
            c = ceilings.setdefault(name, {})
            c[kind] = min(ms, c.get(kind, ms)) if merge == "min" else ms
            continue
        if (kind, name) not in rows:
            rows[(kind, name)] = {}
            order.append((kind, name))
        r = rows[(kind, name)]
        r[impl] = min(ms, r.get(impl, ms)) if merge == "min" else ms
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
    head += ["GEMM ceiling ms", "copy ceiling ms", "upconv/roofline"]
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
        if key[0] == "deconv":
            bounds = [r[c] for c in ("gemm", "copy") if c in r]
            ceil = max(bounds) if bounds else None
        else:
            ceil = r.get("copy")
        rc = (u / ceil) if u is not None and ceil else None
        cells += [fmt(r.get("gemm")), fmt(r.get("copy")), fmt(rc, 2) + ("" if rc is None else "×")]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="outputs to read in order (default: stdin)")
    ap.add_argument("--merge", choices=("last", "min"), default="last",
                    help="repeated implementation+workload: keep the last or the smallest time")
    a = ap.parse_args()
    lines = []
    if not a.files:
        lines = sys.stdin.read().splitlines()
    for p in a.files:
        with open(p) as f:
            lines += f.read().splitlines()
    order, rows = parse(lines, a.merge)
    if not rows:
        print("no result lines found", file=sys.stderr)
        return 1
    print(table(order, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
