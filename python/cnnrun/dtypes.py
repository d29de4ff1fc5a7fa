"""NumPy dtypes <-> cnnrun_dtype codes (the numbers of ONNX's TensorProto.DataType).

bfloat16 has no NumPy dtype: cnnrun hands its elements over as their raw 16 bits, so a bfloat16
output arrives as a uint16 array (widen exactly with `(a.astype(np.uint32) << 16).view(np.float32)`),
and a value declared bfloat16 reports dtype None in Model.inputs/outputs.
"""
import numpy as np

from ._capi import lib

BFLOAT16 = 16

_TO_NUMPY = {
    1: np.dtype(np.float32), 2: np.dtype(np.uint8), 3: np.dtype(np.int8), 4: np.dtype(np.uint16),
    5: np.dtype(np.int16), 6: np.dtype(np.int32), 7: np.dtype(np.int64), 9: np.dtype(np.bool_),
    10: np.dtype(np.float16), 11: np.dtype(np.float64), 12: np.dtype(np.uint32),
    13: np.dtype(np.uint64),
}
_FROM_NUMPY = {dt: code for code, dt in _TO_NUMPY.items()}


def to_numpy(code):
    """The NumPy dtype of a cnnrun dtype code; None for undefined, string and bfloat16."""
    return _TO_NUMPY.get(code)


def from_numpy(dtype):
    """The cnnrun code of a native-byte-order NumPy dtype; None when cnnrun has no such type."""
    return _FROM_NUMPY.get(dtype)


def output_numpy(code):
    """The dtype an output array is returned in: bfloat16 as its raw bits."""
    return np.dtype(np.uint16) if code == BFLOAT16 else _TO_NUMPY.get(code)


def name(code):
    return lib.cnnrun_dtype_name(code).decode()
