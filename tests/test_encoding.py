"""Jordan-Wigner encoding: mode algebra, operators of the model, qubit order."""

from __future__ import annotations

import itertools
from functools import reduce

import numpy as np
import pytest
from conftest import commutator, expectation, popcount, random_density
from qiskit.quantum_info import DensityMatrix, partial_trace

from qcflow import reference
from qcflow.encoding import (
    annihilation_op,
    creation_op,
    hopping_op,
    number_op,
    operators,
)
from qcflow.model import Model

ATOL = 1e-12

MODELS = [
    Model(n_modes=1, energy=1.0, hopping=0.0, coupling=1.0, interaction=0.0),
    Model(n_modes=1, energy=-0.4, hopping=0.0, coupling=0.3, interaction=1.7),
    Model(n_modes=2, energy=0.8, hopping=0.5, coupling=0.7, interaction=0.0),
    Model(n_modes=2, energy=0.0, hopping=-0.3, coupling=1.2, interaction=0.8),
    Model(n_modes=3, energy=1.3, hopping=0.9, coupling=-0.5, interaction=-1.1),
    Model(n_modes=3, energy=-0.6, hopping=0.0, coupling=1.0, interaction=2.0),
    Model(n_modes=4, energy=0.5, hopping=-0.7, coupling=0.6, interaction=0.4),
]


def jw_matrices(n_qubits: int) -> list[np.ndarray]:
    return [annihilation_op(j, n_qubits).to_matrix() for j in range(n_qubits)]


def dense_operators(model: Model) -> dict[str, np.ndarray]:
    ops = operators(model)
    return {
        "N_A": ops.n_a.to_matrix(),
        "N_B": ops.n_b.to_matrix(),
        "H_A": ops.h_a.to_matrix(),
        "H_B": ops.h_b.to_matrix(),
        "H_I": ops.h_i.to_matrix(),
        "H": ops.hamiltonian.to_matrix(),
    }


@pytest.mark.parametrize("n_qubits", range(1, 7))
def test_canonical_anticommutation_relations(n_qubits: int) -> None:
    c = jw_matrices(n_qubits)
    eye = np.eye(2**n_qubits)
    for i, j in itertools.product(range(n_qubits), repeat=2):
        ci, cj_dag = c[i], c[j].conj().T
        np.testing.assert_allclose(
            ci @ cj_dag + cj_dag @ ci, eye * (i == j), atol=ATOL, err_msg=f"{i},{j}"
        )
        np.testing.assert_allclose(
            ci @ c[j] + c[j] @ ci, 0.0, atol=ATOL, err_msg=f"{i},{j}"
        )


@pytest.mark.parametrize("n_qubits", range(1, 7))
def test_mode_operators_match_kronecker_reference(n_qubits: int) -> None:
    for j, (fast, slow) in enumerate(
        zip(jw_matrices(n_qubits), reference.mode_matrices(n_qubits), strict=True)
    ):
        np.testing.assert_allclose(fast, slow, atol=ATOL, err_msg=f"mode {j}")
        np.testing.assert_allclose(
            creation_op(j, n_qubits).to_matrix(), slow.conj().T, atol=ATOL
        )


@pytest.mark.parametrize("n_qubits", range(1, 5))
def test_annihilation_empties_the_bit_of_its_qubit(n_qubits: int) -> None:
    # |1> on qubit j is an occupied mode j: c_j maps |s> to +-|s - 2^j> if bit j is set.
    for j, c in enumerate(jw_matrices(n_qubits)):
        for s in range(2**n_qubits):
            column = c[:, s]
            if s >> j & 1:
                sign = (-1) ** popcount(np.array(s & ((1 << j) - 1)))
                expected = np.zeros(2**n_qubits)
                expected[s - (1 << j)] = sign
                np.testing.assert_allclose(column, expected, atol=ATOL)
            else:
                np.testing.assert_allclose(column, 0.0, atol=ATOL)


@pytest.mark.parametrize("mode", [-1, 3, 4])
def test_annihilation_rejects_mode_out_of_range(mode: int) -> None:
    with pytest.raises(ValueError, match=rf"mode = {mode} is out of range.*0\.\.2"):
        annihilation_op(mode, 3)


@pytest.mark.parametrize("n_qubits", [2, 3, 5])
def test_hopping_between_any_two_modes_matches_reference(n_qubits: int) -> None:
    c = reference.mode_matrices(n_qubits)
    for i, j in itertools.combinations(range(n_qubits), 2):
        expected = c[i].conj().T @ c[j] + c[j].conj().T @ c[i]
        np.testing.assert_allclose(
            hopping_op(i, j, n_qubits).to_matrix(), expected, atol=ATOL
        )


@pytest.mark.parametrize("n_modes", range(1, 5))
def test_number_operators_count_the_bits_of_each_block(n_modes: int) -> None:
    ops = operators(Model(n_modes=n_modes))
    index = np.arange(4**n_modes)
    expected_a = popcount(index & ((1 << n_modes) - 1))  # A: qubits 0..M-1
    expected_b = popcount(index >> n_modes)  # B: qubits M..2M-1
    for op, expected in ((ops.n_a, expected_a), (ops.n_b, expected_b)):
        matrix = op.to_matrix()
        np.testing.assert_allclose(matrix, np.diag(expected), atol=ATOL)
        np.testing.assert_allclose(
            np.linalg.eigvalsh(matrix), np.sort(expected), atol=ATOL
        )


def test_number_op_of_explicit_modes() -> None:
    n = 4
    c = reference.mode_matrices(n)
    modes = [0, 2, 3]
    expected = sum(c[j].conj().T @ c[j] for j in modes)
    np.testing.assert_allclose(number_op(modes, n).to_matrix(), expected, atol=ATOL)


@pytest.mark.parametrize("model", MODELS)
def test_operators_match_reference_hamiltonian(model: Model) -> None:
    fast = dense_operators(model)
    slow = reference.hamiltonian_matrices(model)
    for name in ("N_A", "N_B", "H_A", "H_B", "H_I"):
        np.testing.assert_allclose(fast[name], slow[name], atol=ATOL, err_msg=name)
    np.testing.assert_allclose(
        fast["H"], slow["H_A"] + slow["H_B"] + slow["H_I"], atol=ATOL
    )


@pytest.mark.parametrize("model", [m for m in MODELS if m.n_modes <= 3])
def test_exchange_conserves_bare_energy_and_particle_number(model: Model) -> None:
    ops = dense_operators(model)
    h_0 = ops["H_A"] + ops["H_B"]
    n_total = ops["N_A"] + ops["N_B"]
    np.testing.assert_allclose(commutator(h_0, ops["H_I"]), 0.0, atol=ATOL)
    np.testing.assert_allclose(commutator(n_total, ops["H"]), 0.0, atol=ATOL)
    # The checks can fail: each subsystem's number alone is not conserved for g != 0.
    assert np.abs(commutator(ops["N_A"], ops["H"])).max() > 0.1 * abs(model.coupling)


def even_part(rho: np.ndarray) -> np.ndarray:
    """``P+ rho P+ + P- rho P-`` for the total parity, renormalised."""
    n = int(np.log2(rho.shape[0]))
    parity = (-1) ** popcount(np.arange(2**n))
    even = np.outer(parity, parity) > 0
    out = np.where(even, rho, 0.0)
    return out / np.trace(out).real


def monomials(modes: list[np.ndarray]) -> list[np.ndarray]:
    """Every product over ``modes`` of one of ``1, c, c^dag, c^dag c`` per mode."""
    dim = modes[0].shape[0]
    out = []
    for choice in itertools.product(range(4), repeat=len(modes)):
        factors = []
        for c, k in zip(modes, choice, strict=True):
            factors.append([np.eye(dim), c, c.conj().T, c.conj().T @ c][k])
        out.append(reduce(np.matmul, factors))
    return out


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_modes", [1, 2, 3])
def test_qubit_partial_trace_is_fermionic_for_parity_even_states(
    seed: int, n_modes: int
) -> None:
    rng = np.random.default_rng(seed)
    m = n_modes
    rho = even_part(random_density(rng, 4**m))
    full = jw_matrices(2 * m)
    local = reference.mode_matrices(m)
    blocks = {
        "A": (full[:m], list(range(m, 2 * m))),  # trace out B
        "B": (full[m:], list(range(m))),  # trace out A
    }
    for name, (modes, traced) in blocks.items():
        rho_x = partial_trace(DensityMatrix(rho), traced).data
        for k, (op_full, op_local) in enumerate(
            zip(monomials(modes), monomials(local), strict=True)
        ):
            assert expectation(op_full, rho) == pytest.approx(
                expectation(op_local, rho_x), abs=ATOL
            ), f"{name} monomial {k}"


def test_interleaved_mode_order_breaks_the_qubit_partial_trace() -> None:
    # Modes a0, b0, a1, b1 on qubits 0, 1, 2, 3: the string of a0^dag a1 crosses b0.
    c = reference.mode_matrices(4)
    a0, b0, a1 = c[0], c[1], c[2]
    vacuum = np.zeros(16)
    vacuum[0] = 1.0
    psi = (a0.conj().T + a1.conj().T) @ b0.conj().T @ vacuum / np.sqrt(2)
    rho = np.outer(psi, psi.conj())
    full_value = expectation(a0.conj().T @ a1, rho)

    rho_a = partial_trace(DensityMatrix(rho), [1, 3]).data
    local = reference.mode_matrices(2)
    interleaved_value = expectation(local[0].conj().T @ local[1], rho_a)
    assert abs(full_value) > 0.25
    assert interleaved_value == pytest.approx(-full_value, abs=ATOL)

    # The same state in the block order a0, a1, b0, b1 gives the right answer.
    a0, a1, b0 = c[0], c[1], c[2]
    psi = (a0.conj().T + a1.conj().T) @ b0.conj().T @ vacuum / np.sqrt(2)
    rho = np.outer(psi, psi.conj())
    rho_a = partial_trace(DensityMatrix(rho), [2, 3]).data
    assert expectation(local[0].conj().T @ local[1], rho_a) == pytest.approx(
        expectation(a0.conj().T @ a1, rho), abs=ATOL
    )
