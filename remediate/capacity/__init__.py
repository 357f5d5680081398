"""Resource use sampled over SSH, its trend, and the time left before a threshold."""
