"""scripts/merge_tables.py: the utterance rows of tasks a partial rerun did not retrain come back in place."""
import numpy as np
import pandas as pd

from .scripts import load_script


def _table(rows):
    return pd.DataFrame(rows, columns=["task", "paradigm", "level", "p"])


def test_merged_takes_the_retrained_tasks_from_the_new_table_and_the_others_from_the_reference():
    merged = load_script("merge_tables").merged
    ref = _table([("kws", "clean", "seed", 0.1), ("kws", "clean", "utterance", 0.01),
                  ("ser", "clean", "seed", 0.5), ("ser", "clean", "utterance", 0.05), ("asc", "clean", "seed", 0.7)])
    new = _table([("kws", "clean", "seed", 0.1), ("ser", "clean", "seed", 0.3), ("ser", "clean", "utterance", 0.03),
                  ("asc", "clean", "seed", 0.7)])
    out = merged(new, ref, {"ser"})
    assert out.values.tolist() == [["kws", "clean", "seed", 0.1], ["kws", "clean", "utterance", 0.01],
                                   ["ser", "clean", "seed", 0.3], ["ser", "clean", "utterance", 0.03],
                                   ["asc", "clean", "seed", 0.7]]
    # a retrained task keeps only its new rows: never the old, stale ones
    out = merged(new.iloc[:2], ref, {"ser"})
    assert ("ser", "utterance") not in set(zip(out["task"], out["level"]))
    assert np.isclose(out.loc[out["task"] == "ser", "p"].sum(), 0.3)
