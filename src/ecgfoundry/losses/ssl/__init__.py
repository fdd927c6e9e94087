"""ECG-only self-supervised losses, one per module, each an ``nn.Module`` returning a dict of named
losses (computed on embeddings only; the heads and momentum networks live in
:mod:`ecgfoundry.models.ssl_model`).

- ``ntxent.NTXentLoss``: NT-Xent of SimCLR (Chen et al. 2020), global across DDP ranks
- ``moco.MoCoLoss`` + ``moco.KeyQueue``: InfoNCE against a queue of momentum keys (He et al. 2020)
- ``byol.BYOLLoss``: negative cosine between the online prediction and the EMA target (Grill et al. 2020)
- ``clef.CLEFLoss`` + ``clef.clinical_similarity``: NT-Xent with negatives weighted by clinical
  dissimilarity plus an alignment of embedding similarity with the clinical one (CLEF, Shu et al.,
  Nokia Bell Labs 2025)
"""

from ecgfoundry.losses.ssl.byol import BYOLLoss
from ecgfoundry.losses.ssl.clef import CLEFLoss, clinical_similarity
from ecgfoundry.losses.ssl.moco import KeyQueue, MoCoLoss
from ecgfoundry.losses.ssl.ntxent import NTXentLoss, nt_xent

__all__ = ["NTXentLoss", "nt_xent", "MoCoLoss", "KeyQueue", "BYOLLoss", "CLEFLoss", "clinical_similarity"]
