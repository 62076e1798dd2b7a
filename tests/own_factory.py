"""A downstream model defined outside aelib, for notebooks/04_own_model.ipynb in tests/test_own_model.py."""
import torch
from torch import nn

LABELS = ["high", "low"]


class Pitch(nn.Module):
    """Raw wave -> 2 logits (a user's model: nothing in aelib knows it)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 64, stride=16)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(torch.relu(self.conv(x[:, None])).mean(-1))


def _y(targets):
    return torch.tensor([LABELS.index(t) for t in targets])


def frozen(train):
    from aelib.own import Downstream

    torch.manual_seed(0)
    return Downstream(Pitch(), lambda m, x, n, t: nn.functional.cross_entropy(m(x), _y(t), reduction="none"),
                      trainable=False, error=lambda m, x, n, t: (m(x).argmax(-1) != _y(t)).float())
