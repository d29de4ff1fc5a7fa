"""cnnrun.Model: a loaded model, what it declares, and the sessions that run it."""
import ctypes
import os
import weakref
from typing import NamedTuple, Optional, Tuple, Union

import numpy as np

from . import dtypes
from ._capi import MAX_RANK, SessionOptions, ValueInfo as _CValueInfo, check, lib, text

PRECISIONS = {"float32": 0, "fp32": 0, "bfloat16": 1, "bf16": 1}
CONV_ALGORITHMS = {"direct": 0, "winograd": 1}


class ValueInfo(NamedTuple):
    """A graph input or output as the model declares it.

    shape: a tuple with an int per fixed dim, the dim's name (str) for a named free dim such as
    "batch", None for an unnamed free dim; the whole shape is None when the model does not declare
    a rank. dtype: a NumPy dtype, None when undeclared or when NumPy has none (bfloat16).
    type: cnnrun's name for the element type ("float32", "bfloat16", "undefined").
    """
    name: str
    dtype: Optional[np.dtype]
    type: str
    shape: Optional[Tuple[Union[int, str, None], ...]]

    def describe(self):
        """'float32 [batch, 1, 8, 8]', as the C library writes it in its messages."""
        if self.shape is None:
            return f"{self.type} [any shape]"
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.type} [{dims}]"


def _value_info(info):
    shape = None
    if info.rank >= 0:
        shape = tuple(int(info.shape[d]) if info.shape[d] >= 0 else text(info.dim_names[d])
                      for d in range(min(info.rank, MAX_RANK)))
    return ValueInfo(text(info.name), dtypes.to_numpy(info.dtype), dtypes.name(info.dtype), shape)


class Model:
    """An ONNX model loaded by libcnnrun: `cnnrun.Model("model.onnx")`.

    Immutable once loaded; several sessions, in several threads, may run it at once. It stays
    loaded as long as the Model or any of its sessions is referenced.
    """

    def __init__(self, path):
        handle = ctypes.c_void_p()
        self.path = os.fspath(path)
        check(lib.cnnrun_model_load(os.fsencode(self.path), ctypes.byref(handle)))
        self._adopt(handle)

    @classmethod
    def from_bytes(cls, data, external_data_dir=None):
        """Loads a model from the bytes of an ONNX file; external tensor data, if the model has
        any, are read relative to external_data_dir."""
        self = cls.__new__(cls)
        self.path = None
        buf = bytes(data)
        handle = ctypes.c_void_p()
        check(lib.cnnrun_model_load_from_memory(
            buf, len(buf), os.fsencode(external_data_dir) if external_data_dir else None,
            ctypes.byref(handle)))
        self._adopt(handle)
        return self

    def _adopt(self, handle):
        self._handle = handle
        self._free = weakref.finalize(self, lib.cnnrun_model_free, handle)
        self.inputs = self._infos(lib.cnnrun_model_input_count, lib.cnnrun_model_input_info)
        self.outputs = self._infos(lib.cnnrun_model_output_count, lib.cnnrun_model_output_info)

    def _infos(self, count, get):
        infos = []
        for i in range(count(self._handle)):
            info = _CValueInfo()
            check(get(self._handle, i, ctypes.byref(info)))
            infos.append(_value_info(info))
        return infos

    def session(self, threads=0, precision="float32", max_memory=0, conv_algorithm="direct"):
        """A new session (the fields of cnnrun_session_options): threads = kernel worker threads
        (0: one per core); precision = "float32" (default) or "bfloat16" (convolutions and
        pooling in bfloat16 on CPUs with AVX-512 BF16; refused elsewhere); max_memory = ceiling
        in bytes on what planning one input shape may claim (0: the library's default, 2 GiB;
        None: no ceiling); conv_algorithm = "direct" (default) or "winograd" (3x3 stride-1
        layers where oneDNN has Winograd kernels)."""
        from .session import Session
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        if conv_algorithm not in CONV_ALGORITHMS:
            raise ValueError(f"conv_algorithm must be one of {', '.join(CONV_ALGORITHMS)}, "
                             f"not {conv_algorithm!r}")
        if not isinstance(threads, int) or threads < 0:
            raise ValueError(f"threads must be an int >= 0 (0: one per core), not {threads!r}")
        if max_memory is None:
            max_memory = 2**64 - 1  # CNNRUN_MAX_MEMORY_UNLIMITED
        if not isinstance(max_memory, int) or not 0 <= max_memory < 2**64:
            raise ValueError(f"max_memory must be a byte count >= 0 (0: the default) or None, "
                             f"not {max_memory!r}")
        options = SessionOptions(threads, PRECISIONS[precision], max_memory,
                                 CONV_ALGORITHMS[conv_algorithm])
        handle = ctypes.c_void_p()
        check(lib.cnnrun_session_create(self._handle, ctypes.byref(options), ctypes.byref(handle)))
        return Session(self, handle, threads, precision)

    def __repr__(self):
        ins = ", ".join(f"{v.name}: {v.describe()}" for v in self.inputs)
        outs = ", ".join(f"{v.name}: {v.describe()}" for v in self.outputs)
        where = repr(self.path) if self.path is not None else "<bytes>"
        return f"cnnrun.Model({where}, inputs=[{ins}], outputs=[{outs}])"
