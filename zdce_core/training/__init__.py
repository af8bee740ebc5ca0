"""Training (torch only): DCE-Net, curves on tensors, the zero-reference losses, the training loop."""
