"""Constant-velocity Kalman filter for boxes (SORT / DeepSORT / ByteTrack motion model).

The generic filter (Kalman 1960) with state mean ``x``, covariance ``P``, transition ``F``,
process noise ``Q``, measurement matrix ``H`` and measurement noise ``R``::

    predict:  x' = F x            P' = F P F^T + Q
    update:   S = H P' H^T + R    K = P' H^T S^-1
              x = x' + K (z - H x')    P = (I - K H) P'

:func:`kf_predict` and :func:`kf_update` implement exactly these equations, batched over ``N``
tracks with NumPy. :class:`BoxKalmanFilter` applies them to boxes.

OUR DESIGN CHOICES: the box state is ``(cx, cy, w, h)`` plus their velocities (8 numbers; the
``w, h`` form, as in BoT-SORT, rather than DeepSORT's aspect ratio, because our sprites change
width and height independently); one frame per step; noise standard deviations proportional to
the box size (DeepSORT's idea) with the factors in :class:`KalmanConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config


def kf_predict(mean: np.ndarray, cov: np.ndarray, transition: np.ndarray,
               process_noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kalman predict for ``mean (N, n)``, ``cov (N, n, n)``, ``F (n, n)``, ``Q (N, n, n)``."""
    mean = mean @ transition.T  # (N, n)
    cov = transition @ cov @ transition.T + process_noise  # (N, n, n)
    return mean, cov


def kf_update(mean: np.ndarray, cov: np.ndarray, z: np.ndarray, measure: np.ndarray,
              measure_noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kalman update with measurements ``z (N, m)``, ``H (m, n)``, ``R (N, m, m)``."""
    s = measure @ cov @ measure.T + measure_noise  # (N, m, m) innovation covariance
    gain = np.linalg.solve(s, (cov @ measure.T).transpose(0, 2, 1)).transpose(0, 2, 1)  # (N, n, m)
    innovation = z - mean @ measure.T  # (N, m)
    mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    cov = cov - gain @ measure @ cov
    return mean, cov


@dataclass
class KalmanConfig(Config):
    """Noise factors (OUR CHOICE, DeepSORT-style: std = factor * box size, per frame)."""

    std_position: float = 1.0 / 20
    std_velocity: float = 1.0 / 160
    std_measurement: float = 1.0 / 20
    init_velocity_factor: float = 10.0  # initial velocity std = factor * std_velocity * size


class BoxKalmanFilter:
    """Constant-velocity filter on ``(cx, cy, w, h, vcx, vcy, vw, vh)``, batched over tracks.

    Measurements are ``cxcywh`` boxes ``(N, 4)``; states ``(N, 8)``, covariances ``(N, 8, 8)``.
    """

    ndim = 4

    def __init__(self, cfg: KalmanConfig | None = None):
        self.cfg = cfg or KalmanConfig()
        n = self.ndim
        self.transition = np.eye(2 * n)
        self.transition[:n, n:] = np.eye(n)  # x += v (one frame)
        self.measure = np.eye(n, 2 * n)

    def _size(self, boxes: np.ndarray) -> np.ndarray:
        """``(N, 4)`` scale per coordinate: ``(w, h, w, h)``, never below 1 pixel."""
        wh = np.maximum(boxes[:, 2:4], 1.0)
        return np.concatenate([wh, wh], axis=1)

    def initiate(self, boxes_cxcywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New states at ``boxes_cxcywh (N, 4)`` with zero velocity."""
        z = np.asarray(boxes_cxcywh, np.float64).reshape(-1, 4)
        mean = np.concatenate([z, np.zeros_like(z)], axis=1)
        size = self._size(z)
        std = np.concatenate([2 * self.cfg.std_position * size,
                              self.cfg.init_velocity_factor * self.cfg.std_velocity * size], axis=1)
        return mean, _diag(std**2)

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One frame ahead for ``mean (N, 8)``, ``cov (N, 8, 8)``."""
        if len(mean) == 0:
            return mean, cov
        size = self._size(mean[:, :4])
        std = np.concatenate([self.cfg.std_position * size, self.cfg.std_velocity * size], axis=1)
        return kf_predict(mean, cov, self.transition, _diag(std**2))

    def project(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted measurement ``(N, 4)`` and its covariance ``(N, 4, 4)`` (with ``R``)."""
        r = _diag((self.cfg.std_measurement * self._size(mean[:, :4])) ** 2)
        return mean @ self.measure.T, self.measure @ cov @ self.measure.T + r

    def update(self, mean: np.ndarray, cov: np.ndarray, boxes_cxcywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct ``mean (N, 8)``, ``cov (N, 8, 8)`` with measured ``boxes_cxcywh (N, 4)``."""
        if len(mean) == 0:
            return mean, cov
        r = _diag((self.cfg.std_measurement * self._size(mean[:, :4])) ** 2)
        return kf_update(mean, cov, np.asarray(boxes_cxcywh, np.float64), self.measure, r)

    def gating_distance(self, mean: np.ndarray, cov: np.ndarray, boxes_cxcywh: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance ``(N, M)`` of ``M`` measurements to ``N`` predicted tracks.

        Compare with a chi-square quantile at 4 degrees of freedom to gate unlikely pairs.
        """
        z_mean, z_cov = self.project(mean, cov)  # (N, 4), (N, 4, 4)
        d = np.asarray(boxes_cxcywh, np.float64)[None, :, :] - z_mean[:, None, :]  # (N, M, 4)
        sol = np.linalg.solve(z_cov[:, None], d[..., None])[..., 0]  # (N, M, 4)
        return np.einsum("nmi,nmi->nm", d, sol)


def _diag(values: np.ndarray) -> np.ndarray:
    """``(N, n)`` -> ``(N, n, n)`` diagonal matrices."""
    out = np.zeros(values.shape + values.shape[-1:])
    idx = np.arange(values.shape[-1])
    out[..., idx, idx] = values
    return out
