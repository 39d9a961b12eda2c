"""Metrics of trained autoencoders: Fréchet distances (FID and an offline one), downstream
classification and cross-run alignment (seed 000 §4)."""
