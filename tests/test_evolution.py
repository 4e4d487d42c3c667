"""Trotterized exchange against the exact propagator."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import commutator
from qiskit.quantum_info import Operator

from qcflow import reference
from qcflow.evolution import evolution_circuit, number_drift, trotter_steps
from qcflow.model import Model

ATOL = 1e-10


def exact_propagator(model: Model, time: float) -> np.ndarray:
    ops = reference.hamiltonian_matrices(model)
    return reference.evolution_matrix(ops["H_A"] + ops["H_B"] + ops["H_I"], time)


def circuit_unitary(model: Model, time: float, dt: float, order: int) -> np.ndarray:
    qc = evolution_circuit(model, time, trotter_dt=dt, trotter_order=order)
    assert qc.num_qubits == model.n_qubits
    return Operator(qc).data


def trotter_error(model: Model, time: float, dt: float, order: int) -> float:
    difference = circuit_unitary(model, time, dt, order) - exact_propagator(model, time)
    return float(np.linalg.norm(difference, 2))


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("dt", [0.05, 0.3, 10.0])
@pytest.mark.parametrize(
    ("n_modes", "hopping"),
    [(1, 0.0), *itertools.product([2, 3], [0.0, 0.6, -0.45])],
)
def test_quadratic_exchange_is_exact_at_any_step(
    n_modes: int, hopping: float, dt: float, order: int
) -> None:
    model = Model(n_modes, energy=0.7, hopping=hopping, coupling=1.3, interaction=0.0)
    time = 0.83
    np.testing.assert_allclose(
        circuit_unitary(model, time, dt, order),
        exact_propagator(model, time),
        atol=ATOL,
    )


# Halving dt divides the error by 2^order; the bands leave room for higher-order terms.
RATIO_BANDS = {1: (1.6, 2.5), 2: (3.2, 5.0)}


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize(
    ("n_modes", "hopping", "interaction"),
    [(2, 0.0, 1.0), (2, 0.5, -0.8), (3, 0.4, 0.6), (3, 0.0, 1.5)],
)
def test_trotter_error_falls_with_the_order(
    n_modes: int, hopping: float, interaction: float, order: int
) -> None:
    model = Model(
        n_modes, energy=0.9, hopping=hopping, coupling=1.0, interaction=interaction
    )
    time, dt = 0.6, 0.1
    coarse = trotter_error(model, time, dt, order)
    fine = trotter_error(model, time, dt / 2, order)
    low, high = RATIO_BANDS[order]
    assert coarse > 1e-6, "the interacting case must have a Trotter error"
    assert low <= coarse / fine <= high


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize(
    ("n_modes", "hopping", "interaction", "dt"),
    [(1, 0.0, 2.0, 0.3), (2, 0.5, 1.0, 0.2), (3, -0.4, 0.7, 0.25), (3, 0.0, 0.0, 1)],
)
def test_evolution_conserves_particle_number_and_bare_energy(
    n_modes: int, hopping: float, interaction: float, dt: float, order: int
) -> None:
    model = Model(
        n_modes, energy=0.4, hopping=hopping, coupling=0.8, interaction=interaction
    )
    ops = reference.hamiltonian_matrices(model)
    u = circuit_unitary(model, 0.9, dt, order)
    np.testing.assert_allclose(u @ u.conj().T, np.eye(len(u)), atol=ATOL)
    n_total = ops["N_A"] + ops["N_B"]
    np.testing.assert_allclose(commutator(u, n_total), 0.0, atol=1e-12)
    assert number_drift(u, n_total) <= 1e-12
    np.testing.assert_allclose(commutator(u, ops["H_A"] + ops["H_B"]), 0.0, atol=ATOL)
    # The exchange moves particles: N_A alone is not conserved.
    assert number_drift(u, ops["N_A"]) > 1e-3


@pytest.mark.parametrize(
    ("time", "dt", "steps"),
    [(0.2, 0.1, 2), (0.25, 0.1, 3), (0.3, 0.1, 3), (0.7, 0.1, 7), (1.0, 0.3, 4)],
)
def test_trotter_steps_rounding(time: float, dt: float, steps: int) -> None:
    assert trotter_steps(time, dt) == steps


@pytest.mark.parametrize(("time", "dt"), [(1e-12, 0.1), (2e-10, 1.0), (1e-3, 1e7)])
def test_positive_time_takes_at_least_one_step(time: float, dt: float) -> None:
    # ceil(time / dt) >= 1 for any time > 0: a positive time is never skipped.
    assert trotter_steps(time, dt) >= 1


@pytest.mark.parametrize("order", [1, 2])
def test_short_time_with_a_long_step_is_still_evolved(order: int) -> None:
    model = Model(2, energy=1.0, hopping=0.5, coupling=1.0, interaction=0.0)
    time, dt = 1e-3, 1e7
    np.testing.assert_allclose(
        circuit_unitary(model, time, dt, order),
        exact_propagator(model, time),
        atol=ATOL,
    )


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("n_modes", [1, 2, 3])
def test_zero_time_is_the_identity(n_modes: int, order: int) -> None:
    model = Model(n_modes, hopping=0.5, interaction=1.0)
    assert trotter_steps(0.0, 0.1) == 0
    np.testing.assert_allclose(
        circuit_unitary(model, 0.0, 0.1, order), np.eye(4**n_modes), atol=ATOL
    )


@pytest.mark.parametrize("order", [0, 3, -1])
def test_bad_trotter_order_is_rejected(order: int) -> None:
    with pytest.raises(ValueError, match=rf"trotter_order = {order} is out of range"):
        evolution_circuit(Model(1), 0.5, trotter_dt=0.1, trotter_order=order)


@pytest.mark.parametrize("time", [-0.1, float("nan"), float("inf")])
def test_bad_time_is_rejected(time: float) -> None:
    with pytest.raises(ValueError, match=rf"time = {time} is out of range"):
        evolution_circuit(Model(2), time, trotter_dt=0.1)
    with pytest.raises(ValueError, match=rf"time = {time} is out of range"):
        trotter_steps(time, 0.1)


@pytest.mark.parametrize("dt", [0.0, -0.2, float("nan")])
def test_bad_trotter_dt_is_rejected(dt: float) -> None:
    with pytest.raises(ValueError, match=rf"trotter_dt = {dt} is out of range"):
        evolution_circuit(Model(2), 0.5, trotter_dt=dt)
    with pytest.raises(ValueError, match=rf"trotter_dt = {dt} is out of range"):
        trotter_steps(0.5, dt)
