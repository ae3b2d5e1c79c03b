"""Training FSRCNN: patches, checkpoints, the loop."""
