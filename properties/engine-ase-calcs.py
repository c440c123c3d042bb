"""ASE calculators for properties/engine-ase*.test.ts: one that reports the boundary it was given, and faulty ones.

Each fault only strikes on more than two atoms, so the client's probe (a dimer) passes and the fault happens
mid-run, where it is hardest to handle.
"""
import math
import os
import time

import numpy as np
from ase.calculators.calculator import Calculator, all_changes


class Boundary(Calculator):
    """E = number of periodic directions + 0.001 * N; zero forces and stress: shows what pbc reached the calculator."""

    implemented_properties = ['energy', 'forces', 'stress']

    def calculate(self, atoms=None, properties=('energy',), system_changes=all_changes):
        Calculator.calculate(self, atoms, properties, system_changes)
        n = len(self.atoms)
        self.results = {'energy': float(sum(self.atoms.pbc)) + 0.001 * n, 'forces': np.zeros((n, 3)), 'stress': np.zeros(6)}


class Fault(Calculator):
    """A harmonic-ish pair energy that works on a dimer and misbehaves on larger systems, as `mode` says."""

    implemented_properties = ['energy', 'forces']

    def __init__(self, mode, **kw):
        Calculator.__init__(self, **kw)
        self.mode = mode

    def calculate(self, atoms=None, properties=('energy',), system_changes=all_changes):
        Calculator.calculate(self, atoms, properties, system_changes)
        n = len(self.atoms)
        e, f = 0.0, np.zeros((n, 3))
        if n > 2:
            if self.mode == 'raise':
                raise ValueError('simulated failure: model exploded at step 42')
            if self.mode == 'nan':
                f[n // 2, 1] = float('nan')
            if self.mode == 'shape':
                f = np.zeros((n - 1, 3))
            if self.mode == 'hang':
                time.sleep(3600)
            if self.mode == 'die':
                os._exit(7)
        self.results = {'energy': e, 'forces': f}


def exact_stress_emt():
    """ASE's EMT with its stress terms kept apart and summed exactly (math.fsum) instead of in one running 3x3 sum:
    the control for EMT's extensivity result (its virial carries a cell-size-dependent rounding error)."""
    from ase.calculators.emt import EMT

    class Exact(EMT):
        def calculate(self, atoms=None, properties=('energy',), system_changes=all_changes):
            self.terms = []
            EMT.calculate(self, atoms, list(properties), system_changes)
            if 'stress' in properties:
                s = np.array([[math.fsum(t[i, j] for t in self.terms) for j in range(3)] for i in range(3)])
                s = (s + s.T) * (-0.5 / self.atoms.get_volume())
                self.results['stress'] = s.flat[[0, 4, 8, 5, 2, 1]]

        def _kept(self, f, *a):
            saved = self.stress
            self.stress = np.zeros((3, 3))
            f(self, *a)
            self.terms.append(self.stress)
            self.stress = saved

        def interact1(self, *a):
            self._kept(EMT.interact1, *a)

        def interact2(self, *a):
            self._kept(EMT.interact2, *a)

    return Exact()


def boundary():
    return Boundary()


def fault(mode):
    return Fault(mode)


def broken_factory():
    raise RuntimeError('simulated: model file missing')
