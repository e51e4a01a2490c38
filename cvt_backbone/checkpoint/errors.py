"""The errors of reading, fetching and loading checkpoints.

Both are ``RuntimeError`` s whose message names the source (file, URL,
repo, zoo name) and what to do, so a tool can print them as they are.
"""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or does not fit the model."""


class CheckpointDownloadError(CheckpointError):
    """A checkpoint that could not be fetched (offline, missing, cut)."""
