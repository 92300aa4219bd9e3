"""Validation experiments for bea: separable data (``experiments.separable``) and CIFAR (``experiments.cifar``)."""
