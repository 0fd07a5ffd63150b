#!/usr/bin/env python3
"""Golden fixtures for upconv's upsampling / resize ops.

Run with the project venv (torch 2.15 CPU, onnxruntime 1.32, onnx 1.23.2, numpy):

    /work/venv/bin/python scripts/gen_upsample_fixtures.py

Writes tests/data/upsample/{torch_interpolate,torch_pixel_shuffle,ort_resize}.json.
Deterministic (fixed seeds). CI never runs this; the JSON is committed.
Every number comes from PyTorch (F.interpolate, F.pixel_shuffle/unshuffle) or ONNX Runtime
(Resize, opset 19), never from upconv. Floats are written as Python reprs of Python floats;
f32 data is generated in f32, so every value round-trips exactly.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "upsample")
torch.set_num_threads(1)


def rand(shape, dtype, rng):
    v = rng.integers(-500, 501, size=shape).astype(np.float64) / 100.0
    v = v + rng.random(size=shape) * 0.01
    return v.astype(dtype)


def flat(a):
    return [float(x) for x in np.asarray(a).reshape(-1).tolist()]


def torch_cases():
    rng = np.random.default_rng(1234)
    cases = []
    dims = {
        1: dict(shapes=[(1, 2, 5), (2, 1, 7), (1, 1, 2)],
                sizes=[[9], [3], [1], [5], [16]],
                scales=[[2.0], [1.7], [0.6], [2.2], [3.0], [0.5], [1.2]],
                linear="linear"),
        2: dict(shapes=[(1, 2, 5, 4), (1, 1, 3, 7), (2, 1, 4, 4)],
                sizes=[[7, 9], [2, 3], [1, 1], [8, 8], [5, 4], [1, 6]],
                scales=[[2.0, 2.0], [1.7, 0.6], [2.2, 2.2], [1.2, 1.2], [0.5, 3.0], [0.75, 1.5]],
                linear="bilinear"),
        3: dict(shapes=[(1, 1, 3, 4, 5), (1, 2, 2, 3, 3)],
                sizes=[[5, 7, 3], [2, 2, 9], [1, 1, 1]],
                scales=[[2.0, 2.0, 2.0], [1.5, 0.7, 2.2], [1.2, 1.2, 1.2]],
                linear="trilinear"),
    }
    k = 0
    for d, spec in dims.items():
        variants = [("nearest", None, False), ("nearest-exact", None, False),
                    (spec["linear"], False, False), (spec["linear"], True, False), ("area", None, False)]
        if d == 2:
            variants += [("bicubic", False, False), ("bicubic", True, False),
                         ("bilinear", False, True), ("bilinear", True, True),
                         ("bicubic", False, True), ("bicubic", True, True)]
        targets = [("size", s, None) for s in spec["sizes"]]
        targets += [("scale", s, None) for s in spec["scales"]]
        targets += [("scale", s, True) for s in spec["scales"][1:3]]
        for mode, ac, aa in variants:
            for kind, t, recompute in targets:
                shape = spec["shapes"][k % len(spec["shapes"])]
                dtype = np.float64 if k % 3 == 2 else np.float32
                k += 1
                x = rand(shape, dtype, rng)
                kw = dict(mode=mode)
                if ac is not None:
                    kw["align_corners"] = ac
                if aa:
                    kw["antialias"] = True
                if kind == "size":
                    kw["size"] = tuple(t)
                else:
                    kw["scale_factor"] = tuple(t)
                    if recompute:
                        kw["recompute_scale_factor"] = True
                try:
                    y = F.interpolate(torch.from_numpy(x), **kw).numpy()
                except Exception as e:  # combination torch rejects: skip
                    print("skip", kw, e)
                    continue
                cases.append(dict(
                    name=f"{mode}_ac{ac}_aa{aa}_{kind}{t}_rc{recompute}_{np.dtype(dtype).name}",
                    dims=d, dtype=np.dtype(dtype).name, mode=mode, align_corners=bool(ac),
                    antialias=aa, size=t if kind == "size" else None,
                    scale=t if kind == "scale" else None, recompute=bool(recompute),
                    input_shape=list(shape), input=flat(x),
                    output_shape=list(y.shape), output=flat(y)))
    # bit-exact f32 index arithmetic: 41 * f32(2/82) = 0.99999994 -> index 0 in PyTorch
    for dtype, n in [(np.float32, 82), (np.float64, 98), (np.float32, 147)]:
        x = np.array([[[1.0, 2.0, 3.0]]], dtype=dtype)[:, :, : (3 if n == 147 else 2)]
        for mode in ["nearest", "nearest-exact"]:
            y = F.interpolate(torch.from_numpy(x), size=(n,), mode=mode).numpy()
            cases.append(dict(name=f"exact_index_{mode}_{x.shape[-1]}to{n}_{np.dtype(dtype).name}",
                              dims=1, dtype=np.dtype(dtype).name, mode=mode, align_corners=False,
                              antialias=False, size=[n], scale=None, recompute=False,
                              input_shape=list(x.shape), input=flat(x),
                              output_shape=list(y.shape), output=flat(y)))
        x2 = np.arange(1, 1 + x.shape[-1], dtype=dtype).reshape(1, 1, 1, -1)
        y = F.interpolate(torch.from_numpy(x2), size=(1, n), mode="nearest").numpy()
        cases.append(dict(name=f"exact_index_2d_{x2.shape[-1]}to{n}_{np.dtype(dtype).name}",
                          dims=2, dtype=np.dtype(dtype).name, mode="nearest", align_corners=False,
                          antialias=False, size=[1, n], scale=None, recompute=False,
                          input_shape=list(x2.shape), input=flat(x2),
                          output_shape=list(y.shape), output=flat(y)))
    # antialias with an output width of 1: PyTorch gives every output row the value of row 0
    # (its separable kernel's behaviour; upconv reproduces it)
    rng_aa = np.random.default_rng(4321)
    for mode, ac, shape, kind, t in [
        ("bilinear", False, (1, 2, 5, 4), "size", [8, 1]),
        ("bilinear", True, (2, 1, 3, 3), "size", [6, 1]),
        ("bicubic", False, (1, 1, 9, 5), "size", [4, 1]),
        ("bicubic", True, (1, 2, 4, 1), "size", [7, 1]),
        ("bilinear", False, (1, 1, 5, 4), "scale", [1.6, 0.25]),
        ("bicubic", False, (1, 1, 6, 3), "scale", [0.5, 0.4]),
    ]:
        dtype = np.float64 if mode == "bicubic" else np.float32
        x = rand(shape, dtype, rng_aa)
        kw = dict(mode=mode, align_corners=ac, antialias=True)
        kw["size" if kind == "size" else "scale_factor"] = tuple(t)
        y = F.interpolate(torch.from_numpy(x), **kw).numpy()
        cases.append(dict(
            name=f"aa_width1_{mode}_ac{ac}_{kind}{t}_{np.dtype(dtype).name}",
            dims=2, dtype=np.dtype(dtype).name, mode=mode, align_corners=ac,
            antialias=True, size=t if kind == "size" else None,
            scale=t if kind == "scale" else None, recompute=False,
            input_shape=list(shape), input=flat(x),
            output_shape=list(y.shape), output=flat(y)))
    # tables with any number of taps per output (antialiased and area resizes) on inputs of
    # eight rows or more: upconv runs them eight input rows at a time (`rows_together`)
    rng_many = np.random.default_rng(2468)
    for mode, aa, ac, shape, kind, t, dtype in [
        ("bilinear", True, False, (1, 2, 20, 19), "size", [5, 6], np.float32),
        ("bicubic", True, False, (1, 2, 19, 23), "scale", [0.3, 0.45], np.float64),
        ("bilinear", True, True, (2, 1, 17, 12), "size", [6, 4], np.float32),
        ("area", False, None, (1, 2, 21, 18), "size", [6, 5], np.float32),
        ("area", False, None, (1, 1, 12, 10), "size", [25, 21], np.float32),
        ("area", False, None, (3, 3, 30), "size", [7], np.float32),
        ("area", False, None, (1, 1, 6, 20, 18), "size", [2, 7, 5], np.float64),
    ]:
        x = rand(shape, dtype, rng_many)
        kw = dict(mode=mode)
        if mode != "area":
            kw.update(align_corners=ac, antialias=aa)
        kw["size" if kind == "size" else "scale_factor"] = tuple(t)
        y = F.interpolate(torch.from_numpy(x), **kw).numpy()
        cases.append(dict(
            name=f"many_taps_{mode}_aa{aa}_ac{ac}_{kind}{t}_{np.dtype(dtype).name}",
            dims=len(shape) - 2, dtype=np.dtype(dtype).name, mode=mode,
            align_corners=bool(ac), antialias=aa, size=t if kind == "size" else None,
            scale=t if kind == "scale" else None, recompute=False,
            input_shape=list(shape), input=flat(x),
            output_shape=list(y.shape), output=flat(y)))
    # empty results PyTorch returns instead of raising: area (adaptive average pooling) with a
    # zero-length output axis, and a batch of 0 in any mode
    for mode, shape, kind, t in [
        ("area", (1, 1, 3), "scale", [0.25]),
        ("area", (2, 3, 3, 3), "size", [0, 2]),
        ("area", (1, 1, 3, 3, 3), "scale", [0.25, 1.0, 0.3]),
        ("nearest", (0, 2, 3, 3), "scale", [2.0, 2.0]),
        ("bicubic", (0, 1, 3, 4), "size", [5, 2]),
        ("linear", (0, 2, 5), "scale", [1.5]),
    ]:
        dtype = np.float32
        x = rand(shape, dtype, rng_aa)
        kw = dict(mode=mode)
        kw["size" if kind == "size" else "scale_factor"] = tuple(t)
        y = F.interpolate(torch.from_numpy(x), **kw).numpy()
        cases.append(dict(
            name=f"empty_{mode}_{kind}{t}_{list(shape)}",
            dims=len(shape) - 2, dtype=np.dtype(dtype).name, mode=mode, align_corners=False,
            antialias=False, size=t if kind == "size" else None,
            scale=t if kind == "scale" else None, recompute=False,
            input_shape=list(shape), input=flat(x),
            output_shape=list(y.shape), output=flat(y)))
    # 2-D nearest / nearest-exact index arithmetic is f32 for f64 tensors too
    for mode, n in [("nearest", 82), ("nearest-exact", 41), ("nearest", 147), ("nearest-exact", 147)]:
        x2 = np.arange(2, dtype=np.float64).reshape(1, 1, 1, 2) if n != 147 else \
            np.arange(3, dtype=np.float64).reshape(1, 1, 1, 3)
        y = F.interpolate(torch.from_numpy(x2), size=(1, n), mode=mode).numpy()
        cases.append(dict(name=f"f64_index_2d_{mode}_{x2.shape[-1]}to{n}",
                          dims=2, dtype="float64", mode=mode, align_corners=False,
                          antialias=False, size=[1, n], scale=None, recompute=False,
                          input_shape=list(x2.shape), input=flat(x2),
                          output_shape=list(y.shape), output=flat(y)))
    # 1-D / 3-D nearest-exact: PyTorch's generic N-d kernel computes `scale*(o+0.5) - 0.5` as
    # one fused multiply-add (its compiler contracts it); with f32 these sizes pick another
    # index than two rounded steps would (the 2-D kernel does not fuse: 2to41 in 2-D is above)
    for shape, size in [((1, 1, 2), [41]), ((1, 1, 2), [83]), ((1, 2, 4), [82]),
                        ((1, 1, 1, 1, 2), [1, 1, 47]), ((1, 1, 2, 1, 4), [55, 1, 82])]:
        x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
        y = F.interpolate(torch.from_numpy(x), size=tuple(size), mode="nearest-exact").numpy()
        cases.append(dict(name=f"f32_fused_index_{len(size)}d_nearest-exact_{list(shape)}to{size}",
                          dims=len(size), dtype="float32", mode="nearest-exact",
                          align_corners=False, antialias=False, size=size, scale=None,
                          recompute=False, input_shape=list(shape), input=flat(x),
                          output_shape=list(y.shape), output=flat(y)))
    # rows of 24+ inputs at integer scales (session 17): upconv computes the periodic run of
    # such rows from shifted runs of the input, and nearest upscales as whole planes; these
    # reach those kernels and their borders (its own generator: the cases above keep their data)
    rng_p = np.random.default_rng(2468)
    for mode, ac, shape, sf, dtype in [
        ("bilinear", False, (1, 2, 3, 26), [2.0, 2.0], np.float32),
        ("bicubic", False, (1, 1, 3, 25), [4.0, 4.0], np.float32),
        ("linear", False, (2, 1, 30), [8.0], np.float64),
        ("bicubic", False, (1, 1, 2, 27), [2.0, 3.0], np.float64),
        ("trilinear", False, (1, 1, 2, 2, 24), [2.0, 2.0, 4.0], np.float32),
        ("bilinear", True, (1, 1, 2, 28), [2.0, 2.0], np.float32),
        ("nearest", False, (1, 2, 3, 26), [2.0, 4.0], np.float32),
        ("nearest-exact", False, (1, 1, 3, 24), [3.0, 8.0], np.float32),
    ]:
        x = rand(shape, dtype, rng_p)
        kw = dict(mode=mode, scale_factor=tuple(sf))
        if mode in ("linear", "bilinear", "bicubic", "trilinear"):
            kw["align_corners"] = ac
        y = F.interpolate(torch.from_numpy(x), **kw).numpy()
        cases.append(dict(
            name=f"periodic_{mode}_ac{ac}_x{sf}_{list(shape)}_{np.dtype(dtype).name}",
            dims=len(shape) - 2, dtype=np.dtype(dtype).name, mode=mode, align_corners=ac,
            antialias=False, size=None, scale=sf, recompute=False,
            input_shape=list(shape), input=flat(x),
            output_shape=list(y.shape), output=flat(y)))
    return cases


def shuffle_cases():
    rng = np.random.default_rng(99)
    cases = []
    for shape, r, dtype in [((1, 8, 2, 3), 2, np.float32), ((2, 9, 2, 2), 3, np.float64), ((1, 4, 1, 1), 2, np.float32)]:
        x = rand(shape, dtype, rng)
        y = F.pixel_shuffle(torch.from_numpy(x), r).numpy()
        cases.append(dict(op="pixel_shuffle", r=r, dtype=np.dtype(dtype).name, input_shape=list(shape),
                          input=flat(x), output_shape=list(y.shape), output=flat(y)))
    for shape, r, dtype in [((1, 2, 4, 6), 2, np.float32), ((1, 1, 6, 3), 3, np.float64)]:
        x = rand(shape, dtype, rng)
        y = F.pixel_unshuffle(torch.from_numpy(x), r).numpy()
        cases.append(dict(op="pixel_unshuffle", r=r, dtype=np.dtype(dtype).name, input_shape=list(shape),
                          input=flat(x), output_shape=list(y.shape), output=flat(y)))
    return cases


def ort_cases():
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(4321)
    cases = []

    def run(x, attrs, scales=None, sizes=None, roi=None):
        elem = TensorProto.FLOAT if x.dtype == np.float32 else TensorProto.DOUBLE
        inputs = ["X", "roi" if roi is not None else "", "scales" if scales is not None else "",
                  "sizes" if sizes is not None else ""]
        while inputs and inputs[-1] == "":
            inputs.pop()
        node = helper.make_node("Resize", inputs, ["Y"], **attrs)
        graph_inputs = [helper.make_tensor_value_info("X", elem, list(x.shape))]
        feeds = {"X": x}
        if roi is not None:
            graph_inputs.append(helper.make_tensor_value_info("roi", TensorProto.FLOAT, [len(roi)]))
            feeds["roi"] = np.array(roi, dtype=np.float32)
        if scales is not None:
            graph_inputs.append(helper.make_tensor_value_info("scales", TensorProto.FLOAT, [len(scales)]))
            feeds["scales"] = np.array(scales, dtype=np.float32)
        if sizes is not None:
            graph_inputs.append(helper.make_tensor_value_info("sizes", TensorProto.INT64, [len(sizes)]))
            feeds["sizes"] = np.array(sizes, dtype=np.int64)
        graph = helper.make_graph([node], "g", graph_inputs, [helper.make_tensor_value_info("Y", elem, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
        model.ir_version = 9
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, feeds)[0]

    def add(name, x, attrs, scales=None, sizes=None, roi=None):
        try:
            y = run(x, attrs, scales, sizes, roi)
        except Exception as e:
            print("skip", name, str(e).splitlines()[0][:150])
            return
        cases.append(dict(name=name, dtype=np.dtype(x.dtype).name, attrs={k: v for k, v in attrs.items()},
                          scales=scales, sizes=sizes, roi=roi, input_shape=list(x.shape), input=flat(x),
                          output_shape=list(y.shape), output=flat(y)))

    coords = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
              "tf_crop_and_resize"]
    nmodes = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
    for c in coords:
        for nm in nmodes:
            x = rand((1, 1, 4, 5), np.float32, rng)
            roi = [0, 0, 0.1, -0.2, 1, 1, 0.8, 1.3] if c == "tf_crop_and_resize" else None
            attrs = dict(mode="nearest", coordinate_transformation_mode=c, nearest_mode=nm)
            if roi:
                attrs["extrapolation_value"] = 10.0
            add(f"nearest_{c}_{nm}_scales", x, attrs, scales=[1, 1, 1.7, 0.6], roi=roi)
            add(f"nearest_{c}_{nm}_sizes", x, attrs, sizes=[1, 1, 7, 3], roi=roi)
    for c in coords:
        roi = [0, 0, 0.1, -0.2, 1, 1, 0.8, 1.3] if c == "tf_crop_and_resize" else None
        for mode in ["linear", "cubic"]:
            attrs = dict(mode=mode, coordinate_transformation_mode=c)
            if roi:
                attrs["extrapolation_value"] = 10.0
            x = rand((1, 2, 4, 5), np.float32, rng)
            add(f"{mode}_{c}_up", x, attrs, scales=[1, 1, 2.0, 1.7], roi=roi)
            add(f"{mode}_{c}_down_sizes", x, attrs, sizes=[1, 2, 3, 2], roi=roi)
            add(f"{mode}_{c}_out1", x, attrs, sizes=[1, 2, 1, 7], roi=roi)
            if mode == "cubic":
                for ex in [0, 1]:
                    for a in [-0.75, -0.5]:
                        at = dict(attrs, exclude_outside=ex, cubic_coeff_a=a)
                        add(f"cubic_{c}_ex{ex}_a{a}", x, at, scales=[1, 1, 1.6, 2.3], roi=roi)
    for mode in ["linear", "cubic"]:
        for ex in [0, 1]:
            for c in ["half_pixel", "align_corners", "asymmetric"]:
                for sc in [[1, 1, 0.5, 0.6], [1, 1, 0.3, 1.7], [1, 1, 2.0, 2.0]]:
                    x = rand((1, 2, 8, 9), np.float32, rng)
                    attrs = dict(mode=mode, coordinate_transformation_mode=c, antialias=1, exclude_outside=ex)
                    if mode == "cubic":
                        attrs["cubic_coeff_a"] = -0.5
                    add(f"aa_{mode}_{c}_ex{ex}_{sc[2]}x{sc[3]}", x, attrs, scales=sc)
    # keep_aspect_ratio_policy with axes
    for pol in ["stretch", "not_larger", "not_smaller"]:
        for mode in ["nearest", "linear"]:
            x = rand((1, 1, 4, 6), np.float32, rng)
            add(f"policy_{pol}_{mode}", x, dict(mode=mode, keep_aspect_ratio_policy=pol, axes=[2, 3]),
                sizes=[5, 5])
            add(f"policy_{pol}_{mode}_neg", x, dict(mode=mode, keep_aspect_ratio_policy=pol, axes=[-1, -2]),
                sizes=[9, 3])
    # axes, any axis
    x = rand((2, 3, 4), np.float32, rng)
    add("axes_last_neg_linear", x, dict(mode="linear", axes=[-1]), scales=[2.5])
    add("axes_channel_nearest", x, dict(mode="nearest", axes=[1], nearest_mode="floor"), scales=[2.0])
    add("axes_all_nearest_rank3", x, dict(mode="nearest"), sizes=[3, 5, 2])
    add("rank2_linear", rand((3, 4), np.float32, rng), dict(mode="linear"), scales=[1.5, 0.75])
    add("rank2_cubic", rand((3, 4), np.float32, rng), dict(mode="cubic"), scales=[2.0, 1.25])
    add("trilinear", rand((1, 1, 3, 4, 5), np.float32, rng), dict(mode="linear"), scales=[1, 1, 1.5, 2.0, 0.6])
    add("tf_crop_axes", rand((1, 1, 5, 6), np.float32, rng),
        dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize", axes=[2, 3],
             extrapolation_value=-3.0), sizes=[4, 4], roi=[-0.1, 0.2, 0.9, 1.2])
    # identity rule (ORT returns the input when the shapes agree)
    x = rand((1, 1, 4), np.float32, rng)
    add("identity_nearest_scale1.2", x, dict(mode="nearest"), scales=[1, 1, 1.2])
    add("identity_linear_scale1.2", x, dict(mode="linear"), scales=[1, 1.0, 1.2])
    add("tf_crop_same_shape", x, dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize"),
        sizes=[1, 1, 4], roi=[0, 0, 0.2, 1, 1, 0.8])
    # bit-exact index arithmetic
    add("nearest_asym_floor_2to82", np.array([[[1.0, 2.0]]], dtype=np.float32),
        dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"), sizes=[1, 1, 82])
    add("nearest_half_ceil_2to7", np.array([[[1.0, 2.0]]], dtype=np.float32),
        dict(mode="nearest", nearest_mode="round_prefer_ceil"), sizes=[1, 1, 7])
    # f64 (if this ORT build has a double kernel)
    add("f64_linear", rand((1, 1, 3, 4), np.float64, rng), dict(mode="linear"), scales=[1, 1, 2.0, 1.5])
    add("f64_nearest", rand((1, 1, 3, 4), np.float64, rng), dict(mode="nearest"), scales=[1, 1, 2.0, 1.5])
    # ONNX Runtime rules found by a randomized differential run (see README, How it is tested)
    rng2 = np.random.default_rng(2468)
    tfc = dict(coordinate_transformation_mode="tf_crop_and_resize")
    # an axis whose f32 scale is 1 maps y to y: the roi is ignored there (sizes and scales)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    for mode in ["nearest", "linear", "cubic"]:
        at = dict(tfc, mode=mode, extrapolation_value=-1.0)
        add(f"rule_tfcrop_unit_axis_{mode}_sizes", x, at, sizes=[6, 4], roi=[0, 0.25, 1, 0.75])
        add(f"rule_tfcrop_unit_axis_{mode}_scales", x, at, scales=[2.0, 1.0], roi=[0, 0.25, 1, 0.75])
        add(f"rule_tfcrop_scale1.1_same_len_{mode}", x, at, scales=[2.0, 1.1], roi=[0, 0.25, 1, 0.75])
    # antialias + tf_crop: outside means x < 0 or x > in-1 after x -> (0.5 + x) - 0.5
    x = (np.arange(20) % 7).astype(np.float32).reshape(4, 5)
    for mode in ["linear", "cubic"]:
        at = dict(tfc, mode=mode, antialias=1, extrapolation_value=-3.5)
        add(f"rule_aa_tfcrop_{mode}_full_roi", x, at, sizes=[4, 9], roi=[0, 0, 1, 1])
        add(f"rule_aa_tfcrop_{mode}_wide_roi", x, at, sizes=[4, 9], roi=[0, -0.2, 1, 1.1])
        add(f"rule_aa_tfcrop_{mode}_same_len_axis", x, at, scales=[1.1, 1.8], roi=[0.5, 0, 1.5, 1])
    # antialias copies an axis whose length does not change, whatever its scale
    x = (np.arange(12, dtype=np.float32).reshape(3, 4)) ** 1.5
    for mode in ["linear", "cubic"]:
        add(f"rule_aa_same_len_axis_{mode}", x, dict(mode=mode, antialias=1), scales=[1.2, 2.0])
        add(f"rule_no_aa_same_len_axis_{mode}", x, dict(mode=mode), scales=[1.2, 2.0])
    add("rule_aa_not_larger_0.9", rand((1, 1, 10, 3), np.float32, rng2),
        dict(mode="linear", antialias=1, keep_aspect_ratio_policy="not_larger", axes=[2, 3]), sizes=[9, 100])
    # round_prefer_* treat a fraction within 1e-6 of one half as a tie
    x = np.array([[10.0, 20.0]], dtype=np.float32)
    for nm in ["round_prefer_ceil", "round_prefer_floor"]:
        add(f"rule_nearest_tie_hps_{nm}", x,
            dict(mode="nearest", coordinate_transformation_mode="half_pixel_symmetric", nearest_mode=nm),
            scales=[1.0, 1.7228946685791016])
    for c in ["half_pixel", "pytorch_half_pixel", "half_pixel_symmetric"]:
        for nm in ["round_prefer_ceil", "round_prefer_floor"]:
            xx = rand((1, 1, 1, 7), np.float32, rng2)
            for sc in [1.4285714626312256, 2.3333332538604736, 0.7142857313156128, 3.0000002384185791]:
                add(f"rule_nearest_tie_{c}_{nm}_{sc}", xx,
                    dict(mode="nearest", coordinate_transformation_mode=c, nearest_mode=nm),
                    scales=[1, 1, 1, sc])
    # empty results: a scale or the aspect-ratio rounding giving length 0, empty inputs
    x = rand((1, 1, 5), np.float32, rng2)
    add("rule_empty_nearest_scale0.1", x, dict(mode="nearest"), scales=[1, 1, 0.1])
    add("rule_empty_linear_scale0.1", x, dict(mode="linear"), scales=[1, 1, 0.1])
    add("rule_empty_linear_aa_scale0.1", x, dict(mode="linear", antialias=1), scales=[1, 1, 0.1])
    add("rule_empty_batch0", rand((0, 1, 5), np.float32, rng2), dict(mode="linear"), scales=[1, 1, 2])
    add("rule_empty_input_axis", rand((1, 1, 0), np.float32, rng2), dict(mode="nearest"), scales=[1, 1, 2])
    add("rule_empty_not_larger", rand((1, 1, 40, 2), np.float32, rng2),
        dict(mode="nearest", keep_aspect_ratio_policy="not_larger", axes=[2, 3]), sizes=[1, 40])
    return cases


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    meta = dict(torch=torch.__version__, numpy=np.__version__)
    t = torch_cases()
    with open(os.path.join(OUT_DIR, "torch_interpolate.json"), "w") as f:
        json.dump(dict(meta=meta, cases=t), f, separators=(",", ":"))
    s = shuffle_cases()
    with open(os.path.join(OUT_DIR, "torch_pixel_shuffle.json"), "w") as f:
        json.dump(dict(meta=meta, cases=s), f, separators=(",", ":"))
    import onnxruntime
    o = ort_cases()
    meta_o = dict(onnxruntime=onnxruntime.__version__, opset=19)
    with open(os.path.join(OUT_DIR, "ort_resize.json"), "w") as f:
        json.dump(dict(meta=meta_o, cases=o), f, separators=(",", ":"))
    print(len(t), "torch cases,", len(s), "shuffle cases,", len(o), "ort cases")


if __name__ == "__main__":
    main()
