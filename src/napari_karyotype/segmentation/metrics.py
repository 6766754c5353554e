"""Compare a predicted label image with the truth: detection F1 and mean IoU."""

from __future__ import annotations

import numpy as np


def iou_matrix(truth: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(truth_ids, pred_ids, iou)``: IoU of every true object with every predicted one."""
    truth = np.asarray(truth).ravel()
    pred = np.asarray(pred).ravel()
    if truth.shape != pred.shape:
        raise ValueError("truth and prediction must have the same shape")
    t_ids = np.unique(truth[truth > 0])
    p_ids = np.unique(pred[pred > 0])
    if t_ids.size == 0 or p_ids.size == 0:
        return t_ids, p_ids, np.zeros((t_ids.size, p_ids.size))
    ti = np.searchsorted(t_ids, truth)
    pi = np.searchsorted(p_ids, pred)
    both = (truth > 0) & (pred > 0)
    inter = np.zeros((t_ids.size, p_ids.size))
    np.add.at(inter, (ti[both], pi[both]), 1)
    t_area = np.bincount(ti[truth > 0], minlength=t_ids.size).astype(float)
    p_area = np.bincount(pi[pred > 0], minlength=p_ids.size).astype(float)
    union = t_area[:, None] + p_area[None, :] - inter
    return t_ids, p_ids, inter / np.maximum(union, 1)


def match_labels(truth: np.ndarray, pred: np.ndarray, iou: float = 0.5) -> tuple[float, float]:
    """``(f1, mean_iou)``: detection F1 where a match needs IoU >= ``iou`` (one-to-one, greedy
    by IoU; unique for ``iou`` >= 0.5), and the mean over true objects of their best IoU with
    any predicted object (0 for a missed one)."""
    t_ids, p_ids, m = iou_matrix(truth, pred)
    if t_ids.size == 0 and p_ids.size == 0:
        return 1.0, 1.0
    if t_ids.size == 0 or p_ids.size == 0:
        return 0.0, 0.0
    matched = 0
    used_t, used_p = set(), set()
    order = np.dstack(np.unravel_index(np.argsort(-m, axis=None), m.shape))[0]
    for a, b in order:
        if m[a, b] < iou:
            break
        if a in used_t or b in used_p:
            continue
        used_t.add(a)
        used_p.add(b)
        matched += 1
    precision = matched / p_ids.size
    recall = matched / t_ids.size
    f1 = 0.0 if matched == 0 else 2 * precision * recall / (precision + recall)
    return float(f1), float(m.max(axis=1).mean())


def box_iou(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """IoU of every true box with every predicted box; boxes ``(r0, c0, r1, c1)``."""
    t = np.asarray(truth, float).reshape(-1, 4)[:, None]
    p = np.asarray(pred, float).reshape(-1, 4)[None]
    ih = np.clip(np.minimum(t[..., 2], p[..., 2]) - np.maximum(t[..., 0], p[..., 0]), 0, None)
    iw = np.clip(np.minimum(t[..., 3], p[..., 3]) - np.maximum(t[..., 1], p[..., 1]), 0, None)
    inter = ih * iw
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(t) + area(p) - inter, 1e-9)


def match_boxes(truth: np.ndarray, pred: np.ndarray, iou: float = 0.5) -> list[tuple[int, int]]:
    """One-to-one ``(truth index, pred index)`` pairs with box IoU >= ``iou``, greedy by IoU."""
    m = box_iou(truth, pred)
    if m.size == 0:
        return []
    pairs, used_t, used_p = [], set(), set()
    for a, b in np.dstack(np.unravel_index(np.argsort(-m, axis=None), m.shape))[0]:
        if m[a, b] < iou:
            break
        if a in used_t or b in used_p:
            continue
        used_t.add(int(a))
        used_p.add(int(b))
        pairs.append((int(a), int(b)))
    return pairs
