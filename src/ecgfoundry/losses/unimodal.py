"""Uni-modal alignment of two views of the ECG embedding (MERL).

Liu, Wan, Ouyang, Bai, Arcucci: "Zero-Shot ECG Classification with Multimodal Learning and
Test-time Clinical Knowledge Enhancement" (MERL), ICML 2024: besides the cross-modal CLIP loss,
two dropout views of each ECG embedding are aligned with the same symmetric InfoNCE.
"""

from __future__ import annotations

from torch import Tensor

from ecgfoundry.losses.clip import ClipLoss

__all__ = ["UnimodalAlignmentLoss"]


class UnimodalAlignmentLoss(ClipLoss):
    """Symmetric InfoNCE between two views (N, E) of the same ECGs; key ``"unimodal"``.

    Parameters are those of :class:`ClipLoss` (distributed flags); the views are positives row-wise.
    """

    def __init__(self, local_loss: bool = False, gather_with_grad: bool = True,
                 rank: int | None = None, world_size: int | None = None):
        super().__init__(local_loss, gather_with_grad, rank, world_size, name="unimodal")

    def forward(self, view1: Tensor, view2: Tensor, logit_scale: Tensor | float) -> dict[str, Tensor]:
        return super().forward(view1, view2, logit_scale)
