"""Thermal RC network integrated exactly.

Nodes i carry heat capacities C_i (J/K); links carry thermal resistances (K/W) between nodes or to ambient. With
x = T - T_ambient the network is linear, C dx/dt = -L x + p, where L is the conductance Laplacian (plus each node's
conductance to ambient on the diagonal). For power held constant over a step h the exact solution is

    x(t + h) = x_ss + exp(-C^-1 L h) (x(t) - x_ss),   x_ss = L^-1 p.

C^-1/2 L C^-1/2 is symmetric positive definite, so one eigendecomposition gives exp() for every step size, exact
and unconditionally stable (no explicit-Euler blow-up for long steps or stiff package/die pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgesim.errors import ProfileError

AMBIENT = "ambient"


@dataclass(frozen=True)
class RCLink:
    a: str
    b: str  # a node name or "ambient"
    resistance_k_per_w: float


class ThermalNetwork:
    """An N-node RC network. Temperatures in degrees C; power in W per node."""

    def __init__(self, nodes: Sequence[tuple[str, float]], links: Sequence[RCLink], ambient_c: float) -> None:
        self.names = [n for n, _ in nodes]
        self.index = {n: i for i, n in enumerate(self.names)}
        if len(self.index) != len(self.names):
            raise ProfileError("thermal node names must be unique", field="thermal.nodes")
        cap = np.array([c for _, c in nodes], dtype=float)
        if np.any(cap <= 0):
            raise ProfileError("thermal capacitances must be positive", field="thermal.nodes")
        self.capacitance = cap
        self.ambient_c = float(ambient_c)
        self._links = list(links)
        self._set_conductance(self._laplacian(self._links))

    def _laplacian(self, links: Sequence[RCLink]) -> np.ndarray:
        n = len(self.names)
        lap = np.zeros((n, n))
        for link in links:
            if link.resistance_k_per_w <= 0:
                raise ProfileError(f"link {link.a}-{link.b} needs a positive resistance", field="thermal.links")
            g = 1.0 / link.resistance_k_per_w
            i = self._node(link.a)
            if link.b == AMBIENT:
                lap[i, i] += g
                continue
            j = self._node(link.b)
            lap[i, i] += g
            lap[j, j] += g
            lap[i, j] -= g
            lap[j, i] -= g
        return lap

    def _node(self, name: str) -> int:
        try:
            return self.index[name]
        except KeyError:
            raise ProfileError(f"thermal link names unknown node '{name}'", field="thermal.links") from None

    def _set_conductance(self, lap: np.ndarray) -> None:
        s_inv = 1.0 / np.sqrt(self.capacitance)
        sym = lap * s_inv[:, None] * s_inv[None, :]
        eigvals, eigvecs = np.linalg.eigh(sym)
        if eigvals.min() <= 0:
            raise ProfileError("every thermal node needs a path to ambient", field="thermal.links")
        self._lap = lap
        self._eigvals = eigvals
        self._eigvecs = eigvecs
        self._s_inv = s_inv

    def with_resistance_scale(self, link_index: int, scale: float) -> ThermalNetwork:
        """The same network with one link's resistance multiplied (a fan changing sink-to-air resistance)."""
        links = list(self._links)
        old = links[link_index]
        links[link_index] = RCLink(old.a, old.b, old.resistance_k_per_w * scale)
        return ThermalNetwork(list(zip(self.names, self.capacitance, strict=True)), links, self.ambient_c)

    def power_vector(self, power_w: dict[str, float] | float, node: str | None = None) -> np.ndarray:
        p = np.zeros(len(self.names))
        if isinstance(power_w, dict):
            for k, v in power_w.items():
                p[self._node(k)] += v
        else:
            p[self._node(node or self.names[0])] += float(power_w)
        return p

    def steady_state(self, power: np.ndarray) -> np.ndarray:
        """Temperatures (C) the network settles at under constant power."""
        return self.ambient_c + np.linalg.solve(self._lap, power)

    def step(self, temps_c: np.ndarray, power: np.ndarray, dt_s: float) -> np.ndarray:
        """Exact temperatures after holding ``power`` for ``dt_s`` seconds (any dt >= 0)."""
        x_ss = np.linalg.solve(self._lap, power)
        x = np.asarray(temps_c, dtype=float) - self.ambient_c
        # exp(-C^-1 L t) = C^-1/2 V exp(-Lambda t) V^T C^1/2
        y = (x - x_ss) / self._s_inv
        y = self._eigvecs @ (np.exp(-self._eigvals * dt_s) * (self._eigvecs.T @ y))
        return self.ambient_c + x_ss + y * self._s_inv

    def time_constants_s(self) -> np.ndarray:
        return 1.0 / self._eigvals

    def initial(self) -> np.ndarray:
        return np.full(len(self.names), self.ambient_c)
