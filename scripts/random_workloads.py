#!/usr/bin/env python3
"""Writes bench/random_workloads.json: layers and resizes drawn at random (fixed seeds) from
the ranges decoder networks use, in the format of bench/workloads.json.

The standard, extra and sweep sets name shapes someone picked; these were picked by no one,
so they show how upconv does on shapes it was not tuned to (each later fix was measured on
them before it landed, never tuned to one of them).

    python3 scripts/random_workloads.py            # rewrites bench/random_workloads.json
"""
import json
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "random_workloads.json")


def conv_out(h, k, s, p, op):
    return (h - 1) * s + k - 2 * p + op


def deconv_layers(seed, n, stride_one=False):
    """Transposed convolutions of 5e6 to 6e8 multiply-adds."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        cin = rng.choice([3, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512])
        cout = rng.choice([1, 3, 8, 16, 24, 32, 48, 64, 96, 128, 256, 512])
        k = rng.choice([1, 2, 3, 4, 4, 4, 5, 7, 8])
        if stride_one:
            s = 1
        else:
            s = rng.choice([1, 2, 2, 2, 3, 4]) if k > 1 else rng.choice([1, 2])
            s = min(s, k) if rng.random() < 0.8 else s
        pad = rng.randint(0, (k - 1) // 2) if rng.random() < 0.7 else 0
        op = rng.randint(0, s - 1) if s > 1 and rng.random() < 0.3 else 0
        hw = rng.choice([4, 7, 8, 14, 16, 28, 32, 48, 64, 96, 128])
        b = rng.choice([1, 1, 1, 2, 4, 8, 16])
        g = 1
        if rng.random() < 0.15:
            g = rng.choice([2, 4, 8])
            if cin % g or cout % g:
                g = 1
        macs = b * cin * cout // g * k * k * hw * hw
        if not 5e6 < macs < 6e8 or conv_out(hw, k, s, pad, op) < 1:
            continue
        tag = "s1" if stride_one else "d"
        out.append(dict(name=f"{tag}{seed}.{len(out)}_b{b}c{cin}to{cout}k{k}s{s}p{pad}op{op}g{g}hw{hw}",
                        x=[b, cin, hw, hw], cout=cout, k=k, stride=s, pad=pad, outpad=op,
                        groups=g))
    return out


def resizes(seed, n):
    """Resizes and pixel shuffles of 2e5 to 6e7 output elements."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        mode = rng.choice(["nearest", "nearest", "bilinear", "bilinear", "bicubic",
                           "nearest-exact", "pixel_shuffle"])
        b = rng.choice([1, 1, 2, 4, 8])
        c = rng.choice([1, 3, 16, 32, 64, 128, 256])
        h = rng.choice([7, 14, 16, 28, 32, 50, 64, 100, 128, 256])
        w = rng.choice([h, h, h + 3])
        if mode == "pixel_shuffle":
            sc = rng.choice([2, 3, 4])
            c = c * sc * sc if c * sc * sc <= 1024 else sc * sc * 4
            elems = b * c * h * w
        else:
            sc = rng.choice([2, 2, 3, 4, 8, 1.5, 0.5]) if mode == "nearest" else \
                rng.choice([2, 2, 2, 3, 4, 1.5, 2.5, 0.5])
            elems = b * c * h * w * sc * sc
        ac = mode in ("bilinear", "bicubic") and rng.random() < 0.3
        if not 2e5 < elems < 6e7:
            continue
        out.append(dict(name=f"u{len(out)}_{mode}_b{b}c{c}h{h}w{w}s{sc}{'ac' if ac else ''}",
                        x=[b, c, h, w], mode=mode, scale=sc, align_corners=ac))
    return out


def main():
    doc = ("Random shapes (scripts/random_workloads.py, fixed seeds): 80 transposed "
           "convolutions of any stride, 30 of stride 1, 30 resizes and pixel shuffles.")
    data = {"_doc": doc,
            "deconv": deconv_layers(1, 40) + deconv_layers(2, 40) + deconv_layers(5, 30, True),
            "up": resizes(1, 30)}
    with open(OUT, "w") as f:
        f.write("{\n  \"_doc\": " + json.dumps(doc) + ",\n  \"deconv\": [\n")
        f.write(",\n".join("    " + json.dumps(x) for x in data["deconv"]))
        f.write("\n  ],\n  \"up\": [\n")
        f.write(",\n".join("    " + json.dumps(x) for x in data["up"]))
        f.write("\n  ]\n}\n")
    print(len(data["deconv"]), "layers,", len(data["up"]), "resizes ->", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
