"""Deterministic, messy Australian CRM data for both stand-ins (see CASES.md)."""

from sandbox.generator.dataset import Dataset


def generate(parties: int = 1000, seed: int = 0) -> Dataset:
    """Placeholder until the generator lands: an empty but valid world."""
    return Dataset(seed=seed, size=parties)


__all__ = ["Dataset", "generate"]
