"""Which folder holds the data: an explicit argument, else $NUMPYVAE_DATA, else a user cache."""
import os
from pathlib import Path

DATA_DIR_ENV = "NUMPYVAE_DATA"


def default_data_dir(system=None):
    """The per-user cache folder for downloaded data.

    ``%LOCALAPPDATA%\\numpyvae`` on Windows; elsewhere ``$XDG_CACHE_HOME/numpyvae`` when that
    variable holds an absolute path (the XDG spec says to ignore a relative one), else
    ``~/.cache/numpyvae``. The folder is not created here.

    Parameters
    ----------
    system : str, optional
        ``os.name`` to assume ("nt" for Windows, "posix" otherwise); the running system's by
        default. Tests use it to see the Windows rule on any machine.

    Returns
    -------
    pathlib.Path
    """
    system = os.name if system is None else system
    if system == "nt":
        local = os.environ.get("LOCALAPPDATA")
        root = Path(local) if local else Path.home() / "AppData" / "Local"
    else:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        root = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return root / "numpyvae"


def resolve_data_dir(data_dir=None):
    """The data folder: ``data_dir`` if given, else $NUMPYVAE_DATA if set, else the cache.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        The CLI's ``--data-dir``. A leading ``~`` is expanded, here and in the variable.

    Returns
    -------
    pathlib.Path
    """
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)) or not os.fspath(data_dir):
            raise ValueError(f"data_dir must be a folder path (str or os.PathLike); "
                             f"got {data_dir!r}")
        return Path(data_dir).expanduser()
    from_env = os.environ.get(DATA_DIR_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return default_data_dir()


def dataset_folder(subfolder, data_dir=None):
    """The folder of one dataset's files: the data folder, or a subfolder of it.

    Parameters
    ----------
    subfolder : str
        "" for a dataset whose files sit directly in the data folder (MNIST), else the name of
        its subfolder (Fashion-MNIST: "fashion-mnist"). A data folder of that very name is
        taken to be the subfolder itself, so that ``--data-dir ../data/fashion-mnist`` works
        as well as ``--data-dir ../data``. (Files in any other data folder are never taken for
        Fashion-MNIST's: MNIST's files have the same names.)
    data_dir : str or os.PathLike, optional
        See :func:`resolve_data_dir`.

    Returns
    -------
    pathlib.Path
    """
    folder = resolve_data_dir(data_dir)
    if not subfolder or folder.name == subfolder:
        return folder
    return folder / subfolder


def find_data_file(folder, name):
    """The file ``name`` in ``folder``, raw or as ``name.gz``; None when neither exists.

    When both exist the raw file wins: it reads faster.
    """
    for candidate in (Path(folder) / name, Path(folder) / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None
