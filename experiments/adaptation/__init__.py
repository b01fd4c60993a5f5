"""The adaptation experiment on synthetic streets: every method from one source-only start, several seeds."""
