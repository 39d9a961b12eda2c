"""Metrics of trained autoencoders: Fréchet distances (FID and an offline one), downstream
classification and cross-run alignment (§4 of Xuefeng Li and Alan Blair, "Eccentric Regularization:
Minimizing Hyperspherical Energy without explicit projection", IJCNN 2022, arXiv:2104.11610)."""
