"""CIFAR models written here (no torchvision): ResNet-18/50/101 with the CIFAR stem, and a small CNN.

ResNets follow He et al. (2016) with the usual CIFAR change: a 3×3, stride-1 stem and no
max-pool, so a 32×32 image reaches the last stage at 4×4.  ``width`` scales every channel
count (64 in the paper); tests use a tiny width.  ``norm`` is ``"batch"`` (BatchNorm, the
papers') or ``"group"`` (GroupNorm with gcd(32, channels) groups: the loss is then a plain sum
over images, whatever the micro-batches or the number of processes).  The small CNN is the VGG-like network of
the Adam paper: conv blocks 32-32 / 64-64 / 128-128 with 2×2 max-pool after each block,
then FC 2048 → 512 → classes.  The MLP (``mlp``) is the CPU-scale model of the causal
experiment: 4×4 average pooling (32×32×3 → 192 inputs), one tanh layer of ``width`` units, a
linear head — smooth, a few thousand parameters, thousands of full-batch steps in seconds.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from bea.errors import BeaError


NORMS = {"batch": nn.BatchNorm2d, "group": lambda c: nn.GroupNorm(math.gcd(32, c), c)}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, cout, stride, norm=nn.BatchNorm2d):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = norm(cout)
        self.shortcut = _shortcut(cin, cout, stride, norm)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride, norm=nn.BatchNorm2d):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = norm(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = norm(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = norm(cout)
        self.shortcut = _shortcut(cin, cout, stride, norm)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


def _shortcut(cin, cout, stride, norm):
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), norm(cout))


class ResNet(nn.Module):
    def __init__(self, block, layers, classes: int, width: int = 64, norm=nn.BatchNorm2d):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), norm(width), nn.ReLU())
        stages, cin = [], width
        for i, count in enumerate(layers):
            planes = width * 2**i
            for j in range(count):
                stages.append(block(cin, planes, 2 if (j == 0 and i > 0) else 1, norm))
                cin = planes * block.expansion
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        out = self.stages(self.stem(x))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(out, 1), 1))


def small_cnn(classes: int, width: int = 32) -> nn.Module:
    """Conv blocks (w, w), (2w, 2w), (4w, 4w) with ReLU and 2×2 max-pool, then FC 16w·4·4/… → 512 → classes."""
    layers, cin = [], 3
    for mult in (1, 2, 4):
        for _ in range(2):
            layers += [nn.Conv2d(cin, width * mult, 3, padding=1), nn.ReLU()]
            cin = width * mult
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * 4 * 4, 512), nn.ReLU(), nn.Linear(512, classes))


def mlp(classes: int, width: int = 32) -> nn.Module:
    """4×4 average pool → 192 → ``width`` (tanh) → classes.

    >>> sum(p.numel() for p in mlp(10, 32).parameters())
    6506
    """
    return nn.Sequential(nn.AvgPool2d(4), nn.Flatten(), nn.Linear(3 * 8 * 8, width), nn.Tanh(),
                         nn.Linear(width, classes))


ARCHITECTURES = {
    "resnet18": lambda classes, width, norm: ResNet(BasicBlock, [2, 2, 2, 2], classes, width, norm),
    "resnet50": lambda classes, width, norm: ResNet(Bottleneck, [3, 4, 6, 3], classes, width, norm),
    "resnet101": lambda classes, width, norm: ResNet(Bottleneck, [3, 4, 23, 3], classes, width, norm),
    "small_cnn": lambda classes, width, norm: small_cnn(classes, width // 2),  # no normalization layers
    "mlp": lambda classes, width, norm: mlp(classes, width),  # no normalization layers
}


def build(name: str, classes: int, width: int = 64, norm: str = "batch") -> nn.Module:
    """A model by name (``width`` 64 is the paper's; the small CNN uses width/2 = 32 as its first block)."""
    if name not in ARCHITECTURES:
        raise BeaError(f"unknown model {name!r}; known: {', '.join(ARCHITECTURES)}")
    if width < 2:
        raise BeaError(f"width must be >= 2, got {width}")
    if norm not in NORMS:
        raise BeaError(f"unknown norm {norm!r}; known: {', '.join(NORMS)}")
    return ARCHITECTURES[name](classes, width, NORMS[norm])
