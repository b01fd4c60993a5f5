"""The own-drives adaptation table over routes and training seeds."""
