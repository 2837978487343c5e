"""Files layerwise reads and writes: model files and checkpoints (safetensors, strictly read),
atomic writes and locks, ONNX export and the PyTorch bridge."""
