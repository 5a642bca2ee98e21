"""Data: the corpora, tf.data pipelines, the tokenizer and the oracle."""
