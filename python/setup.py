"""Packs libcnnrun into the wheel, so that an installed cnnrun works wherever it is imported from.

`pip install ./python` builds from this directory; the library is taken, in this order, from the
file named by CNNRUN_LIBRARY, from CNNRUN_BUILD_DIR/libcnnrun.so, or from the build tree beside
this directory (../build/libcnnrun.so). It is copied into the package as cnnrun/_lib/libcnnrun.so.0;
its own dependencies (oneDNN, protobuf-c, zlib, libgomp) stay the system's. With no library found
the package is installed without one and looks for an installed libcnnrun at import time (see
cnnrun/_find_library.py). Rebuilding the C library means reinstalling the package to pick it up.
"""
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


def built_library():
    if os.environ.get("CNNRUN_LIBRARY"):
        return os.environ["CNNRUN_LIBRARY"]
    build = os.environ.get("CNNRUN_BUILD_DIR") or os.path.join(os.path.dirname(HERE), "build")
    path = os.path.join(build, "libcnnrun.so")
    return path if os.path.isfile(path) else None


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        library = built_library()
        if library is None:
            print("cnnrun: no built libcnnrun found; the package will look for an installed one")
            return
        if not os.path.isfile(library):
            raise SystemExit(f"cnnrun: CNNRUN_LIBRARY={library} does not exist")
        target = os.path.join(self.build_lib, "cnnrun", "_lib")
        os.makedirs(target, exist_ok=True)
        shutil.copyfile(os.path.realpath(library), os.path.join(target, "libcnnrun.so.0"))
        print(f"cnnrun: packaged {os.path.realpath(library)}")


class BinaryDistribution(Distribution):
    """A wheel holding a shared library is specific to the platform and interpreter."""

    def has_ext_modules(self):
        return built_library() is not None


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
