"""ecgfoundry.losses: one loss per module, each an ``nn.Module`` returning a dict of named losses.

- ``clip.ClipLoss``: symmetric InfoNCE, global across DDP ranks
- ``unimodal.UnimodalAlignmentLoss``: MERL's alignment of two ECG views
- ``consistency.ConsistencyLoss``: SCAR's ``1 - cos(z(m), stopgrad(z))``
- ``budget.MaskBudgetLoss``: SCAR's ``(mean g - rho)^2``
- ``ssl``: ECG-only self-supervised losses (NT-Xent, MoCo, BYOL, CLEF), one module each
"""
