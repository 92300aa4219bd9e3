"""Implicit bias of adaptive optimizers on linearly separable data (max-margin directions).

Modules: ``data`` (datasets and checks), ``margins`` (exact reference directions),
``train`` (the optimizers, vectorized NumPy), ``figures`` (the named figures and
docs/separable.md), ``network`` (a homogeneous CNN on two CIFAR-10 classes, torch).
"""
