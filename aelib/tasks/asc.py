"""Acoustic scene classification: 4-s excerpts, speech as the interferer, multi-scale CNN, accuracy."""
from .base import TaskSpec, register

ASC = register(TaskSpec(
    name="asc", clip_seconds=4.0, interferer="speech", primary_metric="accuracy", higher_is_better=True,
    model="asc", description="acoustic scene classification (accuracy; speech is the interferer)",
))
