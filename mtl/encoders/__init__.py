"""Encoders: token ids -> contextual states (``EncoderOutput``)."""

from __future__ import annotations

from mtl.encoders.base import Encoder
from mtl.encoders.cnn import CNNEncoder
from mtl.encoders.lstm import LSTMEncoder
from mtl.encoders.output import EncoderOutput
from mtl.encoders.pretrained import PretrainedEncoder
from mtl.encoders.transformer import TransformerEncoder
from mtl.encoders.word_vectors import WordVectors

__all__ = ["CNNEncoder", "Encoder", "EncoderOutput", "LSTMEncoder", "PretrainedEncoder", "TransformerEncoder", "WordVectors"]
