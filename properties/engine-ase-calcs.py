"""ASE calculators for properties/engine-ase*.test.ts: one that reports the boundary it was given, and faulty ones.

Each fault only strikes on more than two atoms, so the client's probe (a dimer) passes and the fault happens
mid-run, where it is hardest to handle.
"""
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


def boundary():
    return Boundary()


def fault(mode):
    return Fault(mode)


def broken_factory():
    raise RuntimeError('simulated: model file missing')
