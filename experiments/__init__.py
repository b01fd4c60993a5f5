"""The lab beside the product: studies of the method and of the runtime, each in its own folder with its figures.

Imported by neither night_seg_ros nor night_seg_training (an import-linter contract, setup.cfg); a study may import
both. Run a study from the repository root as a module, e.g. `.venv/bin/python -m experiments.adaptation.experiment`;
README.md here lists each study's commands. Its checks run with `.venv/bin/python -m pytest experiments`, apart from
the product's suite (`make test`).
"""
