"""Training: the state and its steps, the phases, the loop and the run folder."""
