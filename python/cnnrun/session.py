"""cnnrun.Session: runs a model on NumPy arrays.

Inputs are handed to the C library without a copy when they are NumPy arrays that are
C-contiguous, of the declared dtype and in native byte order; a non-contiguous or byte-swapped
array is copied once; an array of another dtype is never converted (the C library's message says
which input, the expected and the found dtype and shape). Outputs are copied out of the session's
memory into new arrays, so they stay valid after the next run.

A session is used by one thread at a time, as in C: each Session holds a lock that run, summary
and profile take, so sharing one between threads is safe but serial. For parallel work create one
session per thread (a Model may be shared); the GIL is released while the C library runs.
"""
import ctypes
import threading
import weakref
from typing import NamedTuple, Optional, Tuple, Union

import numpy as np

from . import dtypes
from ._capi import MAX_RANK, Tensor, check, lib, text
from .errors import InputMismatch, InvalidArgument

Dim = Union[int, str]


class SummaryRow(NamedTuple):
    """One node of the planned graph. shape: output 0's dims, a str where a dim follows a free
    input dim ("batch", "2*batch") or "?" where it depends on one otherwise."""
    node: str
    op: str
    shape: Tuple[Dim, ...]
    params: int
    folded: bool


class ProfileRow(NamedTuple):
    """One kernel of a run, in execution order. fused: the post-ops computed inside it ("Add+Relu")
    or None; layout: output 0's memory layout ("plain", "nhwc", ...); kernel: oneDNN's
    implementation or "cnnrun"; ms: mean time per run; flops: per run (0 where not counted)."""
    node: str
    op: str
    fused: Optional[str]
    shape: Tuple[int, ...]
    layout: str
    kernel: str
    ms: float
    flops: float


class Summary(list):
    """A list of SummaryRow, plus the totals: total_params, weight_bytes (constants the plan
    keeps), arena_bytes (activations), free_dims (the sizes the memory figures assume, as
    "batch = 1", or None)."""


class Profile(list):
    """A list of ProfileRow, plus total_ms (mean wall time of a whole run) and reorders (layout
    conversions per run)."""


def _shape_of(rank, shape, dim_names=None):
    return tuple(text(dim_names[d]) if dim_names is not None and dim_names[d] is not None
                 else int(shape[d]) for d in range(min(rank, MAX_RANK)))


class Session:
    """Created by Model.session(); see the module's text for the rules on inputs and threads."""

    def __init__(self, model, handle, threads, precision):
        self.model = model          # the C session needs the model to outlive it
        self.threads = threads
        self.precision = precision
        self._handle = handle
        self._free = weakref.finalize(self, lib.cnnrun_session_free, handle)
        self._lock = threading.Lock()
        self._in_names = [v.name for v in model.inputs]
        self._in_index = {name: i for i, name in enumerate(self._in_names)}
        self._in_bytes = [name.encode() for name in self._in_names]
        self._out_names = [v.name for v in model.outputs]
        self._out_bytes = [name.encode() for name in self._out_names]
        n_in = len(self._in_names)
        self._inputs = (Tensor * max(n_in, 1))()
        for i in range(n_in):
            self._inputs[i].name = self._in_bytes[i]
        self._all_outputs = (Tensor * max(len(self._out_names), 1))()

    # -- binding ---------------------------------------------------------------------------------

    def _ordered(self, inputs):
        """The arrays in graph input order, from a dict, a list/tuple, or one array."""
        n = len(self._in_names)
        if isinstance(inputs, dict):
            unknown = [k for k in inputs if k not in self._in_index]
            if unknown:
                raise InvalidArgument(
                    f"the model has no input named '{unknown[0]}' (its inputs: "
                    f"{', '.join(self._in_names)})")
            missing = [k for k in self._in_names if k not in inputs]
            if missing:
                raise InvalidArgument(
                    f"input '{missing[0]}' is missing (the model takes {n} inputs: "
                    f"{', '.join(self._in_names)})")
            return [inputs[k] for k in self._in_names]
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != n:
                raise InvalidArgument(f"{len(inputs)} inputs were given but the model takes {n} "
                                      f"({', '.join(self._in_names)})")
            return list(inputs)
        if n != 1:
            raise InvalidArgument(f"one array was given but the model takes {n} inputs "
                                  f"({', '.join(self._in_names)}); pass a dict or a list")
        return [inputs]

    def _array(self, i, value):
        """value as an array the C library can read in place, or an InputMismatch."""
        info = self.model.inputs[i]
        if not isinstance(value, np.ndarray):
            # Lists and scalars have no dtype of their own: they take the declared one.
            value = np.asarray(value, dtype=info.dtype)
        if not value.dtype.isnative:
            value = value.astype(value.dtype.newbyteorder("="))
        if dtypes.from_numpy(value.dtype) is None:
            raise InputMismatch(f"input '{info.name}': expected {info.describe()}, found NumPy "
                                f"{value.dtype} {list(value.shape)} (cnnrun has no such type)")
        if value.ndim > MAX_RANK:
            raise InputMismatch(f"input '{info.name}': expected {info.describe()}, found rank "
                                f"{value.ndim} (cnnrun takes at most {MAX_RANK} dims)")
        if not value.flags.c_contiguous:
            value = np.ascontiguousarray(value)
        return value

    def _bind(self, inputs):
        """Fills self._inputs; returns the arrays, which must stay referenced during the call."""
        arrays = [self._array(i, v) for i, v in enumerate(self._ordered(inputs))]
        for t, a in zip(self._inputs, arrays):
            t.dtype = dtypes.from_numpy(a.dtype)
            t.rank = a.ndim
            t.shape[:a.ndim] = a.shape
            t.data = a.ctypes.data
            t.nbytes = a.nbytes
        return arrays

    def _wanted(self, names):
        if names is None:
            outs = self._all_outputs
            for t, name in zip(outs, self._out_bytes):
                t.name, t.data, t.nbytes = name, None, 0
            return outs, len(self._out_bytes)
        if isinstance(names, str):
            raise TypeError("outputs must be a list of output names (or None for all)")
        outs = (Tensor * max(len(names), 1))()
        for t, name in zip(outs, names):
            t.name = name.encode()
        return outs, len(names)

    # -- running ---------------------------------------------------------------------------------

    def run(self, inputs, outputs=None):
        """Runs the model; returns a list of NumPy arrays in the model's output order (or in the
        order of `outputs`, a list of output names), as ONNX Runtime's InferenceSession.run does.

        inputs: {"name": array, ...}; or a list/tuple of arrays in the order of model.inputs; or
        a single array for a model with one input.
        """
        with self._lock:
            keep = self._bind(inputs)
            outs, n_out = self._wanted(outputs)
            check(lib.cnnrun_session_run(self._live(), self._inputs, len(keep), outs, n_out))
            result = []
            for k in range(n_out):
                t = outs[k]
                dtype = dtypes.output_numpy(t.dtype)
                array = np.empty(tuple(t.shape[:t.rank]), dtype=dtype)
                if t.nbytes:
                    ctypes.memmove(array.ctypes.data, t.data, t.nbytes)
                result.append(array)
            return result

    def run_dict(self, inputs, outputs=None):
        """As run(), but returns {output name: array}."""
        names = list(outputs) if outputs is not None else self._out_names
        return dict(zip(names, self.run(inputs, outputs)))

    def summary(self, inputs=None):
        """The planned graph node by node, as a Summary (a list of SummaryRow with totals).

        With inputs (given as to run(); only their shapes and dtypes are read) the plan for those
        shapes; without, free dims bound to 1 and shown by name."""
        handle = ctypes.c_void_p()
        with self._lock:
            keep = self._bind(inputs) if inputs is not None else []
            check(lib.cnnrun_session_summary(self._live(), self._inputs if keep else None,
                                             len(keep), ctypes.byref(handle)))
        try:
            summary = Summary(
                SummaryRow(text(r.node_name), text(r.op_type),
                           _shape_of(r.rank, r.shape, r.dim_names), int(r.params), bool(r.folded))
                for r in (lib.cnnrun_summary_row_at(handle, i).contents
                          for i in range(lib.cnnrun_summary_row_count(handle))))
            summary.total_params = int(lib.cnnrun_summary_total_params(handle))
            summary.weight_bytes = int(lib.cnnrun_summary_weight_bytes(handle))
            summary.arena_bytes = int(lib.cnnrun_summary_arena_bytes(handle))
            summary.free_dims = text(lib.cnnrun_summary_free_dims(handle))
        finally:
            lib.cnnrun_summary_free(handle)
        return summary

    def profile(self, inputs, runs=10):
        """Runs the model `runs` times (after one warm-up run) timing every kernel; a Profile (a
        list of ProfileRow in execution order, with total_ms and reorders)."""
        if not isinstance(runs, int) or runs < 1:
            raise ValueError(f"runs must be an int >= 1, not {runs!r}")
        handle = ctypes.c_void_p()
        with self._lock:
            keep = self._bind(inputs)
            check(lib.cnnrun_session_profile(self._live(), self._inputs, len(keep), runs,
                                             ctypes.byref(handle)))
        try:
            profile = Profile(
                ProfileRow(text(r.node_name), text(r.op_type), text(r.fused),
                           _shape_of(r.rank, r.shape), text(r.layout), text(r.kernel),
                           float(r.ms), float(r.flops))
                for r in (lib.cnnrun_profile_row_at(handle, i).contents
                          for i in range(lib.cnnrun_profile_row_count(handle))))
            profile.total_ms = float(lib.cnnrun_profile_total_ms(handle))
            profile.reorders = int(lib.cnnrun_profile_reorder_count(handle))
        finally:
            lib.cnnrun_profile_free(handle)
        return profile

    def _live(self):
        if self._handle is None:
            raise InvalidArgument("the session is closed")
        return self._handle

    def close(self):
        """Frees the session now rather than when it is garbage-collected; using it afterwards
        raises InvalidArgument."""
        with self._lock:
            self._free()
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"<cnnrun.Session of {self.model.path or '<bytes>'!s}, threads={self.threads}, "
                f"precision={self.precision!r}>")
