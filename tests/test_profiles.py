"""Speaker profiles (aelib.profiles); DataBundle.attach_profiles is tested in test_data.py."""
import torch

from aelib.profiles import speaker_profiles


def test_speaker_profiles_leave_each_clip_out():
    """A clip's profile is the mean of its speaker's *other* clips; a lone clip gets the prior."""
    rows = [dict(path=p, source=s) for p, s in (("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B"))]
    means = {"a1": torch.tensor([1.0, 0.0]), "a2": torch.tensor([3.0, 2.0]), "a3": torch.tensor([5.0, 4.0]),
             "b1": torch.tensor([9.0, 9.0])}
    prior = torch.tensor([-1.0, -1.0])
    out = speaker_profiles(rows, means, prior)
    torch.testing.assert_close(out["a1"], torch.tensor([4.0, 3.0]))
    torch.testing.assert_close(out["a3"], torch.tensor([2.0, 1.0]))
    torch.testing.assert_close(out["b1"], prior)
