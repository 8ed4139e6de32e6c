"""Moderation: every message scored, decided by its guild's policy, recorded, and learnt from.

The pipeline (`pipeline`) is the one path a live, reported or replayed message takes; the scoring worker
(`worker`) batches messages for the model; `policy` and `guild_config` decide; `feedback` turns moderator
verdicts back into training data and threshold suggestions.
"""
