//! Upsampling and resizing (PyTorch `interpolate`, ONNX `Resize`, pixel shuffle).
