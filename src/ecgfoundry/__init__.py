"""ecgfoundry: pretrain, stress-test and benchmark ECG foundation models.

Start with :func:`ecgfoundry.load` (a run folder, a shipped model or an external adapter, with
``.embed()`` and ``.encode_ecg()``), the README (commands and the Python API) and ``docs/layout.md``
(which module does what). Conventions: signals are float32 ``(N, 12, T)`` in millivolts, canonical lead order
``I, II, III, aVR, aVL, aVF, V1..V6``, sampling rate ``fs`` in Hz, and an explicit boolean
``observed`` mask of the same shape (missing samples are zero in the signal and False in the mask).
"""

from ecgfoundry.batch import EcgBatch, EcgRecord
from ecgfoundry.errors import EcgDataError
from ecgfoundry.signals.leads import LEADS

__version__ = "0.1.0"
__all__ = ["EcgBatch", "EcgRecord", "EcgDataError", "LEADS", "__version__", "load", "load_pretrained"]


def load(name_or_path, weights=None, device: str = "cpu"):
    """Load any model (a run folder, a shipped model's name, or an external adapter with ``weights``)
    as a :class:`~ecgfoundry.loaded_model.LoadedModel` with ``embed()``, ``encode_ecg()``,
    ``encode_text()`` and ``zero_shot()``, which take numpy arrays or torch tensors."""
    from ecgfoundry.loaded_model import load as _load

    return _load(name_or_path, weights=weights, device=device)


def load_pretrained(name: str, map_location: str = "cpu", text_encoder=None):
    """Load a shipped model by name (``ecgfoundry models list``); see :mod:`ecgfoundry.pretrained`."""
    from ecgfoundry.pretrained import load_pretrained as _load

    return _load(name, map_location=map_location, text_encoder=text_encoder)
