"""ecgfoundry.models: ECG encoders, text encoders and ECG–text models (CLIP, MERL, SCAR).

Import what you need from its module (nothing is imported here, so reading a config does not
import torch):

- ``config``: ``EncoderConfig``, ``TextConfig``, ``MaskerConfig``, ``SelectorConfig``, ``ModelConfig``
- ``registry``: ``create_encoder``, ``create_model``, ``list_encoders``, ``list_models``
- ``tokenizer`` (lead x time patches), ``transformer``, ``resnet1d``, ``encoder_output``
- ``text`` (``TextEncoder``, ``HashingTextEncoder``, ``normalize_report``), ``masker``, ``selector``
- ``ecg_text`` (``ECGTextModel``: ``encode_ecg``, ``encode_text``, ``forward_losses``), ``augment``
- ``ssl_model`` (``SSLModel``: SimCLR, MoCo, BYOL, CLEF), ``ssl_augment`` (two-view ECG augmentations),
  ``momentum`` (EMA targets)
"""
