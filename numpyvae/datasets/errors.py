"""The errors of the data layer: what was wrong with a file, a name or a download."""


class DatasetError(ValueError):
    """Bad data: a truncated or mislabelled file, a checksum mismatch, an unknown dataset name,
    images and labels that do not match. The message names the file and what was wrong."""


class DownloadError(DatasetError):
    """No mirror gave a good copy of a file; the message lists each mirror and its failure."""
