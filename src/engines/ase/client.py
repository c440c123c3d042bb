#!/usr/bin/env python3
"""mlip-verify's i-PI client for ASE calculators.

Serves any ASE calculator to an i-PI server (mlip-verify's `--engine ipi:...`, or i-PI itself): for every POSDATA it
evaluates energy, forces and (when the calculator implements stress) the virial W = -V * stress, for whatever atom
count, cell and boundary the server sends. ASE's own SocketClient cannot do this: it keeps the Atoms it was started
with, so a frame with another atom count fails to broadcast into it.

mlip-verify starts this file itself for `--engine ase:<module>:<callable>`. By hand, for a calculator that lives in
another Python environment (a conda env with a GPU model):

    mlip-verify check --engine ipi:unix:/tmp/mymodel --cutoff 5.0 --units ase --lattice fcc
    python3 client.py --calc my_module:make_calc --args '{"device": "cuda"}' --element Cu --unix /tmp/mymodel

`--unix` takes the socket path exactly as `ipi:unix:<path>` does (ASE and LAMMPS prepend /tmp/ipi_ to a bare name;
we do not). `--host`/`--port` connect over TCP instead.

Boundary: the i-PI protocol is always periodic. mlip-verify (ase: engines) sends each frame's periodicity as the INIT
string, JSON {"pbc": [bool, bool, bool]}; open clusters are then evaluated with pbc=False (the cell is kept as a vacuum
box, so stress x volume stays defined). Any other INIT string (i-PI, or `ipi:` engines) means fully periodic.

Units: the wire is atomic units; we convert with this ASE's own ase.units (Bohr, Ha), which `--probe` reports so the
server can use exactly the same constants.

Failures: a calculator that raises, or returns results of the wrong shape, ends the client with exit code 3 after
writing one line `MLIPV-ERROR {"kind": ..., "message": ...}` to stderr (and the same JSON to --error-file), which
mlip-verify turns into a typed EngineError. NaN results are sent as they are: the server rejects them, naming the atom.
The client exits when the server sends EXIT, when the socket closes, or when its parent process dies (--parent-pid).
"""
import argparse
import importlib
import importlib.util
import json
import math
import os
import shutil
import socket
import struct
import sys
import threading
import time
import traceback

MARK = 'MLIPV-ERROR '
PROBE = 'MLIPV-PROBE '
HEADER = 12
ERROR_FILE = None


def fail(kind, message, code=3):
    """Report a typed failure (stderr line + error file) and exit at once."""
    data = {'kind': kind, 'message': message}
    line = MARK + json.dumps(data)
    if ERROR_FILE:
        try:
            tmp = ERROR_FILE + '.tmp'
            with open(tmp, 'w') as f:
                f.write(json.dumps(data))
            os.replace(tmp, ERROR_FILE)
        except OSError:
            pass
    try:
        sys.stderr.write(line + '\n')
        sys.stderr.flush()
        sys.stdout.flush()
    finally:
        os._exit(code)


def short_traceback(limit=1500):
    t = traceback.format_exc()
    return t if len(t) <= limit else '...' + t[-limit:]


try:
    import numpy as np
except Exception as e:  # noqa: BLE001 (any import failure means the same to the user)
    np = None
    _numpy_error = e
else:
    _numpy_error = None


def import_ase():
    if np is None:
        fail('ase-missing', 'numpy cannot be imported by %s: %s' % (sys.executable, _numpy_error))
    try:
        import ase
        from ase import Atoms, units
    except Exception as e:  # noqa: BLE001
        fail('ase-missing', 'ASE cannot be imported by %s (Python %s): %s; install it (Debian: scripts/install-ase.sh, '
             'or pip install ase) or point --python at an interpreter that has it'
             % (sys.executable, sys.version.split()[0], e))
    return ase, Atoms, units


def load_factory(spec):
    """`module:callable` or `path/to/file.py:callable`; the callable may be dotted (Class.method)."""
    mod_name, sep, attr = spec.rpartition(':')
    if not sep or not mod_name or not attr:
        fail('config', "calculator spec '%s' must be <module>:<callable>" % spec)
    try:
        if mod_name.endswith('.py') or os.sep in mod_name:
            if not os.path.exists(mod_name):
                fail('calculator-not-found', "calculator file '%s' not found" % mod_name)
            s = importlib.util.spec_from_file_location('mlipv_calc_module', mod_name)
            module = importlib.util.module_from_spec(s)
            s.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name and (mod_name == e.name or mod_name.startswith(e.name + '.')):
            fail('calculator-not-found', "module '%s' not found by %s (%s)" % (mod_name, sys.executable, e))
        fail('calculator-error', "importing '%s' failed: %s\n%s" % (mod_name, e, short_traceback()))
    except Exception as e:  # noqa: BLE001
        fail('calculator-error', "importing '%s' raised %s: %s\n%s" % (mod_name, type(e).__name__, e, short_traceback()))
    obj = module
    for part in attr.split('.'):
        if not hasattr(obj, part):
            fail('calculator-not-found', "module '%s' has no attribute '%s'" % (mod_name, attr))
        obj = getattr(obj, part)
    if not callable(obj):
        fail('calculator-not-found', "'%s' in module '%s' is not callable" % (attr, mod_name))
    return obj


def make_calculator(spec, kwargs):
    factory = load_factory(spec)
    try:
        calc = factory(**kwargs)
    except Exception as e:  # noqa: BLE001
        fail('calculator-error', '%s(**%s) raised %s: %s\n%s' % (spec, json.dumps(kwargs), type(e).__name__, e, short_traceback()))
    if not hasattr(calc, 'get_potential_energy') and not hasattr(calc, 'get_property'):
        fail('calculator-not-found', "%s returned %s, which is not an ASE calculator" % (spec, type(calc).__name__))
    return calc


def implements_stress(calc):
    props = getattr(calc, 'implemented_properties', None)
    return props is None or 'stress' in props


def find_cutoff(calc):
    """The calculator's interaction range, where it says (after one evaluation), with where it came from."""
    name = type(calc).__name__
    params = getattr(calc, 'parameters', None) or {}
    # EMT: the Fermi cut-off centre is rc, the neighbour list (the real range) rc_list = rc + 0.5 (or 1.045 rc).
    for attr in ('rc_list',):
        v = getattr(calc, attr, None)
        if isinstance(v, (int, float)) and v > 0:
            return float(v), '%s.%s' % (name, attr)
    # ASE MorsePotential: smooth switch between rcut1 and rcut2.
    if 'rcut2' in params:
        return float(params['rcut2']), '%s.parameters.rcut2' % name
    for key in ('rc', 'cutoff', 'r_cut', 'rcut', 'r_max'):
        v = params.get(key) if hasattr(params, 'get') else None
        if isinstance(v, (int, float)) and v > 0:
            return float(v), '%s.parameters.%s' % (name, key)
    for key in ('cutoff', 'r_max', 'rc', 'r_cut', 'rcut', 'cutoff_radius'):
        v = getattr(calc, key, None)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
            return float(v), '%s.%s' % (name, key)
        if np is not None and isinstance(v, np.ndarray) and v.size == 1 and float(v) > 0:
            return float(v), '%s.%s' % (name, key)
    return None, None


def default_element(calc):
    els = getattr(calc, 'elements', None)  # ase.calculators.eam.EAM reads them from the file
    if isinstance(els, (list, tuple)) and len(els) == 1 and isinstance(els[0], str):
        return els[0], '%s.elements' % type(calc).__name__
    return 'Cu', 'default'


class Evaluator:
    """Keeps one Atoms object and rebuilds it when the atom count or the boundary changes."""

    def __init__(self, calc, element, Atoms, units, stress):
        self.calc = calc
        self.element = element
        self.Atoms = Atoms
        self.units = units
        self.stress = stress
        self.atoms = None
        self.pbc = (True, True, True)
        self.evaluations = 0
        self.seconds = 0.0
        self.last_seconds = 0.0
        self.first_seconds = 0.0

    def compute_together(self, a):
        """One calculate() for energy, forces and stress together, where the calculator is an ase Calculator.

        get_potential_energy / get_forces / get_stress each ask calculate() for their one property; a calculator that
        computes stress only when asked (EMT, ASE 3.22) then runs its whole loop a second time for the stress, which
        doubled every evaluation (measured: EMT on 1,724 atoms, 7.0 s for energy and forces, 12.7 s with the stress).
        The getters afterwards read the stored results. Other calculators keep the getters' own path.
        """
        calc = self.calc
        if not (hasattr(calc, 'check_state') and hasattr(calc, 'calculate') and hasattr(calc, 'results')):
            return
        props = ['energy', 'forces'] + (['stress'] if self.stress else [])
        changes = calc.check_state(a)
        if changes:
            calc.reset()
        if any(p not in calc.results for p in props):
            calc.calculate(a, props, changes)

    def __call__(self, cell, positions):
        """cell rows and positions in Angstrom -> energy (eV), forces (eV/A, n x 3), virial (eV, 3 x 3) or None."""
        n = len(positions)
        a = self.atoms
        if a is None or len(a) != n or tuple(a.pbc) != self.pbc:
            a = self.Atoms(self.element + str(n) if n > 0 else '', positions=positions, cell=cell, pbc=self.pbc)
            a.calc = self.calc
            self.atoms = a
        else:
            a.set_cell(cell, scale_atoms=False)
            a.set_positions(positions)
        t0 = time.perf_counter()
        try:
            self.compute_together(a)
            energy = a.get_potential_energy()
            forces = a.get_forces()
            virial = None
            if self.stress:
                s = np.asarray(a.get_stress(voigt=False), dtype=float)
                if s.shape == (6,):  # Voigt: xx yy zz yz xz xy
                    s = np.array([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])
                if s.shape != (3, 3):
                    fail('bad-size', 'calculator returned a stress of shape %s (expected 3x3 or Voigt 6)' % (s.shape,))
                # ASE: stress = (1/V) dE/d(strain). The virial W = -dE/d(strain) = -V * stress (i-PI's and ours).
                virial = -a.get_volume() * s
        except SystemExit:
            raise
        except Exception as e:  # noqa: BLE001
            fail('calculator-error', 'the calculator raised %s on %d atoms (pbc %s): %s\n%s'
                 % (type(e).__name__, n, list(self.pbc), e, short_traceback()))
        self.last_seconds = time.perf_counter() - t0
        if self.evaluations == 0:
            self.first_seconds = self.last_seconds
        self.seconds += self.last_seconds
        self.evaluations += 1
        try:
            energy = float(np.asarray(energy, dtype=float).reshape(()))
        except (TypeError, ValueError):
            fail('bad-size', 'calculator returned an energy of shape %s (expected a scalar)' % (np.shape(energy),))
        forces = np.asarray(forces, dtype=float)
        if forces.shape != (n, 3):
            fail('bad-size', 'calculator returned forces of shape %s for %d atoms (expected (%d, 3))' % (forces.shape, n, n))
        return energy, forces, virial


def parse_pbc(init):
    try:
        d = json.loads(init)
        p = d.get('pbc') if isinstance(d, dict) else None
        if isinstance(p, list) and len(p) == 3 and all(isinstance(x, bool) for x in p):
            return tuple(p)
    except ValueError:
        pass
    return (True, True, True)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def serve(sock, evaluate, units):
    """The i-PI client loop. Returns on EXIT or when the server closes the socket."""
    state = 'NEEDINIT'
    result = None
    bohr, ha = units.Bohr, units.Ha
    while True:
        h = recv_exact(sock, HEADER)
        if h is None:
            return 'closed'
        msg = h.decode('ascii', 'replace').strip()
        if msg == 'STATUS':
            sock.sendall(state.ljust(HEADER).encode('ascii'))
        elif msg == 'INIT':
            b = recv_exact(sock, 8)
            if b is None:
                return 'closed'
            _bead, ln = struct.unpack('<ii', b)
            s = recv_exact(sock, ln) if ln > 0 else b''
            if s is None:
                return 'closed'
            evaluate.pbc = parse_pbc(s.decode('utf8', 'replace'))
            state = 'READY'
        elif msg == 'POSDATA':
            b = recv_exact(sock, 9 * 8 * 2 + 4)
            if b is None:
                return 'closed'
            h = np.frombuffer(b[:72], dtype='<f8').reshape(3, 3)  # columns are the cell vectors
            n = struct.unpack('<i', b[144:148])[0]
            p = recv_exact(sock, 24 * n) if n > 0 else b''
            if p is None:
                return 'closed'
            cell = h.T * bohr
            pos = np.frombuffer(p, dtype='<f8').reshape(n, 3) * bohr
            result = evaluate(cell, pos)
            state = 'HAVEDATA'
        elif msg == 'GETFORCE':
            energy, forces, virial = result
            n = len(forces)
            w = np.zeros((3, 3)) if virial is None else virial
            extra = json.dumps({'virial': virial is not None, 'seconds': evaluate.last_seconds}).encode('utf8')
            out = bytearray('FORCEREADY'.ljust(HEADER).encode('ascii'))
            out += struct.pack('<d', energy / ha)
            out += struct.pack('<i', n)
            out += np.ascontiguousarray(forces * (bohr / ha), dtype='<f8').tobytes()
            out += np.ascontiguousarray(w / ha, dtype='<f8').tobytes()
            out += struct.pack('<i', len(extra)) + extra
            sock.sendall(bytes(out))
            result = None
            state = 'NEEDINIT'  # as ASE's client: ask for INIT (and with it the boundary) before every frame
        elif msg == 'EXIT':
            return 'exit'
        else:
            fail('unexpected-message', 'server sent an unknown header %r' % h)


def watch_parent(pid, cleanup_dir=None):
    """Exit when the process that started us is gone (getppid changes when we are re-parented); a parent killed
    outright left its work directory behind (socket, error and stats files), so remove it."""
    def loop():
        while True:
            time.sleep(0.25)
            if os.getppid() != pid:
                if cleanup_dir:
                    shutil.rmtree(cleanup_dir, ignore_errors=True)
                os._exit(4)
    threading.Thread(target=loop, daemon=True).start()


def main():
    global ERROR_FILE
    ap = argparse.ArgumentParser(description='Serve an ASE calculator to an i-PI server (mlip-verify).')
    ap.add_argument('--calc', required=True, help='<module>:<callable> (or <file.py>:<callable>) returning an ASE calculator')
    ap.add_argument('--args', default='{}', help='keyword arguments of the callable, as a JSON object')
    ap.add_argument('--element', default=None, help='chemical symbol of the atoms (default: the calculator\'s only element, else Cu)')
    ap.add_argument('--unix', default=None, help='UNIX socket path of the server (exactly as in ipi:unix:<path>)')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=None)
    ap.add_argument('--probe', action='store_true', help='print what the calculator is (JSON) and exit')
    ap.add_argument('--error-file', default=None, help='also write a failure as JSON here')
    ap.add_argument('--parent-pid', type=int, default=None, help='exit when this process (our parent) dies')
    ap.add_argument('--cleanup-dir', default=None, help='with --parent-pid: remove this directory if the parent dies')
    ap.add_argument('--stats-file', default=None, help='on leaving, write {evaluations, seconds, first} of the calculator here')
    ap.add_argument('--connect-timeout', type=float, default=60.0)
    o = ap.parse_args()
    ERROR_FILE = o.error_file
    if o.parent_pid is not None:
        if os.getppid() != o.parent_pid:
            os._exit(4)
        watch_parent(o.parent_pid, o.cleanup_dir)
    try:
        kwargs = json.loads(o.args)
    except ValueError as e:
        fail('config', 'calculator arguments are not valid JSON (%s): %s' % (e, o.args))
    if not isinstance(kwargs, dict):
        fail('config', 'calculator arguments must be a JSON object, got %s' % o.args)
    ase, Atoms, units = import_ase()
    calc = make_calculator(o.calc, kwargs)
    element, element_source = (o.element, 'given') if o.element else default_element(calc)
    stress = implements_stress(calc)
    ev = Evaluator(calc, element, Atoms, units, stress)
    if o.probe:
        # One evaluation: a dimer in a box, so the calculator initialises (EMT sets its cutoff then) and any failure
        # to evaluate at all shows up here, before a server is involved.
        ev.pbc = (False, False, False)
        ev(np.eye(3) * 12.0, np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 2.3]]))
        cutoff, source = find_cutoff(calc)
        print(PROBE + json.dumps({
            'python': sys.executable, 'pythonVersion': sys.version.split()[0], 'ase': ase.__version__,
            'numpy': np.__version__, 'calculator': type(calc).__module__ + '.' + type(calc).__name__,
            'implemented': list(getattr(calc, 'implemented_properties', []) or []), 'stress': stress,
            'cutoff': cutoff, 'cutoffSource': source, 'element': element, 'elementSource': element_source,
            'bohr': units.Bohr, 'hartree': units.Ha,
        }))
        sys.stdout.flush()
        return 0
    if o.unix:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr = o.unix
    elif o.port is not None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        addr = (o.host, o.port)
    else:
        fail('config', 'give the server address: --unix <path> or --port <port> [--host <host>]')
    deadline = time.time() + o.connect_timeout
    while True:
        try:
            sock.connect(addr)
            break
        except OSError as e:
            if time.time() > deadline:
                fail('disconnected', 'cannot connect to the i-PI server at %s: %s' % (addr, e))
            time.sleep(0.05)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) if not o.unix else None
    how = 'closed'
    try:
        how = serve(sock, ev, units)
    except (ConnectionError, BrokenPipeError):
        pass  # the server went away: nothing left to serve
    finally:
        sock.close()
        if o.stats_file:
            # The calculator's own time (energy, forces, stress calls), so callers can tell it from the socket's.
            tmp = o.stats_file + '.tmp'
            try:
                with open(tmp, 'w') as f:
                    f.write(json.dumps({'evaluations': ev.evaluations, 'seconds': ev.seconds, 'first': ev.first_seconds}))
                os.replace(tmp, o.stats_file)
            except OSError:
                pass  # the work directory is gone (our parent died and it was cleaned up): no one to read them
    if how != 'exit' and o.parent_pid is not None and o.cleanup_dir:
        # The socket closed without EXIT: if our parent died (it closes its sockets before we are re-parented, so
        # give it a moment), nobody else will remove its work directory.
        for _ in range(20):
            if os.getppid() != o.parent_pid:
                shutil.rmtree(o.cleanup_dir, ignore_errors=True)
                break
            time.sleep(0.05)
    return 0


if __name__ == '__main__':
    sys.exit(main())
