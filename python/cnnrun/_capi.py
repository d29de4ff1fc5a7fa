"""The C API of include/cnnrun.h, declared for ctypes: structures, prototypes, status handling.

Nothing here computes anything; it only mirrors the header. ctypes.CDLL (not PyDLL) releases the
GIL for the duration of every foreign call, so a session running in one Python thread does not
stop the others.
"""
import ctypes
from ctypes import (POINTER, Structure, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint64,
                    c_void_p)

from . import errors
from ._find_library import find_library

MAX_RANK = 8           # CNNRUN_MAX_RANK
API_MAJOR = 0          # CNNRUN_VERSION_MAJOR this binding was written against


class Tensor(Structure):
    _fields_ = [("name", c_char_p), ("dtype", c_int), ("rank", c_size_t),
                ("shape", c_int64 * MAX_RANK), ("data", c_void_p), ("nbytes", c_size_t)]


class ValueInfo(Structure):
    _fields_ = [("name", c_char_p), ("dtype", c_int), ("rank", c_int),
                ("shape", c_int64 * MAX_RANK), ("dim_names", c_char_p * MAX_RANK)]


class SummaryRow(Structure):
    _fields_ = [("node_name", c_char_p), ("op_type", c_char_p), ("rank", c_int),
                ("shape", c_int64 * MAX_RANK), ("dim_names", c_char_p * MAX_RANK),
                ("params", c_int64), ("folded", c_int)]


class ProfileRow(Structure):
    _fields_ = [("node_name", c_char_p), ("op_type", c_char_p), ("fused", c_char_p),
                ("rank", c_int), ("shape", c_int64 * MAX_RANK), ("layout", c_char_p),
                ("kernel", c_char_p), ("ms", c_double), ("flops", c_double)]


class SessionOptions(Structure):
    _fields_ = [("threads", c_int), ("precision", c_int), ("max_memory", c_uint64),
                ("conv_algorithm", c_int)]


_status = c_void_p
_handle = c_void_p

# name: (restype, argtypes)
_PROTOTYPES = {
    "cnnrun_version": (c_char_p, []),
    "cnnrun_backend_version": (c_char_p, []),
    "cnnrun_status_code": (c_int, [_status]),
    "cnnrun_status_message": (c_char_p, [_status]),
    "cnnrun_status_free": (None, [_status]),
    "cnnrun_dtype_name": (c_char_p, [c_int]),
    "cnnrun_dtype_size": (c_size_t, [c_int]),
    "cnnrun_model_load": (_status, [c_char_p, POINTER(_handle)]),
    "cnnrun_model_load_from_memory": (_status, [c_void_p, c_size_t, c_char_p, POINTER(_handle)]),
    "cnnrun_model_free": (None, [_handle]),
    "cnnrun_model_input_count": (c_size_t, [_handle]),
    "cnnrun_model_output_count": (c_size_t, [_handle]),
    "cnnrun_model_input_info": (_status, [_handle, c_size_t, POINTER(ValueInfo)]),
    "cnnrun_model_output_info": (_status, [_handle, c_size_t, POINTER(ValueInfo)]),
    "cnnrun_session_create": (_status, [_handle, POINTER(SessionOptions), POINTER(_handle)]),
    "cnnrun_session_free": (None, [_handle]),
    "cnnrun_session_run": (_status, [_handle, POINTER(Tensor), c_size_t, POINTER(Tensor), c_size_t]),
    "cnnrun_session_summary": (_status, [_handle, POINTER(Tensor), c_size_t, POINTER(_handle)]),
    "cnnrun_summary_row_count": (c_size_t, [_handle]),
    "cnnrun_summary_row_at": (POINTER(SummaryRow), [_handle, c_size_t]),
    "cnnrun_summary_total_params": (c_int64, [_handle]),
    "cnnrun_summary_weight_bytes": (c_size_t, [_handle]),
    "cnnrun_summary_arena_bytes": (c_size_t, [_handle]),
    "cnnrun_summary_free_dims": (c_char_p, [_handle]),
    "cnnrun_summary_free": (None, [_handle]),
    "cnnrun_session_profile": (_status, [_handle, POINTER(Tensor), c_size_t, c_int, POINTER(_handle)]),
    "cnnrun_profile_row_count": (c_size_t, [_handle]),
    "cnnrun_profile_row_at": (POINTER(ProfileRow), [_handle, c_size_t]),
    "cnnrun_profile_total_ms": (c_double, [_handle]),
    "cnnrun_profile_reorder_count": (c_size_t, [_handle]),
    "cnnrun_profile_free": (None, [_handle]),
}


def _load():
    path = find_library()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise errors.LibraryNotFound(f"cnnrun: {path} could not be loaded: {e}") from e
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    version = lib.cnnrun_version().decode()
    if int(version.split(".")[0]) != API_MAJOR:
        raise errors.LibraryNotFound(
            f"cnnrun: {path} is version {version}; this package speaks the {API_MAJOR}.x API")
    return lib, path


lib, library_path = _load()


def check(status):
    """Turns a cnnrun_status pointer into nothing (success) or the matching exception."""
    if not status:
        return
    code = lib.cnnrun_status_code(status)
    message = lib.cnnrun_status_message(status).decode("utf-8", "replace")
    lib.cnnrun_status_free(status)
    raise errors.BY_CODE.get(code, errors.Error)(message)


def text(p):
    return p.decode("utf-8", "replace") if p is not None else None
