"""A checkpoint that attacks its reader: every loading path must refuse it
before any of its code runs."""
import os


class CodeRunningPickle:
    """Pickles to a call of ``os.system('touch MARKER')``: loading it must be
    refused, and the marker file must never appear."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))
