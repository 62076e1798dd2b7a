"""Study results: run folders -> DataFrames -> tables (CSV, Markdown). Pure: no torch, no plotting.

``read`` reads the run folders (the one reader of metrics, predictions, importance weights and timings),
``stats`` computes means, intervals and paired tests over seeds, ``tables`` makes the paper-style tables
and writes ``<study>/results/``. Figures of these frames are in :mod:`aelib.plots`; the cross-task
matrix, which re-evaluates trained runs, is in :mod:`aelib.crosstask`.

    from aelib import results
    df = results.collect("runs/default")
    results.table_by_snr(df, "kws")
"""
from .read import (RUN_TIMES_TABLE, collect, collect_sources, importance_weights, inventory, per_utterance,
                   reproduction_record, resolve_study_dir, run_dirs, run_table, run_times, snr_label, snr_value,
                   study_info, study_run_seconds, study_wall_seconds)
from .stats import (NOISY, seed_mean, compare_studies, importance_summary, of_task_kind, own_kind, paired_vs_iterative,
                    summary_by_snr, task_kinds)
from .tables import (AE_METRICS, ae_by_noise_type, ae_quality_table, by_source_table, fmt, score_by_noise_type,
                     seen_vs_unseen, synthetic_vs_real, table_by_snr, to_markdown, write_tables)

__all__ = ["RUN_TIMES_TABLE", "seed_mean", "collect", "collect_sources", "importance_weights", "inventory",
           "per_utterance", "reproduction_record", "resolve_study_dir", "run_dirs", "run_table", "run_times",
           "snr_label", "snr_value", "study_info", "study_run_seconds", "study_wall_seconds", "NOISY",
           "compare_studies", "importance_summary",
           "of_task_kind", "own_kind", "paired_vs_iterative", "summary_by_snr", "task_kinds", "AE_METRICS",
           "ae_by_noise_type", "ae_quality_table", "by_source_table", "fmt", "score_by_noise_type", "seen_vs_unseen",
           "synthetic_vs_real", "table_by_snr", "to_markdown", "write_tables"]
