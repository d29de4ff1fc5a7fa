"""cnnrun from Python: the C inference runtime libcnnrun, through its public API (ctypes).

    import cnnrun, numpy
    model = cnnrun.Model("models/digits_cnn.onnx")
    model.inputs          # [ValueInfo(name='image', dtype=float32, type='float32', shape=('batch', 1, 8, 8))]
    session = model.session(threads=2)
    probabilities, = session.run(numpy.load("models/digit_sample.npy"))

session.run returns a list of arrays in output order, as ONNX Runtime does; session.run_dict a
dict by output name. Errors are cnnrun.Error subclasses carrying the C library's message. Where
libcnnrun is looked for: see cnnrun._find_library.
"""
from ._capi import library_path, lib as _lib
from .errors import (BufferTooSmall, Error, FileError, InputMismatch, InternalError,
                     InvalidArgument, InvalidModel, LibraryNotFound, OutOfMemory, Unsupported)
from .model import Model, ValueInfo
from .session import Profile, ProfileRow, Session, Summary, SummaryRow

__version__ = _lib.cnnrun_version().decode()
backend_version = _lib.cnnrun_backend_version().decode()

__all__ = ["Model", "Session", "ValueInfo", "Summary", "SummaryRow", "Profile", "ProfileRow",
           "Error", "InvalidArgument", "FileError", "InvalidModel", "Unsupported",
           "InputMismatch", "OutOfMemory", "BufferTooSmall", "InternalError", "LibraryNotFound",
           "library_path", "backend_version", "__version__"]
