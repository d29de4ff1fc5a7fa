"""Exceptions: one class per cnnrun_code, each carrying the C library's own message.

Every class derives from cnnrun.Error; where a built-in exception says the same thing it is a base
too, so `except ValueError` catches a wrong input shape and `except OSError` an unreadable file,
as Python code written for other libraries expects.
"""


class Error(Exception):
    """A failed cnnrun call. `code` is the C library's cnnrun_code name ("INPUT_MISMATCH"),
    `message` its status message (also str(error))."""

    code = "ERROR"

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


class InvalidArgument(Error, ValueError):
    code = "INVALID_ARGUMENT"


class FileError(Error, OSError):
    code = "IO"


class InvalidModel(Error, ValueError):
    code = "INVALID_MODEL"


class Unsupported(Error, NotImplementedError):
    code = "UNSUPPORTED"


class InputMismatch(Error, ValueError):
    code = "INPUT_MISMATCH"


class OutOfMemory(Error, MemoryError):
    code = "OUT_OF_MEMORY"


class BufferTooSmall(Error, ValueError):
    code = "BUFFER_TOO_SMALL"


class InternalError(Error, RuntimeError):
    code = "INTERNAL"


class LibraryNotFound(ImportError):
    """libcnnrun could be found nowhere; the message lists where it was looked for."""


# Indexed by the numeric cnnrun_code of include/cnnrun.h.
BY_CODE = {
    1: InvalidArgument,
    2: FileError,
    3: InvalidModel,
    4: Unsupported,
    5: InputMismatch,
    6: OutOfMemory,
    7: BufferTooSmall,
    8: InternalError,
}
