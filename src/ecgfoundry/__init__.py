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
__all__ = ["EcgBatch", "EcgRecord", "EcgDataError", "LEADS", "__version__", "load_pretrained"]


def load_pretrained(name: str, map_location: str = "cpu", text_encoder=None):
    """Load a shipped model by name (``ecgfoundry models list``); see :mod:`ecgfoundry.pretrained`."""
    from ecgfoundry.pretrained import load_pretrained as _load

    return _load(name, map_location=map_location, text_encoder=text_encoder)
