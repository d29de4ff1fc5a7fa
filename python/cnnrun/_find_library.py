"""Where libcnnrun is looked for, in this order (the first that exists wins):

1. the file named by the environment variable CNNRUN_LIBRARY;
2. the copy that `pip install ./python` put inside this package (cnnrun/_lib/), taken from the
   build tree it was installed from;
3. the build tree of the checkout this package lies in (python/cnnrun -> ../../build), so that
   PYTHONPATH=python works straight after `cmake --build build`;
4. an installed prefix: the libdir that `pkg-config cnnrun` names, then the dynamic linker's
   search (ldconfig's cache, LD_LIBRARY_PATH) through ctypes.util.find_library.

None found is a LibraryNotFound (an ImportError) listing every place tried.
"""
import ctypes.util
import os
import subprocess

from .errors import LibraryNotFound

SONAME = "libcnnrun.so.0"
_HERE = os.path.dirname(os.path.abspath(__file__))


def _pkg_config_libdir():
    try:
        out = subprocess.run(["pkg-config", "--variable=libdir", "cnnrun"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def candidates():
    """(description, path or None) pairs in search order; path None where nothing was found."""
    env = os.environ.get("CNNRUN_LIBRARY")
    if env:
        # An explicit choice is never silently replaced by another library.
        return [("CNNRUN_LIBRARY", env)]
    found = [("packaged copy", os.path.join(_HERE, "_lib", SONAME)),
             ("build tree", os.path.join(os.path.dirname(os.path.dirname(_HERE)), "build",
                                         "libcnnrun.so"))]
    libdir = _pkg_config_libdir()
    found.append(("pkg-config cnnrun", os.path.join(libdir, SONAME) if libdir else None))
    found.append(("dynamic linker (ldconfig, LD_LIBRARY_PATH)", ctypes.util.find_library("cnnrun")))
    return found


def find_library():
    tried = []
    for what, path in candidates():
        if path is None:
            tried.append(f"  {what}: nothing")
            continue
        # find_library returns a bare soname ("libcnnrun.so.0") that dlopen resolves itself.
        if os.path.isfile(path) or (what.startswith("dynamic linker") and os.sep not in path):
            return path
        tried.append(f"  {what}: {path} does not exist")
    raise LibraryNotFound(
        "cnnrun: libcnnrun was not found. Looked in:\n" + "\n".join(tried) +
        "\nBuild it (cmake -S . -B build && cmake --build build) and reinstall this package "
        "(pip install ./python), install it (cmake --install build), or set CNNRUN_LIBRARY to "
        "the path of libcnnrun.so.")
