"""The players G and D, sampling, the roll-out and the baselines' parts."""

from seqgan_tf.modeling.discriminator import Discriminator
from seqgan_tf.modeling.generator import (LOGIT_ROWS, Generator,
                                          chunked_log_probs, output_log_probs,
                                          through_end)

__all__ = ["LOGIT_ROWS", "Discriminator", "Generator", "chunked_log_probs",
           "output_log_probs", "through_end"]
