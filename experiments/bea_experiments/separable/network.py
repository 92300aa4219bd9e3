"""A homogeneous CNN on two CIFAR-10 classes: margins and test accuracy of AdaGrad, RMSProp, Adam (torch).

f(x) = Linear(Pool(ReLU(Conv(Pool(ReLU(Conv(x))))))) without biases is 3-homogeneous in its
parameters θ, so the normalized margin is min_i y_i f(x_i) / ‖θ‖³ (Wang et al. 2021 study its
KKT points).  Training is full batch on the logistic loss, with PyTorch's optimizers (ε outside
the root, as in the authors' MNIST code); ``eps`` sweeps show the effect of ε.
"""
from __future__ import annotations

import numpy as np

from bea.errors import BeaError

OPTIMIZERS = {  # name -> (torch class name, keyword arguments besides lr and eps)
    "adagrad": ("Adagrad", {}),
    "rmsprop": ("RMSprop", {"alpha": 0.9}),
    "adam_nomomentum": ("Adam", {"betas": (0.0, 0.9)}),
    "adam": ("Adam", {"betas": (0.9, 0.9)}),
}


def _torch():
    try:
        import torch
    except ImportError:
        raise BeaError("the network experiment needs torch: pip install 'bea[torch]'") from None
    return torch


def two_classes(data_dir, classes=(0, 1), n_train: int = 500, n_test: int = 500):
    """Tensors (x_train, y_train, x_test, y_test) with labels ±1, normalized by train-set channel stats."""
    torch = _torch()
    from bea_experiments.cifar.data import channel_stats, load

    out = []
    stats = None
    for split, n in (("train", n_train), ("test", n_test)):
        s = load(data_dir, "cifar10", split)
        keep = np.flatnonzero(np.isin(s.labels, classes))[:n]
        if len(keep) < 2:
            raise BeaError(f"fewer than 2 images of classes {classes} in the {split} split of {data_dir}")
        images = s.images[keep]
        stats = stats or channel_stats(images)
        x = (images / 255.0 - stats[0][None, :, None, None]) / stats[1][None, :, None, None]
        y = np.where(s.labels[keep] == classes[0], -1.0, 1.0)
        out += [torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)]
    return tuple(out)


def model(width: int = 16, seed: int = 0):
    """Bias-free Conv-ReLU-MaxPool ×2, then a linear read-out to one logit (3-homogeneous)."""
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, width, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * 8 * 8, 1, bias=False),
    )


def train(optimizer: str, data, steps: int, lr: float, eps: float, seed: int = 0, width: int = 16,
          every: int = 10) -> dict:
    """Full-batch training; the history of loss, accuracies and normalized margin every ``every`` steps."""
    torch = _torch()
    if optimizer not in OPTIMIZERS:
        raise BeaError(f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")
    x, y, xt, yt = data
    net = model(width, seed)
    cls, kwargs = OPTIMIZERS[optimizer]
    opt = getattr(torch.optim, cls)(net.parameters(), lr=lr, eps=eps, **kwargs)
    hist = {k: [] for k in ("step", "loss", "train_acc", "test_acc", "margin")}
    for t in range(steps + 1):
        out = net(x).squeeze(1)
        loss = torch.nn.functional.softplus(-y * out).mean()
        if t % every == 0 or t == steps:
            with torch.no_grad():
                norm = torch.sqrt(sum((p**2).sum() for p in net.parameters()))
                hist["step"].append(t)
                hist["loss"].append(float(loss))
                hist["train_acc"].append(float(((y * out) > 0).float().mean()))
                hist["test_acc"].append(float(((yt * net(xt).squeeze(1)) > 0).float().mean()))
                hist["margin"].append(float((y * out).min() / norm**3))
        if not torch.isfinite(loss):
            raise BeaError(f"{optimizer} diverged at step {t} (loss {float(loss)}); reduce lr")
        if t == steps:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    return hist
