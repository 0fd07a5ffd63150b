#!/usr/bin/env python3
"""Golden fixtures for convolution and transposed convolution (tests/golden_conv.rs).

Run from the repository root:

    /work/venv/bin/python scripts/gen_conv_fixtures.py

(any Python with torch, numpy, onnx and onnxruntime works; the files were made with the
versions recorded in each file's header). CI never runs this script: the JSON files it writes
under tests/data/conv/ are committed, and tests/golden_conv.rs only reads them.

Output is deterministic: every case draws its data from its own numpy generator seeded with
the CRC-32 of the case name, uniform in [-1, 1] (float32 cases draw in float64 and round to
float32, so the values written round-trip exactly through f64 to f32). Computation runs on
one CPU thread.

Files:
  conv_transpose_torch.json  F.conv_transpose{1,2,3}d, nn.ConvTranspose{1,2,3}d(output_size=),
                             and asymmetric padding (see below)
  conv_torch.json            F.conv{1,2,3}d, asymmetric padding through F.pad
  conv_transpose_onnx.json   ONNX ConvTranspose run by onnxruntime (float32 only: ORT has no
                             float64 ConvTranspose kernel on CPU)
  invalid_torch.json         parameter mixes, with whether PyTorch raised; shapes only

Asymmetric padding for transposed convolution: PyTorch only has symmetric padding, so those
cases run F.conv_transpose with padding 0 (and the case's output_padding) and then crop
pad_begin samples from the start and pad_end samples from the end of every spatial axis.
That is exactly the ONNX definition of ConvTranspose `pads`:
    O = s*(I-1) + output_padding + (K-1)*d + 1 - pad_begin - pad_end.

Every torch / ORT result is also checked against an independent float64 numpy
implementation of the scatter form (semantics.md 1.1); a mismatch aborts the script.
For ONNX the numpy side needs ORT's pad split, which is (observed with ORT 1.32):
    total = max(0, s*(I-1) + op + (K-1)*d + 1 - target)
    SAME_UPPER: pb = total // 2, pe = total - pb    (odd sample dropped at the end)
    otherwise:  pb = total - total // 2, pe = total // 2
so an output_shape larger than the full result gives zeros at the END, whatever auto_pad.

JSON: one object with "generator", "torch", "onnxruntime" and "cases"; see tests/golden_conv.rs.
"""

import json
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper
except ImportError:  # pragma: no cover
    onnx = ort = None

torch.set_num_threads(1)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "data", "conv")
GENERATOR = "scripts/gen_conv_fixtures.py"

NP_DTYPE = {"float32": np.float32, "float64": np.float64}
TORCH_DTYPE = {"float32": torch.float32, "float64": torch.float64}
SUFFIX = {"float32": "f32", "float64": "f64"}


# ----------------------------------------------------------------------------------------
# helpers


def axes(v, dims):
    """Per-axis list from a scalar or a sequence."""
    if isinstance(v, (list, tuple)):
        assert len(v) == dims, (v, dims)
        return [int(e) for e in v]
    return [int(v)] * dims


def rand(name, tag, shape, dtype):
    seed = zlib.crc32(f"{name}/{tag}".encode())
    a = np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)
    return a.astype(NP_DTYPE[dtype])


def tensor_json(a):
    a = np.asarray(a)
    return {"shape": [int(s) for s in a.shape], "data": [float(v) for v in a.ravel()]}


def shape_json(shape):
    return {"shape": [int(s) for s in shape]}


def check_close(name, got, ref, dtype):
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == ref.shape, f"{name}: shape {got.shape} vs numpy {ref.shape}"
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    tol = (1e-5 if dtype == "float32" else 1e-12) * scale
    err = float(np.abs(got - ref).max()) if ref.size else 0.0
    if err > tol:
        sys.exit(f"{name}: oracle differs from the numpy scatter reference by {err} > {tol}")


def scatter_ref(x, w, b, stride, pad_begin, dilation, groups, out_sizes):
    """float64 scatter form of semantics.md 1.1; pad_begin may be negative (leading zeros)."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, cin = x.shape[:2]
    ins, ks = x.shape[2:], w.shape[2:]
    nd = len(ins)
    cig, cog = cin // groups, w.shape[1]
    full_len = [(ins[a] - 1) * stride[a] + (ks[a] - 1) * dilation[a] + 1 for a in range(nd)]
    full = np.zeros((n, cog * groups, *full_len))
    for tap in np.ndindex(*ks):
        sl = tuple(
            slice(tap[a] * dilation[a], tap[a] * dilation[a] + (ins[a] - 1) * stride[a] + 1, stride[a])
            for a in range(nd)
        )
        for g in range(groups):
            xs = x[:, g * cig:(g + 1) * cig]
            ws = w[(slice(g * cig, (g + 1) * cig), slice(None)) + tap]
            full[(slice(None), slice(g * cog, (g + 1) * cog)) + sl] += np.einsum("nc...,cd->nd...", xs, ws)
    y = np.zeros((n, cog * groups, *out_sizes))
    dst, src = [], []
    for a in range(nd):
        d0 = max(0, -pad_begin[a])
        s0 = max(0, pad_begin[a])
        cnt = min(out_sizes[a] - d0, full_len[a] - s0)
        if cnt <= 0:
            return y + (0 if b is None else np.asarray(b, np.float64).reshape(1, -1, *[1] * nd))
        dst.append(slice(d0, d0 + cnt))
        src.append(slice(s0, s0 + cnt))
    y[(slice(None), slice(None)) + tuple(dst)] = full[(slice(None), slice(None)) + tuple(src)]
    if b is not None:
        y += np.asarray(b, np.float64).reshape(1, -1, *[1] * nd)
    return y


def conv_ref(x, w, b, stride, pad_begin, pad_end, dilation, groups):
    """float64 forward convolution (cross-correlation) with asymmetric zero padding."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(pad_begin[a], pad_end[a]) for a in range(nd)])
    n, cin = x.shape[:2]
    cout, cig = w.shape[:2]
    cog = cout // groups
    ks = w.shape[2:]
    outs = [(x.shape[2 + a] - dilation[a] * (ks[a] - 1) - 1) // stride[a] + 1 for a in range(nd)]
    y = np.zeros((n, cout, *outs))
    for tap in np.ndindex(*ks):
        sl = tuple(
            slice(tap[a] * dilation[a], tap[a] * dilation[a] + (outs[a] - 1) * stride[a] + 1, stride[a])
            for a in range(nd)
        )
        for g in range(groups):
            xs = x[(slice(None), slice(g * cig, (g + 1) * cig)) + sl]
            ws = w[(slice(g * cog, (g + 1) * cog), slice(None)) + tap]
            y[:, g * cog:(g + 1) * cog] += np.einsum("nc...,dc->nd...", xs, ws)
    if b is not None:
        y += np.asarray(b, np.float64).reshape(1, -1, *[1] * nd)
    return y


def torch_rule_ok(s, d, op):
    return all(o < st or o < dl for st, dl, o in zip(s, d, op))


def base_case(name, op, dims, dtype, x, w, b, stride, pb, pe, dil, groups, opad, y,
              output_size=None, auto_pad=None, output_shape=None):
    return {
        "name": name,
        "op": op,
        "dims": dims,
        "dtype": dtype,
        "x": tensor_json(x),
        "w": tensor_json(w),
        "b": None if b is None else tensor_json(b),
        "stride": stride,
        "pad_begin": pb,
        "pad_end": pe,
        "dilation": dil,
        "groups": groups,
        "output_padding": opad,
        "output_size": output_size,
        "auto_pad": auto_pad,
        "output_shape": output_shape,
        "y": tensor_json(y),
    }


CT_FN = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
CONV_FN = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CT_MOD = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


def make_inputs(name, dims, dtype, n, cin, wshape, cout_bias, insz, bias):
    x = rand(name, "x", (n, cin, *insz), dtype)
    w = rand(name, "w", wshape, dtype)
    b = rand(name, "b", (cout_bias,), dtype) if bias else None
    return x, w, b


def tt(a):
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a))


# ----------------------------------------------------------------------------------------
# PyTorch transposed convolution


def ct_torch(base, dims, n, cin, cout, insz, k, s=1, p=0, op=0, d=1, g=1, bias=True,
             dtypes=("float32", "float64")):
    """F.conv_transpose{dims}d with symmetric padding."""
    insz, k, s, p, op, d = (axes(v, dims) for v in (insz, k, s, p, op, d))
    assert torch_rule_ok(s, d, op), base
    out = []
    for dtype in dtypes:
        name = f"{base}_{SUFFIX[dtype]}"
        x, w, b = make_inputs(name, dims, dtype, n, cin, (cin, cout // g, *k), cout, insz, bias)
        y = CT_FN[dims](tt(x), tt(w), tt(b), stride=s, padding=p, output_padding=op,
                        groups=g, dilation=d).numpy()
        outs = [(insz[a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a in range(dims)]
        check_close(name, y, scatter_ref(x, w, b, s, p, d, g, outs), dtype)
        out.append(base_case(name, "conv_transpose", dims, dtype, x, w, b, s, p, p, d, g, op, y))
    return out


def ct_torch_output_size(base, dims, n, cin, cout, insz, k, size, s=1, p=0, d=1, g=1, bias=True,
                         dtypes=("float32", "float64"), module_op=0, full_size=False):
    """nn.ConvTranspose{dims}d(...)(x, output_size=size) with the weights copied in.

    module_op is the module's own output_padding, which PyTorch ignores when output_size is
    given; the JSON records output_padding as zeros and output_size as the spatial sizes.
    """
    insz, k, s, p, d, size = (axes(v, dims) for v in (insz, k, s, p, d, size))
    out = []
    for dtype in dtypes:
        name = f"{base}_{SUFFIX[dtype]}"
        x, w, b = make_inputs(name, dims, dtype, n, cin, (cin, cout // g, *k), cout, insz, bias)
        m = CT_MOD[dims](cin, cout, k, stride=s, padding=p, output_padding=module_op, groups=g,
                         bias=bias, dilation=d).to(TORCH_DTYPE[dtype])
        with torch.no_grad():
            m.weight.copy_(tt(w))
            if bias:
                m.bias.copy_(tt(b))
            req = [n, cout] + size if full_size else size
            y = m(tt(x), output_size=req).numpy()
        assert list(y.shape[2:]) == size, (name, y.shape)
        check_close(name, y, scatter_ref(x, w, b, s, p, d, g, size), dtype)
        out.append(base_case(name, "conv_transpose", dims, dtype, x, w, b, s, p, p, d, g,
                             [0] * dims, y, output_size=size))
    return out


def ct_torch_asym(base, dims, n, cin, cout, insz, k, pb, pe, s=1, op=0, d=1, g=1, bias=True,
                  dtypes=("float32", "float64")):
    """Asymmetric padding: conv_transpose with padding 0, then crop pb at the start and pe at the
    end of each spatial axis (the ONNX definition of pads)."""
    insz, k, s, pb, pe, op, d = (axes(v, dims) for v in (insz, k, s, pb, pe, op, d))
    assert torch_rule_ok(s, d, op), base
    out = []
    for dtype in dtypes:
        name = f"{base}_{SUFFIX[dtype]}"
        x, w, b = make_inputs(name, dims, dtype, n, cin, (cin, cout // g, *k), cout, insz, bias)
        full = CT_FN[dims](tt(x), tt(w), tt(b), stride=s, padding=0, output_padding=op,
                           groups=g, dilation=d)
        sl = tuple(slice(pb[a], full.shape[2 + a] - pe[a]) for a in range(dims))
        y = full[(slice(None), slice(None)) + sl].contiguous().numpy()
        outs = [(insz[a] - 1) * s[a] + d[a] * (k[a] - 1) + op[a] + 1 - pb[a] - pe[a] for a in range(dims)]
        assert all(o >= 1 for o in outs), base
        check_close(name, y, scatter_ref(x, w, b, s, pb, d, g, outs), dtype)
        out.append(base_case(name, "conv_transpose", dims, dtype, x, w, b, s, pb, pe, d, g, op, y))
    return out


def conv_transpose_torch_cases():
    c = []
    # ---- 1-D
    c += ct_torch("ct1d_basic", 1, 1, 1, 1, 5, 3)
    c += ct_torch("ct1d_s2_p1_op1_b2", 1, 2, 2, 3, 6, 3, s=2, p=1, op=1)
    c += ct_torch("ct1d_s3_p2_op2_nobias", 1, 1, 3, 2, 7, 4, s=3, p=2, op=2, bias=False)
    c += ct_torch("ct1d_s4_d2_p1_op3", 1, 1, 2, 2, 5, 3, s=4, p=1, op=3, d=2)
    c += ct_torch("ct1d_d3_p2", 1, 1, 2, 3, 6, 3, d=3, p=2)
    c += ct_torch("ct1d_s1_d3_op2_op_ge_stride", 1, 1, 2, 2, 4, 3, s=1, d=3, op=2)
    c += ct_torch("ct1d_s2_d3_op2_op_ge_stride", 1, 2, 1, 2, 4, 2, s=2, d=3, op=2, p=1)
    c += ct_torch("ct1d_crop_p3_k3_out1", 1, 1, 2, 2, 5, 3, p=3)
    c += ct_torch("ct1d_crop_p4_k2_d2_s2", 1, 1, 1, 2, 9, 2, s=2, p=4, d=2, op=1)
    c += ct_torch("ct1d_g2_s2_p1", 1, 2, 4, 6, 5, 3, s=2, p=1, g=2)
    c += ct_torch("ct1d_g3_d2", 1, 1, 3, 6, 6, 3, d=2, p=1, g=3, bias=False)
    c += ct_torch("ct1d_depthwise_c5", 1, 1, 5, 5, 6, 3, s=2, g=5)
    c += ct_torch("ct1d_depthwise_mult2", 1, 2, 4, 8, 4, 2, s=3, op=1, g=4)
    c += ct_torch("ct1d_k7_gt_in2_s2", 1, 1, 2, 3, 2, 7, s=2)
    c += ct_torch("ct1d_k1_s3_op2", 1, 2, 3, 2, 4, 1, s=3, op=2)
    c += ct_torch("ct1d_in1_k1_out1", 1, 1, 2, 3, 1, 1)
    c += ct_torch("ct1d_batch3_s2_p2_d2", 1, 3, 2, 2, 5, 3, s=2, p=2, d=2)
    # ---- 2-D
    c += ct_torch("ct2d_s2_p1_op1_g2", 2, 1, 4, 4, (3, 4), 3, s=2, p=1, op=1, g=2)
    c += ct_torch("ct2d_s31_p10_op20_k32", 2, 1, 2, 3, (3, 4), (3, 2), s=(3, 1), p=(1, 0), op=(2, 0))
    c += ct_torch("ct2d_dcgan_k4_s2_p1", 2, 1, 3, 2, (4, 4), 4, s=2, p=1)
    c += ct_torch("ct2d_d23_s12_p21_op11", 2, 1, 2, 2, (4, 3), (2, 3), s=(1, 2), p=(2, 1), op=(1, 1),
                  d=(2, 3))
    c += ct_torch("ct2d_crop_p32_k32", 2, 1, 2, 2, (5, 4), (3, 2), p=(3, 2), bias=False)
    c += ct_torch("ct2d_depthwise_c6_s2", 2, 1, 6, 6, (3, 3), 3, s=2, p=1, g=6)
    c += ct_torch("ct2d_g3_cin6_cout3", 2, 1, 6, 3, (4, 3), (2, 3), s=(2, 1), g=3)
    c += ct_torch("ct2d_k54_gt_in21_s23", 2, 1, 2, 2, (2, 1), (5, 4), s=(2, 3))
    c += ct_torch("ct2d_1x1_s23_op12_b2", 2, 2, 3, 2, (3, 2), 1, s=(2, 3), op=(1, 2))
    c += ct_torch("ct2d_in11_k11_out1", 2, 1, 3, 2, (1, 1), 1)
    c += ct_torch("ct2d_crop_to_1x1", 2, 1, 2, 2, (5, 4), 3, p=(3, 2), d=(1, 1))
    c += ct_torch("ct2d_odd_75_k35_p12", 2, 1, 2, 2, (7, 5), (3, 5), p=(1, 2))
    c += ct_torch("ct2d_batch3_s22_p01", 2, 3, 2, 2, (2, 3), (2, 3), s=2, p=(0, 1), bias=False)
    c += ct_torch("ct2d_s4_op31_k35_p12", 2, 1, 2, 1, (2, 2), (3, 5), s=4, p=(1, 2), op=(3, 1))
    c += ct_torch("ct2d_s12_d31_op21", 2, 1, 2, 2, (3, 3), (3, 2), s=(1, 2), d=(3, 1), op=(2, 1))
    c += ct_torch("ct2d_all_s23_p12_op12_d22_g2_b2", 2, 2, 4, 2, (3, 2), (2, 3), s=(2, 3), p=(1, 2),
                  op=(1, 2), d=2, g=2)
    # ---- 3-D
    c += ct_torch("ct3d_basic_s2", 3, 1, 1, 2, (2, 3, 2), 2, s=2)
    c += ct_torch("ct3d_s123_p011_op012_d211", 3, 1, 2, 2, (2, 3, 2), (2, 3, 2), s=(1, 2, 3),
                  p=(0, 1, 1), op=(0, 1, 2), d=(2, 1, 1))
    c += ct_torch("ct3d_g2_s212_p100", 3, 1, 4, 2, (2, 2, 3), 2, s=(2, 1, 2), p=(1, 0, 0), g=2,
                  bias=False)
    c += ct_torch("ct3d_crop_p221_d121", 3, 1, 2, 1, (5, 3, 3), 2, p=(2, 2, 1), d=(1, 2, 1))
    c += ct_torch("ct3d_depthwise_c3_p1", 3, 1, 3, 3, (3, 2, 3), 3, p=1, g=3)
    c += ct_torch("ct3d_k1_s231_op120_b2", 3, 2, 2, 2, (2, 2, 2), 1, s=(2, 3, 1), op=(1, 2, 0))
    c += ct_torch("ct3d_in111_out1", 3, 1, 2, 2, (1, 1, 1), 1)
    # ---- output_size= (module forward)
    c += ct_torch_output_size("ct2d_osize_min_k3_s2_p1", 2, 1, 2, 3, (4, 4), 3, (7, 7), s=2, p=1)
    c += ct_torch_output_size("ct2d_osize_max_k3_s2_p1", 2, 1, 2, 3, (4, 4), 3, (8, 8), s=2, p=1)
    c += ct_torch_output_size("ct2d_osize_mixed_s34", 2, 1, 2, 2, (3, 2), (3, 2), (9, 8), s=(3, 4),
                              p=(1, 0), g=2, dtypes=("float32",))
    c += ct_torch_output_size("ct1d_osize_s3_mid", 1, 2, 2, 2, 4, 3, 11, s=3, p=1, dtypes=("float64",))
    c += ct_torch_output_size("ct1d_osize_s1_d3_only_min", 1, 1, 1, 2, 4, 3, 8, s=1, p=1, d=3,
                              dtypes=("float32",))
    c += ct_torch_output_size("ct1d_osize_min_negative_out1", 1, 1, 1, 1, 1, 1, 1, s=3, p=1,
                              dtypes=("float64",))
    c += ct_torch_output_size("ct1d_osize_ignores_module_op", 1, 1, 2, 2, 4, 3, 7, s=2, p=1,
                              module_op=1, dtypes=("float32",))
    c += ct_torch_output_size("ct2d_osize_with_nc_d2", 2, 1, 2, 2, (3, 3), 2, (10, 9), s=(3, 3),
                              p=(0, 1), d=2, full_size=True, dtypes=("float64",))
    c += ct_torch_output_size("ct3d_osize_s2", 3, 1, 2, 2, (2, 2, 2), 3, (4, 3, 2), s=(2, 2, 1), p=1,
                              dtypes=("float32",))
    # ---- stride 1, 3x3, 16 channels: upconv's Winograd path through the flipped kernel
    c += ct_torch("ct2d_s1_winograd_3x3_c16", 2, 1, 16, 16, (5, 7), 3, p=1, dtypes=("float32",))
    # ---- a large layer on an input of few positions (a generator's first layers, a U-Net
    #      bottleneck): upconv's skinny product (2x2 and 1x1 inputs, two images side by side)
    #      and its column-major GEMM (four 2x2 images side by side, 32 output channels)
    c += ct_torch("ct2d_skinny_2x2_k4s2", 2, 2, 16, 8, (2, 2), 4, s=2, p=1, dtypes=("float32",))
    c += ct_torch("ct2d_skinny_1x1_k4s2", 2, 1, 8, 8, (1, 1), 4, s=2, dtypes=("float32",))
    c += ct_torch("ct2d_col_major_b4_2x2_k4s2", 2, 4, 4, 32, (2, 2), 4, s=2, p=1,
                  dtypes=("float32",))
    #      (the column-major orientation needs a product 64+ deep; the case above, 4 deep, is
    #      row-major since, and this one, 9 columns against 72 rows, column-major)
    c += ct_torch("ct2d_col_major_c64_3x3_k3s2", 2, 1, 64, 8, (3, 3), 3, s=2, dtypes=("float32",))
    # ---- a latent vector projected to a 4x4 map (DCGAN's first layer: 1x1 input, stride 1,
    #      no padding): upconv's one-GEMM projection path, with groups
    c += ct_torch("ct2d_project_1x1_k4", 2, 5, 6, 4, (1, 1), 4, dtypes=("float32",))
    c += ct_torch("ct2d_project_1x1_k3x2_g2", 2, 3, 4, 6, (1, 1), (3, 2), g=2, dtypes=("float32",))
    # ---- 1x1 stride-1 layers with few output channels per group (a mask head, a vocoder's
    #      channel mixer): upconv's pointwise path, with groups, 1-D and 2-D
    c += ct_torch("ct2d_pointwise_c20_to6", 2, 2, 20, 6, (5, 7), 1)
    c += ct_torch("ct1d_pointwise_g3_c12_to6_nobias", 1, 1, 12, 6, 40, 1, g=3, bias=False)
    # ---- 64+ input channels per group on inputs of 4-128 positions: a ConvTransposeLayer's
    #      GEMM + col2im reads its weight packed into 16-row panels (channel blocks ending
    #      inside a panel, groups, dilation, output padding, two images side by side, 1-D)
    c += ct_torch("ct2d_panels_c64_to2_k3s2", 2, 1, 64, 2, (2, 3), 3, s=2, p=1, op=1,
                  dtypes=("float32",))
    c += ct_torch("ct2d_panels_g2_c128_to4_d2_b2", 2, 2, 128, 4, (2, 2), 3, s=2, d=2, g=2,
                  dtypes=("float64",))
    c += ct_torch("ct1d_panels_c64_to3_k6s3", 1, 1, 64, 3, 9, 6, s=3, p=2, dtypes=("float64",))
    # ---- small batched images, 64+ deep, more than 128 GEMM rows: a layer runs one image per
    #      task through its register tiles (two blocks each for two or three images)
    c += ct_torch("ct2d_per_image_b2_c64_to12_k4s2", 2, 2, 64, 12, (4, 4), 4, s=2, p=1,
                  dtypes=("float32",))
    c += ct_torch("ct2d_per_image_b4_c64_to10_k5s2", 2, 4, 64, 10, (3, 5), 5, s=2, p=2, op=1,
                  dtypes=("float32",))
    # ---- stride 1 on a small map with a large kernel: the flipped kernel's row shift skips
    #      the kernel rows' padding rows
    c += ct_torch("ct2d_s1_k7_on_6x5_skips_padding", 2, 2, 8, 6, (6, 5), 7, p=1)
    # ---- strided layers with shallow inputs: f32 runs them through the direct register
    #      tiles (a block of eight output channels and a remainder, groups, dilation, 1-D)
    c += ct_torch("ct2d_direct_c12_to10_k3s2_op1", 2, 2, 12, 10, (9, 13), 3, s=2, p=1, op=1,
                  dtypes=("float32",))
    c += ct_torch("ct2d_direct_g2_c6_to9_k4_s23_d2", 2, 1, 12, 18, (7, 10), 4, s=(2, 3), p=2,
                  d=2, g=2, dtypes=("float32",))
    c += ct_torch("ct1d_direct_c4_to6_k5s2", 1, 2, 4, 6, 33, 5, s=2, p=1, dtypes=("float32",))
    # ---- a 1-D signal long enough to be cut into windows along the row
    c += ct_torch("ct1d_direct_windows_c4_to4_k4s2", 1, 1, 4, 4, 400, 4, s=2, p=1,
                  dtypes=("float32",))
    # ---- asymmetric padding (ONNX-style pads), via padding 0 + crop
    c += ct_torch_asym("ct1d_asym_pb0_pe2_s2", 1, 1, 2, 2, 4, 3, 0, 2, s=2)
    c += ct_torch_asym("ct1d_asym_pb3_pe1_d2_op1", 1, 1, 1, 2, 5, 2, 3, 1, s=2, d=2, op=1,
                       dtypes=("float64",))
    c += ct_torch_asym("ct2d_asym_pb10_pe02_s21_d12_g2", 2, 1, 4, 2, (3, 4), (3, 2), (1, 0), (0, 2),
                       s=(2, 1), d=(1, 2), g=2)
    c += ct_torch_asym("ct2d_asym_pe_gt_span_op11", 2, 1, 2, 3, (3, 3), 2, (0, 1), (3, 2), s=3, op=1,
                       dtypes=("float32",))
    c += ct_torch_asym("ct2d_asym_pb_gt_span_out1", 2, 1, 1, 1, (2, 2), 2, (3, 2), (0, 0), s=(2, 1),
                       dtypes=("float64",))
    c += ct_torch_asym("ct3d_asym_pb102_pe011_s2", 3, 1, 2, 2, (2, 2, 3), 2, (1, 0, 2), (0, 1, 1), s=2)
    return c


# ----------------------------------------------------------------------------------------
# PyTorch forward convolution


def conv_torch(base, dims, n, cin, cout, insz, k, s=1, pb=0, pe=None, d=1, g=1, bias=True,
               dtypes=("float32", "float64")):
    """F.conv{dims}d. Symmetric padding goes to the conv; asymmetric through F.pad (zeros)."""
    insz, k, s, pb, d = (axes(v, dims) for v in (insz, k, s, pb, d))
    pe = pb if pe is None else axes(pe, dims)
    out = []
    for dtype in dtypes:
        name = f"{base}_{SUFFIX[dtype]}"
        x, w, b = make_inputs(name, dims, dtype, n, cin, (cout, cin // g, *k), cout, insz, bias)
        if pb == pe:
            y = CONV_FN[dims](tt(x), tt(w), tt(b), stride=s, padding=pb, dilation=d, groups=g)
        else:
            fp = []
            for a in reversed(range(dims)):  # F.pad takes the last axis first
                fp += [pb[a], pe[a]]
            y = CONV_FN[dims](F.pad(tt(x), fp), tt(w), tt(b), stride=s, padding=0, dilation=d, groups=g)
        y = y.numpy()
        check_close(name, y, conv_ref(x, w, b, s, pb, pe, d, g), dtype)
        out.append(base_case(name, "conv", dims, dtype, x, w, b, s, pb, pe, d, g, [0] * dims, y))
    return out


def conv_torch_cases():
    c = []
    c += conv_torch("c1d_basic", 1, 1, 1, 1, 7, 3)
    c += conv_torch("c1d_s2_p1_b2", 1, 2, 2, 3, 8, 3, s=2, pb=1)
    c += conv_torch("c1d_d2_s3_p2_nobias", 1, 1, 3, 2, 9, 3, s=3, pb=2, d=2, bias=False)
    c += conv_torch("c1d_asym_p02_s2", 1, 1, 2, 2, 6, 4, s=2, pb=0, pe=2)
    c += conv_torch("c1d_g2_asym_p31", 1, 1, 4, 6, 5, 3, pb=3, pe=1, g=2)
    c += conv_torch("c1d_depthwise_c4_pad_gt_k", 1, 1, 4, 4, 3, 2, pb=3, g=4)
    c += conv_torch("c1d_stride_gt_in_out1", 1, 1, 2, 2, 5, 3, s=9)
    c += conv_torch("c2d_s2_p1", 2, 1, 3, 4, (6, 5), 3, s=2, pb=1)
    c += conv_torch("c2d_s12_d21_p10", 2, 2, 2, 3, (7, 5), (3, 2), s=(1, 2), pb=(1, 0), d=(2, 1))
    c += conv_torch("c2d_asym_p10_p21", 2, 1, 2, 2, (5, 6), (3, 3), pb=(1, 0), pe=(2, 1), s=(2, 1))
    c += conv_torch("c2d_g3_cin6_cout3_d2", 2, 1, 6, 3, (6, 6), 2, d=2, g=3, bias=False)
    c += conv_torch("c2d_depthwise_mult2", 2, 1, 3, 6, (5, 4), 3, pb=1, g=3)
    c += conv_torch("c2d_1x1_s2", 2, 3, 4, 2, (3, 5), 1, s=2)
    c += conv_torch("c2d_k_eq_padded_in_out1", 2, 1, 2, 1, (3, 2), (5, 4), pb=1)
    c += conv_torch("c3d_basic", 3, 1, 2, 2, (3, 4, 3), 2)
    c += conv_torch("c3d_s212_p101_d112", 3, 1, 2, 3, (4, 3, 5), (2, 2, 3), s=(2, 1, 2), pb=(1, 0, 1),
                    d=(1, 1, 2))
    c += conv_torch("c3d_asym_g2", 3, 2, 4, 2, (3, 3, 3), 2, pb=(0, 1, 2), pe=(1, 0, 1), g=2,
                    dtypes=("float64", "float32"))
    c += conv_torch("c3d_depthwise_s3", 3, 1, 3, 3, (5, 4, 4), 2, s=3, g=3, bias=False)
    c += conv_torch("c3d_k1_asym_pad", 3, 1, 2, 2, (2, 2, 2), 1, pb=(1, 0, 0), pe=(0, 0, 2))
    # 1x1 layers with few output channels per group: upconv's pointwise path
    c += conv_torch("c2d_pointwise_c20_to5", 2, 2, 20, 5, (5, 7), 1)
    c += conv_torch("c1d_pointwise_g2_c16_to4_nobias", 1, 1, 16, 4, 33, 1, g=2, bias=False)
    c += conv_torch("c2d_dil3_pad_gt_span", 2, 1, 1, 2, (4, 4), 2, pb=(4, 2), d=3, s=(3, 2))
    # enough channels (16 per group) for upconv's Winograd paths: 3x3 and 2x2, odd sizes
    # (float32 only: that is where Winograd's rounding could show)
    c += conv_torch("c2d_winograd_3x3_c16", 2, 1, 16, 16, (7, 6), 3, pb=1, dtypes=("float32",))
    c += conv_torch("c2d_winograd_2x2_g2_c32", 2, 1, 32, 32, (5, 4), 2, g=2, dtypes=("float32",))
    return c


# ----------------------------------------------------------------------------------------
# ONNX ConvTranspose through onnxruntime


def ort_conv_transpose(x, w, b, attrs):
    tp = TensorProto.FLOAT if x.dtype == np.float32 else TensorProto.DOUBLE
    names, inputs, feeds = [], [], {}
    for nm, a in (("X", x), ("W", w), ("B", b)):
        if a is None:
            continue
        names.append(nm)
        inputs.append(helper.make_tensor_value_info(nm, tp, list(a.shape)))
        feeds[nm] = a
    node = helper.make_node("ConvTranspose", names, ["Y"], **attrs)
    graph = helper.make_graph([node], "ct", inputs, [helper.make_tensor_value_info("Y", tp, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def ort_pads(insz, k, s, d, op, auto_pad, output_shape, pads_b, pads_e):
    """Pads as ORT 1.32 resolves them (see the module docstring)."""
    nd = len(insz)
    if output_shape is None and auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        target = [insz[a] * s[a] for a in range(nd)]
    else:
        target = output_shape
    if target is None:
        if auto_pad == "VALID":
            return [0] * nd, [0] * nd
        return pads_b, pads_e
    pb, pe = [], []
    for a in range(nd):
        total = s[a] * (insz[a] - 1) + op[a] + (k[a] - 1) * d[a] + 1 - target[a]
        if total < 0 and output_shape is None:  # SAME_*: ORT clamps the total to 0 (full result)
            total = 0
        if total < 0:  # an explicit output_shape: no split, zeros at the end
            pb.append(0)
        elif auto_pad == "SAME_UPPER":
            pb.append(total // 2)
        else:
            pb.append(total - total // 2)
        pe.append(total - pb[-1])
    return pb, pe


def onnx_ct(base, dims, n, cin, cout, insz, k, s=1, d=1, g=1, bias=True, auto_pad="NOTSET",
            pads=None, op=0, output_shape=None, x=None, w=None, dtypes=("float32",)):
    """pads: (begin list, end list) or None (attribute absent)."""
    insz, k, s, d, op = (axes(v, dims) for v in (insz, k, s, d, op))
    pads_b, pads_e = (pads[0], pads[1]) if pads is not None else ([0] * dims, [0] * dims)
    pads_b, pads_e = axes(pads_b, dims), axes(pads_e, dims)
    if output_shape is not None:
        output_shape = axes(output_shape, dims)
    out = []
    for dtype in dtypes:
        name = f"{base}_{SUFFIX[dtype]}"
        if x is None:
            xa, wa, ba = make_inputs(name, dims, dtype, n, cin, (cin, cout // g, *k), cout, insz, bias)
        else:
            xa = np.asarray(x, NP_DTYPE[dtype])
            wa = np.asarray(w, NP_DTYPE[dtype])
            ba = None
        attrs = {"strides": s, "dilations": d, "group": g, "kernel_shape": k}
        if auto_pad != "NOTSET":
            attrs["auto_pad"] = auto_pad
        if pads is not None:
            attrs["pads"] = pads_b + pads_e
        if any(op):
            attrs["output_padding"] = op
        if output_shape is not None:
            attrs["output_shape"] = output_shape
        y = ort_conv_transpose(xa, wa, ba, attrs)
        pb, pe = ort_pads(insz, k, s, d, op, auto_pad, output_shape, pads_b, pads_e)
        outs = [s[a] * (insz[a] - 1) + op[a] + (k[a] - 1) * d[a] + 1 - pb[a] - pe[a] for a in range(dims)]
        if output_shape is not None:
            assert outs == output_shape, (name, outs, output_shape)
        check_close(name, y, scatter_ref(xa, wa, ba, s, pb, d, g, outs), dtype)
        out.append(base_case(name, "conv_transpose", dims, dtype, xa, wa, ba, s, pads_b, pads_e, d, g,
                             op, y, auto_pad=auto_pad, output_shape=output_shape))
    return out


def onnx_cases():
    c = []
    # semantics.md 1.5 example: x=[1,2,3], w=[1,10,100], s=2; full result [1,10,102,20,203,30,300]
    ex = dict(x=[[[1.0, 2.0, 3.0]]], w=[[[1.0, 10.0, 100.0]]], bias=False)
    c += onnx_ct("onnx_ex_notset_full", 1, 1, 1, 1, 3, 3, s=2, **ex)
    c += onnx_ct("onnx_ex_same_upper", 1, 1, 1, 1, 3, 3, s=2, auto_pad="SAME_UPPER", **ex)
    c += onnx_ct("onnx_ex_same_lower", 1, 1, 1, 1, 3, 3, s=2, auto_pad="SAME_LOWER", **ex)
    c += onnx_ct("onnx_ex_valid", 1, 1, 1, 1, 3, 3, s=2, auto_pad="VALID", **ex)
    c += onnx_ct("onnx_ex_notset_os6", 1, 1, 1, 1, 3, 3, s=2, output_shape=6, **ex)
    c += onnx_ct("onnx_ex_notset_os8_zero_tail", 1, 1, 1, 1, 3, 3, s=2, output_shape=8, **ex)
    c += onnx_ct("onnx_ex_same_upper_os8_zero_tail", 1, 1, 1, 1, 3, 3, s=2, auto_pad="SAME_UPPER",
                 output_shape=8, **ex)
    c += onnx_ct("onnx_ex_valid_os6", 1, 1, 1, 1, 3, 3, s=2, auto_pad="VALID", output_shape=6, **ex)
    c += onnx_ct("onnx_ex_notset_os6_pads_ignored", 1, 1, 1, 1, 3, 3, s=2, output_shape=6,
                 pads=([2], [2]), **ex)
    c += onnx_ct("onnx_ex_pads_1_2", 1, 1, 1, 1, 3, 3, s=2, pads=([1], [2]), **ex)
    c += onnx_ct("onnx_ex_os1", 1, 1, 1, 1, 3, 3, s=2, output_shape=1, **ex)
    c += onnx_ct("onnx_ex_s3_same_lower_os11_two_zero_tail", 1, 1, 1, 1, 3, 3, s=3,
                 auto_pad="SAME_LOWER", output_shape=11, **ex)
    c += onnx_ct("onnx_ex_s3_same_upper_os11_two_zero_tail", 1, 1, 1, 1, 3, 3, s=3,
                 auto_pad="SAME_UPPER", output_shape=11, **ex)
    # ---- 1-D random
    c += onnx_ct("onnx1d_same_upper_s3_k4", 1, 2, 2, 3, 5, 4, s=3, auto_pad="SAME_UPPER")
    c += onnx_ct("onnx1d_same_lower_s3_k4", 1, 2, 2, 3, 5, 4, s=3, auto_pad="SAME_LOWER")
    c += onnx_ct("onnx1d_same_upper_d2_g2", 1, 1, 4, 2, 4, 3, s=2, d=2, g=2, auto_pad="SAME_UPPER")
    c += onnx_ct("onnx1d_same_upper_op1", 1, 1, 2, 2, 3, 3, s=2, op=1, auto_pad="SAME_UPPER")
    c += onnx_ct("onnx1d_same_lower_op2_s3", 1, 1, 2, 2, 3, 2, s=3, op=2, auto_pad="SAME_LOWER")
    c += onnx_ct("onnx1d_pads_op_d3", 1, 1, 2, 2, 4, 3, s=3, d=3, op=2, pads=([4], [1]))
    c += onnx_ct("onnx1d_notset_os_odd_total", 1, 1, 3, 3, 4, 3, s=2, g=3, output_shape=6)
    # ---- 2-D
    c += onnx_ct("onnx2d_pads_1021_s21", 2, 1, 2, 3, (3, 4), (3, 2), s=(2, 1), pads=([1, 0], [2, 1]))
    c += onnx_ct("onnx2d_same_upper_s23", 2, 1, 2, 2, (3, 3), 3, s=(2, 3), auto_pad="SAME_UPPER")
    c += onnx_ct("onnx2d_same_lower_s23", 2, 1, 2, 2, (3, 3), 3, s=(2, 3), auto_pad="SAME_LOWER")
    c += onnx_ct("onnx2d_same_lower_d2", 2, 1, 2, 2, (4, 3), (3, 2), s=1, d=(2, 2), auto_pad="SAME_LOWER",
                 bias=False)
    c += onnx_ct("onnx2d_valid_s2_g2", 2, 2, 4, 4, (3, 2), 2, s=2, g=2, auto_pad="VALID")
    c += onnx_ct("onnx2d_notset_os_zero_tail_one_axis", 2, 1, 2, 2, (3, 3), 3, s=(3, 2),
                 output_shape=(11, 5))
    c += onnx_ct("onnx2d_same_upper_os_explicit", 2, 1, 2, 3, (3, 4), 3, s=2, auto_pad="SAME_UPPER",
                 output_shape=(5, 8))
    c += onnx_ct("onnx2d_same_lower_os_explicit", 2, 1, 2, 3, (3, 4), 3, s=2, auto_pad="SAME_LOWER",
                 output_shape=(5, 8))
    c += onnx_ct("onnx2d_depthwise_pads_op", 2, 1, 3, 3, (3, 3), 3, s=2, g=3, op=(1, 0),
                 pads=([0, 1], [1, 2]))
    c += onnx_ct("onnx2d_op_d_pads", 2, 1, 2, 2, (2, 3), (2, 3), s=(3, 2), d=(2, 1), op=(2, 1),
                 pads=([1, 2], [0, 0]))
    c += onnx_ct("onnx2d_kernel_gt_in_same_upper", 2, 1, 1, 2, (1, 2), (4, 3), s=2, auto_pad="SAME_UPPER")
    # SAME_* when the full result is shorter than in*stride: ORT returns the full result
    ex5 = dict(x=[[[1.0, 2.0, 3.0]]], w=[[[1.0, 10.0]]], bias=False)
    c += onnx_ct("onnx_ex_same_upper_s5_short", 1, 1, 1, 1, 3, 2, s=5, auto_pad="SAME_UPPER", **ex5)
    c += onnx_ct("onnx_ex_same_lower_s5_short", 1, 1, 1, 1, 3, 2, s=5, auto_pad="SAME_LOWER", **ex5)
    c += onnx_ct("onnx1d_same_upper_short_op_d", 1, 1, 2, 2, 4, 2, s=4, d=2, op=1, auto_pad="SAME_UPPER")
    c += onnx_ct("onnx2d_same_lower_short_one_axis", 2, 1, 2, 2, (3, 3), (2, 3), s=(4, 2),
                 auto_pad="SAME_LOWER")
    # ---- 3-D
    c += onnx_ct("onnx3d_same_upper_s212", 3, 1, 2, 2, (2, 2, 3), 3, s=(2, 1, 2), auto_pad="SAME_UPPER")
    c += onnx_ct("onnx3d_same_lower_s212", 3, 1, 2, 2, (2, 2, 3), 3, s=(2, 1, 2), auto_pad="SAME_LOWER")
    c += onnx_ct("onnx3d_pads_g2", 3, 1, 2, 4, (2, 3, 2), 2, s=2, g=2, pads=([1, 0, 2], [0, 1, 1]))
    c += onnx_ct("onnx3d_notset_os", 3, 1, 1, 2, (2, 2, 2), 2, s=(2, 3, 2), d=(1, 1, 2),
                 output_shape=(3, 7, 4))
    c += onnx_ct("onnx3d_valid_op", 3, 1, 2, 1, (2, 2, 2), 2, s=2, op=(1, 0, 1), auto_pad="VALID")
    return c


# ----------------------------------------------------------------------------------------
# Invalid / surprising parameter mixes (shapes only)


def invalid_case(name, op, xs, ws, bs=None, stride=1, pad=0, opad=0, dil=1, groups=1, output_size=None):
    dims = len(xs) - 2
    stride, pad, opad, dil = (axes(v, dims) for v in (stride, pad, opad, dil))
    xt = torch.zeros(xs)
    wt = torch.zeros(ws)
    bt = None if bs is None else torch.zeros(bs)
    err = None
    try:
        if output_size is not None:
            assert op == "conv_transpose"
            m = CT_MOD[dims](ws[0], ws[1] * groups, list(ws[2:]), stride=stride, padding=pad,
                             output_padding=opad, groups=groups, bias=bs is not None, dilation=dil)
            with torch.no_grad():
                m.weight.copy_(wt)
                if bs is not None:
                    m.bias.copy_(bt)
                y = m(xt, output_size=axes(output_size, dims))
        elif op == "conv_transpose":
            y = CT_FN[dims](xt, wt, bt, stride=stride, padding=pad, output_padding=opad, groups=groups,
                            dilation=dil)
        else:
            y = CONV_FN[dims](xt, wt, bt, stride=stride, padding=pad, dilation=dil, groups=groups)
        result = [int(v) for v in y.shape]
    except Exception as e:  # noqa: BLE001 (any exception counts as "torch rejects it")
        err = f"{type(e).__name__}: {str(e).splitlines()[0]}"
        result = None
    return {
        "name": name,
        "op": op,
        "dims": dims,
        "dtype": "float32",
        "x": shape_json(xs),
        "w": shape_json(ws),
        "b": None if bs is None else shape_json(bs),
        "stride": stride,
        "pad_begin": pad,
        "pad_end": pad,
        "dilation": dil,
        "groups": groups,
        "output_padding": opad,
        "output_size": None if output_size is None else axes(output_size, dims),
        "auto_pad": None,
        "output_shape": None,
        "torch_raises": err is not None,
        "torch_error": err,
        "torch_output_shape": result,
    }


def invalid_cases():
    CT, CV = "conv_transpose", "conv"
    c = [
        # output_padding rule: op < stride OR op < dilation, on every axis
        invalid_case("ct1d_op1_s1_d1", CT, (1, 2, 5), (2, 3, 3), opad=1),
        invalid_case("ct1d_op2_s2_d1", CT, (1, 2, 5), (2, 3, 3), stride=2, opad=2),
        invalid_case("ct1d_op3_s2_d3", CT, (1, 2, 5), (2, 3, 3), stride=2, dil=3, opad=3),
        invalid_case("ct2d_op11_s21_one_axis_bad", CT, (1, 2, 4, 4), (2, 3, 3, 3), stride=(2, 1), opad=1),
        invalid_case("ct3d_op111_s221", CT, (1, 1, 2, 2, 2), (1, 1, 2, 2, 2), stride=(2, 2, 1), opad=1),
        invalid_case("ct1d_op2_s1_d3_accepted", CT, (1, 2, 5), (2, 3, 3), dil=3, opad=2),
        invalid_case("ct1d_op2_s2_d3_accepted", CT, (1, 2, 5), (2, 3, 3), stride=2, dil=3, opad=2),
        invalid_case("ct2d_op11_s12_d21_accepted", CT, (1, 2, 3, 3), (2, 2, 3, 3), stride=(1, 2),
                     dil=(2, 1), opad=1),
        # groups / channels / bias
        invalid_case("ct1d_groups2_cin3", CT, (1, 3, 5), (3, 2, 3), groups=2),
        invalid_case("ct2d_groups4_cin6", CT, (1, 6, 3, 3), (6, 1, 3, 3), groups=4),
        invalid_case("ct1d_channel_mismatch", CT, (1, 4, 5), (3, 2, 3)),
        invalid_case("ct2d_channel_mismatch_g2", CT, (1, 4, 3, 3), (2, 2, 3, 3), groups=2),
        invalid_case("ct1d_groups0", CT, (1, 1, 5), (1, 1, 3), groups=0),
        invalid_case("ct1d_bias_len4_cout3", CT, (1, 2, 5), (2, 3, 3), bs=(4,)),
        invalid_case("ct1d_bias_len_g2_ok", CT, (1, 2, 5), (2, 3, 3), bs=(6,), groups=2),
        # output length
        invalid_case("ct1d_out_len0", CT, (1, 1, 2), (1, 1, 1), pad=1),
        invalid_case("ct1d_out_len_neg", CT, (1, 1, 1), (1, 1, 1), pad=1),
        invalid_case("ct2d_out_len0_one_axis", CT, (1, 1, 3, 2), (1, 1, 1, 1), pad=(0, 1)),
        invalid_case("ct1d_pad3_gt_span_out1_accepted", CT, (1, 1, 5), (1, 1, 3), pad=3),
        invalid_case("ct2d_pad_gt_span_accepted", CT, (1, 1, 6, 4), (1, 1, 2, 2), pad=(2, 2)),
        invalid_case("ct1d_op_rescues_crop_out1_accepted", CT, (1, 1, 1), (1, 1, 1), pad=1, stride=3,
                     opad=2),
        # zero parameters / empty tensors
        invalid_case("ct1d_stride0", CT, (1, 1, 5), (1, 1, 3), stride=0),
        invalid_case("ct2d_stride0_one_axis", CT, (1, 1, 4, 4), (1, 1, 3, 3), stride=(1, 0)),
        invalid_case("ct1d_dilation0", CT, (1, 1, 5), (1, 1, 3), dil=0),
        invalid_case("ct1d_kernel0", CT, (1, 2, 5), (2, 3, 0)),
        invalid_case("ct1d_spatial0", CT, (1, 2, 0), (2, 3, 3)),
        invalid_case("ct2d_spatial0", CT, (1, 2, 0, 3), (2, 3, 3, 3)),
        invalid_case("ct1d_cin0", CT, (1, 0, 5), (0, 3, 3)),
        invalid_case("ct1d_cout0", CT, (1, 2, 5), (2, 0, 3)),
        invalid_case("ct1d_batch0_accepted", CT, (0, 2, 5), (2, 3, 3)),
        invalid_case("ct3d_batch0_accepted", CT, (0, 2, 2, 2, 2), (2, 1, 2, 2, 2)),
        # output_size= (module forward): valid sizes [min, min + stride - 1]
        invalid_case("ct1d_osize_below_min", CT, (1, 1, 4), (1, 1, 3), stride=3, pad=1, output_size=9),
        invalid_case("ct1d_osize_above_max", CT, (1, 1, 4), (1, 1, 3), stride=3, pad=1, output_size=13),
        invalid_case("ct1d_osize_max_accepted", CT, (1, 1, 4), (1, 1, 3), stride=3, pad=1, output_size=12),
        invalid_case("ct1d_osize_s1_d3_min_plus1", CT, (1, 1, 4), (1, 1, 3), dil=3, pad=1, output_size=9),
        invalid_case("ct2d_osize_one_axis_above_max", CT, (1, 1, 4, 4), (1, 1, 3, 3), stride=2, pad=1,
                     output_size=(8, 9)),
        invalid_case("ct1d_osize_min_negative_size1_accepted", CT, (1, 1, 1), (1, 1, 1), stride=3, pad=1,
                     output_size=1),
        invalid_case("ct1d_osize_min_negative_size0", CT, (1, 1, 1), (1, 1, 1), stride=3, pad=1,
                     output_size=0),
        invalid_case("ct1d_osize_ignores_bad_module_op_accepted", CT, (1, 1, 4), (1, 1, 3), stride=1, pad=1,
                     opad=1, output_size=4),
        # forward convolution
        invalid_case("c1d_kernel_gt_input", CV, (1, 1, 3), (1, 1, 5)),
        invalid_case("c1d_kernel_gt_input_padded_accepted", CV, (1, 1, 3), (1, 1, 5), pad=1),
        invalid_case("c1d_dilated_kernel_gt_input", CV, (1, 1, 5), (1, 1, 3), dil=3),
        invalid_case("c1d_groups2_cout3", CV, (1, 4, 5), (3, 2, 3), groups=2),
        invalid_case("c1d_channel_mismatch", CV, (1, 4, 5), (3, 3, 3)),
        invalid_case("c2d_stride0", CV, (1, 1, 5, 5), (1, 1, 3, 3), stride=(0, 1)),
        invalid_case("c1d_pad_gt_kernel_accepted", CV, (1, 1, 5), (1, 1, 3), pad=4),
        invalid_case("c1d_bias_len", CV, (1, 1, 5), (2, 1, 3), bs=(3,)),
        invalid_case("c1d_spatial0", CV, (1, 1, 0), (1, 1, 1)),
        invalid_case("c2d_batch0_accepted", CV, (0, 1, 4, 4), (2, 1, 3, 3)),
    ]
    return c


# ----------------------------------------------------------------------------------------


def write(fname, cases, with_ort=False):
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), f"duplicate case names in {fname}"
    header = {
        "generator": GENERATOR,
        "torch": torch.__version__,
        "onnxruntime": ort.__version__ if (with_ort and ort is not None) else None,
    }
    path = os.path.join(OUT_DIR, fname)
    with open(path, "w") as f:
        f.write(json.dumps(header)[:-1] + ',\n "cases": [\n')
        for i, c in enumerate(cases):
            f.write("  " + json.dumps(c, separators=(",", ":")))
            f.write(",\n" if i + 1 < len(cases) else "\n")
        f.write(" ]}\n")
    json.load(open(path))  # round-trip check
    print(f"{fname}: {len(cases)} cases, {os.path.getsize(path)} bytes")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    write("conv_transpose_torch.json", conv_transpose_torch_cases())
    write("conv_torch.json", conv_torch_cases())
    if ort is None:
        sys.exit("onnx / onnxruntime not installed: conv_transpose_onnx.json not written")
    write("conv_transpose_onnx.json", onnx_cases(), with_ort=True)
    write("invalid_torch.json", invalid_cases())


if __name__ == "__main__":
    main()
