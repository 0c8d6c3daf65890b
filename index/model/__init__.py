"""The model: embedders (torch or ONNX Runtime) and the token vectors late interaction reads."""
