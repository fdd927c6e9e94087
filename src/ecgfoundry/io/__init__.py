"""Readers for ECG datasets. Readers never do maths beyond putting leads in canonical order and
units in millivolts; harmonisation (resampling, cropping) lives in :mod:`ecgfoundry.signals`."""

from ecgfoundry.io.base import LabelSet, ReadProblem, RecordSource
from ecgfoundry.io.detect import open_dataset

__all__ = ["LabelSet", "ReadProblem", "RecordSource", "open_dataset"]
