//! Output sizes and costs of upsampling / resizing (PyTorch `interpolate`, ONNX `Resize`).
