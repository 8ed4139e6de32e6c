"""Training: corpora mapped into the six labels, a model fine-tuned on them, evaluated, calibrated and exported.

`sources` reads the corpora, `dataset` splits them, `train` fine-tunes, `evaluate` calibrates thresholds
and measures, `export` writes the model folder the bot loads; `pipeline` and `recipe` run the stages a
recipe (training/recipes/) names. The bot never imports this package: it runs `toxmod train` as a process.
"""
