"""The one root of every user-facing error of night_seg_ros and night_seg_training.

A command's `main` catches `NightSegError` alone and prints it as one line with a non-zero exit; any other exception
is a bug and keeps its traceback. Each subclass also derives from the built-in type its callers already expect
(ValueError for bad input, RuntimeError for a failing system), so `except ValueError` around a parser still works.
"""
from __future__ import annotations


class NightSegError(Exception):
    """Base of every error whose message is meant for the user: it names what is wrong and what is allowed."""
