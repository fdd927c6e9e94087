"""The MLP probe: scikit-learn's ``MLPClassifier`` with early stopping that degrades gracefully.

Early stopping holds out a stratified ``validation_fraction`` of the data it is fitted on and
stops after ``n_iter_no_change`` epochs without a better validation accuracy. On small training
sets (the tiny challenge sources, the XS size's inner grid-search folds) that held-out part is a
handful of records whose accuracy moves in coarse steps and stops training after a few epochs,
long before the model fits. :class:`EarlyStoppingMLP` therefore trains without early stopping
(the full ``max_iter`` epochs, scikit-learn's loss-tolerance stop) when the held-out part would
hold fewer than :data:`MIN_VALIDATION_PER_CLASS` records of a class, i.e. below roughly 200
training records per class; small fits are cheap anyway. The fitted model records which way it
went in ``early_stopping_used_``.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.neural_network import MLPClassifier

MIN_VALIDATION_PER_CLASS = 20


class EarlyStoppingMLP(MLPClassifier):
    """``MLPClassifier`` whose ``early_stopping`` is switched off for a fit on too little data."""

    def fit(self, X, y, sample_weight=None):
        counts = np.bincount(np.unique(np.asarray(y), return_inverse=True)[1].ravel())
        held_out = min(math.floor(c * self.validation_fraction) for c in counts) if len(counts) else 0
        use = bool(self.early_stopping) and held_out >= MIN_VALIDATION_PER_CLASS
        requested = self.early_stopping
        self.early_stopping = use
        try:
            super().fit(X, y, sample_weight=sample_weight)
        finally:
            self.early_stopping = requested
        self.early_stopping_used_ = use
        return self
