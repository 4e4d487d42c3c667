"""qcflow: anomalous particle flow between correlated fermionic subsystems on circuits.

The pipeline, one module a step: :mod:`qcflow.model` (Hamiltonian and initial state),
:mod:`qcflow.encoding` (Jordan-Wigner operators), :mod:`qcflow.preparation`
(purification circuits), :mod:`qcflow.evolution` (Trotterized exchange),
:mod:`qcflow.tomography` (measurement and fit), :mod:`qcflow.quantities` (entropies and
the inequality), :mod:`qcflow.experiment` (the sweep) and :mod:`qcflow.cli`.
Submodules are imported on use, so ``import qcflow`` is cheap.
"""

__version__ = "0.1.0"
