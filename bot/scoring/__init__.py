"""Scoring: the model that reads a message and gives each of the six labels a probability.

Text is normalised (`normalize`), split into token windows and run through the fastest engine this machine
has (`engines`, chosen by `tuning`); `classifier` ties them together, `language` says which messages the
model can read, and `registry` and `info` find the model folder and what it was calibrated to.
"""
