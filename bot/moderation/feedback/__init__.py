"""Moderator verdicts as training data, and thresholds suggested from them: one module per job.

A verdict fixes all six labels: Confirm means "these labels apply and the others do not", Dismiss means
clean on all six. `verdicts` reads them, `export` writes them as a CSV for `toxmod train --feedback`,
`thresholds` suggests a guild's thresholds from them, and `run_folders` removes the exports a retrain left
behind (they hold message texts, so they must not outlive their erasure).
"""
