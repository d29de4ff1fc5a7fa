"""How far cnnrun's outputs are from ONNX Runtime's on the same input.

Two measures, over the .npy files both runtimes wrote for the first round:
- max|a-b| / max|b| (a: cnnrun, b: ONNX Runtime), the worst over the outputs: the float32 rows
  must stay within TOLERANCE of it; the bfloat16 rows only report it, since bfloat16 keeps 8
  significant bits and misses such a tolerance by design.
- top-1 agreement: the share of batch rows whose argmax over the last axis (the class scores of
  the vision models) is the same in both, the worst over the outputs. It says whether a lower
  precision changes answers, which a relative difference alone does not.
"""
import os

import numpy as np

TOLERANCE = 1e-4


class Comparison:
    def __init__(self, max_rel_diff=None, top1=None, problem=None):
        self.max_rel_diff = max_rel_diff  # None if the outputs could not be compared
        self.top1 = top1                  # (rows agreeing, rows) or None: no output has classes
        self.problem = problem            # why they could not be compared, else None

    @property
    def top1_agreement(self):
        return self.top1[0] / self.top1[1] if self.top1 else None


def relative_difference(a, b):
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    diff = float(np.max(np.abs(a - b))) if b.size else 0.0
    return diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))


def top1(a, b):
    """(rows whose argmax over the last axis matches, rows), all leading axes being rows; None
    if the output has no batch and class axes to speak of."""
    if a.ndim < 2 or a.shape[-1] < 2 or a.size == 0:
        return None
    rows_a, rows_b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    matches = int(np.sum(np.argmax(rows_a, axis=1) == np.argmax(rows_b, axis=1)))
    return matches, rows_a.shape[0]


def compare_outputs(cnnrun_dir, ort_dir):
    """A Comparison of every output ONNX Runtime wrote with cnnrun's of the same name."""
    names = sorted(f for f in os.listdir(ort_dir) if f.endswith(".npy"))
    if not names:
        return Comparison(problem="ONNX Runtime wrote no outputs")
    worst_rel, worst_top1 = 0.0, None
    for name in names:
        mine = os.path.join(cnnrun_dir, name)
        if not os.path.exists(mine):
            return Comparison(problem=f"cnnrun wrote no {name}")
        a = np.load(mine).astype(np.float64)
        b = np.load(os.path.join(ort_dir, name)).astype(np.float64)
        if a.shape != b.shape:
            return Comparison(problem=f"{name}: shape {a.shape} vs ONNX Runtime's {b.shape}")
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return Comparison(problem=f"{name}: non-finite values")
        worst_rel = max(worst_rel, relative_difference(a, b))
        agreement = top1(a, b)
        if agreement and (worst_top1 is None or
                          agreement[0] / agreement[1] < worst_top1[0] / worst_top1[1]):
            worst_top1 = agreement
    return Comparison(worst_rel, worst_top1)


def tolerance_problem(comparison):
    """Why a float32 row is invalid, or None: outputs not comparable or beyond TOLERANCE."""
    if comparison.problem:
        return comparison.problem
    if comparison.max_rel_diff > TOLERANCE:
        return (f"outputs differ: max|a-b|/max|b| = {comparison.max_rel_diff:.3g} > "
                f"{TOLERANCE:g}")
    return None
