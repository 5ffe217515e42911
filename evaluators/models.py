"""Stage 2: the networks of the paper's Sec. 4 and their prunable channel groups.

All 1-D networks are written as ``Conv2d`` with ``(1, k)`` kernels on ``[N, C, 1, L]`` inputs so
that they convert to microcontroller runtimes without reshape/transpose glue (a ``Conv1d``
becomes RESHAPE/TRANSPOSE chains in TFLite). Squeeze-and-excitation uses 1x1 convolutions on the
pooled ``[N, C, 1, 1]`` tensor for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

MODEL_NAMES = ("uea", "resnet", "mobilenet")


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018) with 1x1 convolutions; ``gate`` is the output
    nonlinearity (sigmoid, or hard-sigmoid in MobileNetV3)."""

    def __init__(self, *, channels: int, reduction: int = 4, hard: bool = False) -> None:
        super().__init__()
        hidden = max(8, channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(hidden, channels, 1)
        self.gate: nn.Module = nn.Hardsigmoid() if hard else nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [N, C, H, W] -> s: [N, C, 1, 1]
        s = self.gate(self.expand(self.act(self.reduce(self.pool(x)))))
        return x * s


def _conv_bn(
    c_in: int, c_out: int, *, kernel: tuple[int, int], stride: tuple[int, int], groups: int = 1
) -> list[nn.Module]:
    """Conv (no bias, "same" padding for odd kernels) followed by batch norm."""
    padding = (kernel[0] // 2, kernel[1] // 2)
    conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)
    return [conv, nn.BatchNorm2d(c_out)]


class DepthwiseSeparable(nn.Module):
    """Depthwise (1, k) conv + BN + ReLU, then pointwise 1x1 conv + BN + ReLU."""

    def __init__(self, *, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(c_in, c_in, kernel=(1, kernel), stride=(1, stride), groups=c_in),
            nn.ReLU(),
            *_conv_bn(c_in, c_out, kernel=(1, 1), stride=(1, 1)),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # [N, C_in, 1, L] -> [N, C_out, 1, L / stride]


class UEANet(nn.Module):
    """The UEA/UCR network of Sec. 4: one regular conv, 10 depthwise-separable convs with batch
    norm, squeeze-and-excitation after convs 10, 8, 6, 4 and 2, adaptive average pooling and one
    linear layer. Input ``[N, C, 1, L]``.

    The paper gives 2.6 M initial parameters but no widths; the default widths here give about
    that. Every second depthwise conv from the third on has stride 2 (an assumption, keeps CPU
    training cheap and activations small).
    """

    WIDTHS = (64, 128, 128, 256, 256, 512, 512, 640, 640, 640, 640)

    def __init__(
        self,
        *,
        in_channels: int,
        n_classes: int,
        widths: Sequence[int] = WIDTHS,
        kernel: int = 7,
    ) -> None:
        super().__init__()
        if len(widths) != 11:
            raise ValueError(f"widths must have 11 entries (1 conv + 10 DS convs), got {widths}")
        layers: list[nn.Module] = [
            *_conv_bn(in_channels, widths[0], kernel=(1, kernel), stride=(1, 1)),
            nn.ReLU(),
        ]
        for i in range(1, 11):
            stride = 2 if i in (3, 5, 7, 9) else 1
            layers.append(
                DepthwiseSeparable(
                    c_in=widths[i - 1], c_out=widths[i], kernel=kernel, stride=stride
                )
            )
            if i % 2 == 0:  # SE after DS convs 2, 4, 6, 8, 10
                layers.append(SqueezeExcite(channels=widths[i]))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(widths[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x))  # [N, C, 1, L] -> [N, W, 1, 1]
        return self.classifier(torch.flatten(x, 1))  # [N, n_classes]


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with BN, identity or 1x1-conv shortcut."""

    def __init__(self, *, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(c_in, c_out, kernel=(3, 3), stride=(stride, stride)),
            nn.ReLU(),
            *_conv_bn(c_out, c_out, kernel=(3, 3), stride=(1, 1)),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                *_conv_bn(c_in, c_out, kernel=(1, 1), stride=(stride, stride))
            )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))  # [N, C_out, H / s, W / s]


class ResNet(nn.Module):
    """Reduced ResNet-18 of Sec. 4 for 32x32 RGB: a 3x3 stem and three residual stages (instead
    of four) of two basic blocks each, global average pooling, one linear layer."""

    def __init__(
        self,
        *,
        in_channels: int = 3,
        n_classes: int = 10,
        widths: Sequence[int] = (64, 128, 160),
        blocks: int = 2,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            *_conv_bn(in_channels, widths[0], kernel=(3, 3), stride=(1, 1)),
            nn.ReLU(),
        ]
        c_in = widths[0]
        for stage, width in enumerate(widths):
            for b in range(blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                layers.append(BasicBlock(c_in=c_in, c_out=width, stride=stride))
                c_in = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.features(x))  # [N, 3, 32, 32] -> [N, W, 1, 1]
        return self.classifier(torch.flatten(x, 1))


class InvertedResidual(nn.Module):
    """MobileNetV3 bottleneck on ``[N, C, 1, L]``: 1x1 expand, depthwise (1, k), optional SE,
    1x1 project; residual when shapes match."""

    def __init__(
        self,
        *,
        c_in: int,
        expand: int,
        c_out: int,
        kernel: int,
        stride: int,
        se: bool,
        hswish: bool,
    ) -> None:
        super().__init__()
        act: type[nn.Module] = nn.Hardswish if hswish else nn.ReLU
        layers: list[nn.Module] = []
        if expand != c_in:
            layers += [*_conv_bn(c_in, expand, kernel=(1, 1), stride=(1, 1)), act()]
        layers += [
            *_conv_bn(expand, expand, kernel=(1, kernel), stride=(1, stride), groups=expand),
            act(),
        ]
        if se:
            layers.append(SqueezeExcite(channels=expand, hard=True))
        layers += _conv_bn(expand, c_out, kernel=(1, 1), stride=(1, 1))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)  # [N, C_out, 1, L / stride]
        return x + y if self.residual else y


# MobileNetV3-Small (Howard et al. 2019, Table 2): kernel, expansion, out, SE, hard-swish, stride.
_MOBILENET_V3_SMALL = (
    (3, 16, 16, True, False, 2),
    (3, 72, 24, False, False, 2),
    (3, 88, 24, False, False, 1),
    (5, 96, 40, True, True, 2),
    (5, 240, 40, True, True, 1),
    (5, 240, 40, True, True, 1),
    (5, 120, 48, True, True, 1),
    (5, 144, 48, True, True, 1),
    (5, 288, 96, True, True, 2),
    (5, 576, 96, True, True, 1),
    (5, 576, 96, True, True, 1),
)


class MobileNet1d(nn.Module):
    """Scaled-down 1-D MobileNetV3 (Small configuration) for DaLiAc windows ``[N, C, 1, 1024]``;
    1-D kernels are widened by 2 (3 -> 5, 5 -> 7) as the time axis is long."""

    def __init__(self, *, in_channels: int, n_classes: int, head: int = 1024) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            *_conv_bn(in_channels, 16, kernel=(1, 5), stride=(1, 2)),
            nn.Hardswish(),
        ]
        c_in = 16
        for kernel, expand, c_out, se, hswish, stride in _MOBILENET_V3_SMALL:
            layers.append(
                InvertedResidual(
                    c_in=c_in,
                    expand=expand,
                    c_out=c_out,
                    kernel=kernel + 2,
                    stride=stride,
                    se=se,
                    hswish=hswish,
                )
            )
            c_in = c_out
        layers += [*_conv_bn(c_in, 576, kernel=(1, 1), stride=(1, 1)), nn.Hardswish()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Linear(576, head), nn.Hardswish())
        self.classifier = nn.Linear(head, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.pool(self.features(x)), 1)  # [N, 576]
        return self.classifier(self.head(x))  # [N, n_classes]


def build_model(name: str, *, input_shape: Sequence[int], n_classes: int) -> nn.Module:
    """A fresh network by name (``uea``, ``resnet``, ``mobilenet``) for inputs ``[C, H, W]``."""
    in_channels = int(input_shape[0])
    if name == "uea":
        return UEANet(in_channels=in_channels, n_classes=n_classes)
    if name == "resnet":
        return ResNet(in_channels=in_channels, n_classes=n_classes)
    if name == "mobilenet":
        return MobileNet1d(in_channels=in_channels, n_classes=n_classes)
    raise ValueError(f"model={name!r} is not one of {MODEL_NAMES} (input shape {input_shape})")


@dataclass(frozen=True, kw_only=True)
class PrunableGroup:
    """A set of coupled channels that torch-pruning removes together; one sparsity per group.

    ``name`` is the module whose output channels root the group (a stable key for the search
    space), ``channels`` its initial number of channels."""

    name: str
    module: nn.Module
    channels: int


def classifier_of(model: nn.Module) -> nn.Module:
    """The final linear layer, which is never pruned (its outputs are the classes)."""
    classifier = getattr(model, "classifier", None)
    if not isinstance(classifier, nn.Linear):
        raise ValueError(f"{type(model).__name__} has no nn.Linear attribute 'classifier'")
    return classifier


def prunable_groups(model: nn.Module, example: torch.Tensor) -> list[PrunableGroup]:
    """One entry per coupled channel group (torch-pruning's dependency graph), classifier
    excluded (Table 2: one pruning sparsity per prunable layer; coupled layers share one)."""
    import torch_pruning as tp

    classifier = classifier_of(model)
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=example)
    names = {module: name for name, module in model.named_modules()}
    groups: list[PrunableGroup] = []
    prunable = (nn.Conv2d, nn.Linear)
    for group in graph.get_all_groups(ignored_layers=[classifier], root_module_types=prunable):
        root = group[0].dep.target.module
        channels = graph.get_out_channels(root)
        if channels is None:
            continue
        groups.append(PrunableGroup(name=names[root], module=root, channels=int(channels)))
    return groups
