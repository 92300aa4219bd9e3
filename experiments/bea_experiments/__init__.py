"""Validation experiments for bea: separable data (``bea_experiments.separable``) and CIFAR
(``bea_experiments.cifar``).  A distribution of its own (bea-experiments) that depends on bea;
bea never imports it (its ``experiment`` command arrives through an entry point, see
:mod:`bea_experiments.cli`)."""
