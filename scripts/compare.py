#!/usr/bin/env python3
"""Times PyTorch and ONNX Runtime on a workload file, in the line format of
`cargo run --release --example bench_workloads` (prefixed with the backend):

    torch deconv <name> out=[N,C,...] <median ms> ms <GFLOP/s> GFLOP/s
    ort up <name> out=[N,C,...] <median ms> ms <GB/s> GB/s

Run from anywhere (paths default to the repository's files):

    /work/venv/bin/python scripts/compare.py [WORKLOADS.json] [--threads 2] [--into]
        [--reps N] [--warmup 2] [--only SUBSTRING] [--backends torch,ort] [--check]

* threads: torch.set_num_threads(N) / ORT intra_op_num_threads=N (inter-op 1); default 2,
  PyTorch's default on this 2-core machine.
* reps: timed runs per workload after `warmup` untimed runs; default as many as fit in
  about one second (5 to 50), as in the Rust example. The median is printed.
* --into: reuse a preallocated output. PyTorch: the `aten::upsample_*2d.out` /
  `pixel_shuffle.out` overloads (F.conv_transpose2d has no out= form with the oneDNN path,
  so deconvolution always allocates). ORT: IO binding to a preallocated numpy output.
  Without it, F.* return new tensors and ORT's `run` returns new numpy arrays.
* --check: also print `# check` lines with the max abs difference between torch and ORT.

FLOPs and bytes are computed exactly as upconv's cost model does (see `deconv_cost`), so
the rates of every implementation refer to the same work. Compare the rows with
scripts/ratios.py.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WORKLOADS = os.path.join(HERE, "..", "bench", "workloads.json")


def axes(wl, key, default):
    """A number, or one per spatial axis, as a list of one per spatial axis."""
    spatial = len(wl["x"]) - 2
    v = wl.get(key, default)
    return list(v) if isinstance(v, (list, tuple)) else [v] * spatial


def deconv_params(wl):
    n, cin, *sp = wl["x"]
    g = wl.get("groups", 1)
    k = axes(wl, "k", None)
    s = axes(wl, "stride", 1)
    p = axes(wl, "pad", 0)
    op = axes(wl, "outpad", 0)
    d = axes(wl, "dilation", 1)
    cout = wl["cout"]
    return n, cin, sp, cout, g, k, s, p, op, d


def deconv_out(wl):
    n, cin, sp, cout, g, k, s, p, op, d = deconv_params(wl)
    o = [(sp[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1 for i in range(len(sp))]
    return [n, cout] + o


def deconv_cost(wl):
    """(multiply_adds, bytes_moved) as upconv's ConvTranspose::cost counts them: only taps
    landing inside the output count; bytes = input + weight + bias (always counted) + output,
    4 bytes each."""
    n, cin, sp, cout, g, k, s, p, op, d = deconv_params(wl)
    out = deconv_out(wl)
    taps = 1
    for a in range(len(sp)):
        cnt = 0
        for i in range(sp[a]):
            for j in range(k[a]):
                o = i * s[a] - p[a] + j * d[a]
                if 0 <= o < out[2 + a]:
                    cnt += 1
        taps *= cnt
    macs = n * cin * (cout // g) * taps
    x = math.prod(wl["x"])
    wgt = cin * (cout // g) * math.prod(k)
    y = math.prod(out)
    return macs, 4 * (x + wgt + cout + y)


def up_scales(wl):
    """The scale factors, one per spatial axis (a number applies to all)."""
    spatial = len(wl["x"]) - 2
    sc = wl["scale"]
    return [float(v) for v in sc] if isinstance(sc, (list, tuple)) else [float(sc)] * spatial


def up_out(wl):
    n, c, *sp = wl["x"]
    s = up_scales(wl)
    if wl["mode"] == "pixel_shuffle":
        r = int(s[0])
        return [n, c // (r * r)] + [v * r for v in sp]
    return [n, c] + [int(math.floor(v * f)) for v, f in zip(sp, s)]


def up_bytes(wl):
    x = math.prod(wl["x"])
    if wl["mode"] == "pixel_shuffle":
        return 8 * x
    return 4 * (x + math.prod(up_out(wl)))


def fmt_shape(s):
    return "[" + ",".join(str(v) for v in s) + "]"


def median_ms(fn, reps, warmup):
    first = None
    for i in range(max(warmup, 1)):
        t = time.perf_counter()
        fn()
        if i == 0:
            first = time.perf_counter() - t
    n = reps or min(max(math.ceil(1.0 / max(first, 1e-6)), 5), 50)
    v = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        v.append((time.perf_counter() - t) * 1e3)
    v.sort()
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def random(shape, seed):
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(np.float32)


def line(prefix, kind, wl, out, ms, rate, unit):
    digits = 1 if unit == "GFLOP/s" else 2
    print(f"{prefix} {kind} {wl['name']} out={fmt_shape(out)} {ms:.3f} ms {rate:.{digits}f} {unit}",
          flush=True)


# ---------------------------------------------------------------- PyTorch


class Torch:
    name = "torch"

    def __init__(self, threads, into):
        import torch
        import torch.nn.functional as F

        self.torch, self.F, self.into = torch, F, into
        torch.set_num_threads(threads)
        torch.set_grad_enabled(False)

    def deconv(self, wl, x, w):
        _, _, sp, _, g, _, s, p, op, d = deconv_params(wl)
        F, xt, wt = self.F, self.torch.from_numpy(x), self.torch.from_numpy(w)
        f = [F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d][len(sp) - 1]
        return lambda: f(xt, wt, None, s, p, op, g, d)

    def up(self, wl, x):
        torch, F = self.torch, self.F
        xt = torch.from_numpy(x)
        mode, ac = wl["mode"], bool(wl.get("align_corners", False))
        aa = bool(wl.get("antialias", False))
        s = up_scales(wl)
        out = up_out(wl)
        rank = len(out) - 2
        if mode == "pixel_shuffle":
            r = int(s[0])
            if self.into:
                y = torch.empty(out)
                return lambda: torch.ops.aten.pixel_shuffle.out(xt, r, out=y)
            return lambda: F.pixel_shuffle(xt, r)
        if mode in ("linear", "bilinear", "trilinear"):
            mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[rank]
        kw = {"align_corners": ac} if mode in ("bilinear", "bicubic", "linear", "trilinear") else {}
        if aa:
            kw["antialias"] = True
        if not self.into:
            return lambda: F.interpolate(xt, scale_factor=s, mode=mode, **kw)
        # the aten kernels F.interpolate calls, with a preallocated output
        y = torch.empty(out)
        sz = out[2:]
        aten = torch.ops.aten
        d = f"{rank}d"
        if mode == "nearest":
            op = getattr(aten, "upsample_nearest" + d)
            return lambda: op.out(xt, sz, *s, out=y)
        if mode == "nearest-exact":
            op = getattr(aten, "_upsample_nearest_exact" + d)
            return lambda: op.out(xt, sz, *s, out=y)
        if mode in ("linear", "bilinear", "trilinear", "bicubic"):
            name = {"linear": "upsample_linear1d", "bilinear": "upsample_bilinear2d",
                    "trilinear": "upsample_trilinear3d", "bicubic": "upsample_bicubic2d"}[mode]
            op = getattr(aten, "_" + name + "_aa" if aa else name)
            return lambda: op.out(xt, sz, ac, *s, out=y)
        if mode == "area" and rank > 1:
            op = getattr(aten, "adaptive_avg_pool" + d)
            return lambda: op.out(xt, sz, out=y)
        return lambda: F.interpolate(xt, scale_factor=s, mode=mode, **kw)

    def result(self, fn):
        return fn().numpy()


# ---------------------------------------------------------------- ONNX Runtime


class Ort:
    name = "ort"

    def __init__(self, threads, into):
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper

        self.onnx, self.ort, self.helper, self.nh, self.TP = onnx, ort, helper, numpy_helper, TensorProto
        self.threads, self.into = threads, into

    def session(self, node, inits, x_shape, y_shape, opset):
        h, TP = self.helper, self.TP
        graph = h.make_graph(
            [node],
            "g",
            [h.make_tensor_value_info("X", TP.FLOAT, x_shape)],
            [h.make_tensor_value_info("Y", TP.FLOAT, y_shape)],
            initializer=inits,
        )
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
        model.ir_version = 8
        self.onnx.checker.check_model(model)
        so = self.ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return self.ort.InferenceSession(model.SerializeToString(), so,
                                         providers=["CPUExecutionProvider"])

    def runner(self, sess, x, out):
        if not self.into:
            return lambda: sess.run(None, {"X": x})[0]
        y = np.empty(out, dtype=np.float32)
        io = sess.io_binding()
        io.bind_cpu_input("X", x)
        io.bind_output("Y", "cpu", 0, np.float32, out, y.ctypes.data)

        def run():
            sess.run_with_iobinding(io)
            return y

        return run

    def deconv(self, wl, x, w):
        _, _, _, _, g, k, s, p, op, d = deconv_params(wl)
        out = deconv_out(wl)
        node = self.helper.make_node(
            "ConvTranspose", ["X", "W"], ["Y"], kernel_shape=k, strides=s,
            pads=p + p, output_padding=op, dilations=d, group=g)
        sess = self.session(node, [self.nh.from_array(w, "W")], list(x.shape), out, 17)
        return self.runner(sess, x, out)

    def up(self, wl, x):
        """None where ONNX has no such resize (area)."""
        mode, ac = wl["mode"], bool(wl.get("align_corners", False))
        s = up_scales(wl)
        out = up_out(wl)
        h = self.helper
        if mode == "pixel_shuffle":
            node = h.make_node("DepthToSpace", ["X"], ["Y"], blocksize=int(s[0]), mode="CRD")
            inits = []
        elif mode == "area":
            return None
        else:
            # PyTorch's semantics in ONNX terms (upconv's src/upsample/mod.rs table)
            attrs = {
                "nearest": dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                                nearest_mode="floor"),
                "nearest-exact": dict(mode="nearest", coordinate_transformation_mode="half_pixel",
                                      nearest_mode="round_prefer_ceil"),
                "linear": dict(mode="linear"),
                "bilinear": dict(mode="linear"),
                "trilinear": dict(mode="linear"),
                "bicubic": dict(mode="cubic", cubic_coeff_a=-0.75),
            }[mode]
            if mode not in ("nearest", "nearest-exact"):
                attrs["coordinate_transformation_mode"] = "align_corners" if ac else "pytorch_half_pixel"
            if wl.get("antialias", False):
                attrs["antialias"] = 1
            scales = np.array([1, 1] + s, dtype=np.float32)
            node = h.make_node("Resize", ["X", "", "scales"], ["Y"], **attrs)
            inits = [self.nh.from_array(scales, "scales")]
        try:
            sess = self.session(node, inits, list(x.shape), out, 19)
        except Exception as e:  # an ONNX Runtime build without this resize
            print(f"# ort cannot run {wl['name']}: {str(e).splitlines()[0][:120]}")
            return None
        return self.runner(sess, x, out)

    def result(self, fn):
        return np.array(fn(), copy=True)


# ---------------------------------------------------------------- driver


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workloads", nargs="?", default=DEFAULT_WORKLOADS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--into", action="store_true")
    ap.add_argument("--only", default=None)
    ap.add_argument("--backends", default="torch,ort")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()

    with open(a.workloads) as f:
        doc = json.load(f)
    makers = {"torch": Torch, "ort": Ort}
    backends = [makers[b.strip()](a.threads, a.into) for b in a.backends.split(",") if b.strip()]
    print(f"# compare.py: file={os.path.relpath(a.workloads)} threads={a.threads} into={a.into} "
          f"reps={a.reps or 'auto'} warmup={a.warmup} backends={','.join(b.name for b in backends)}")
    if a.into and any(b.name == "torch" for b in backends):
        print("# note: torch deconv allocates its output even with --into (no out= overload "
              "on the oneDNN path)")

    def wanted(wl):
        return a.only is None or a.only in wl["name"]

    for wl in filter(wanted, doc.get("deconv", [])):
        n, cin, sp, cout, g, k, *_ = deconv_params(wl)
        x = random(wl["x"], 1)
        w = random([cin, cout // g] + k, 2)
        macs, _ = deconv_cost(wl)
        results = {}
        for b in backends:
            fn = b.deconv(wl, x, w)
            ms = median_ms(fn, a.reps, a.warmup)
            line(b.name, "deconv", wl, deconv_out(wl), ms, 2 * macs / (ms * 1e6), "GFLOP/s")
            if a.check:
                results[b.name] = b.result(fn)
        check(wl, results)

    for wl in filter(wanted, doc.get("up", [])):
        x = random(wl["x"], 3)
        nbytes = up_bytes(wl)
        results = {}
        for b in backends:
            fn = b.up(wl, x)
            if fn is None:
                continue
            ms = median_ms(fn, a.reps, a.warmup)
            line(b.name, "up", wl, up_out(wl), ms, nbytes / (ms * 1e6), "GB/s")
            if a.check:
                results[b.name] = b.result(fn)
        check(wl, results)


def check(wl, results):
    if len(results) == 2:
        r = list(results.values())
        diff = float(np.max(np.abs(r[0] - r[1]))) if r[0].shape == r[1].shape else float("nan")
        print(f"# check {wl['name']} torch-vs-ort max_abs_diff={diff:.3g}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
