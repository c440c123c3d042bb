/** Something that can die while calls to it are pending: our i-PI client process (worker.ts's Client). */
export interface ExitSignal {
  /** Non-null once it has exited. */
  readonly exit: unknown;
  /** Listeners called once at exit; raceExit adds one per pending call and removes it when the call settles. */
  readonly onExit: Set<() => void>;
  error(): Error;
}

/**
 * p, or a rejection with c.error() as soon as c exits, so a crashed engine is reported at once instead of at the
 * timeout. Not Promise.race against a promise of the exit: every race would add a reaction to that long-lived promise
 * holding the race's resolvers, and through them every reply (the forces of every call) until the client exits
 * (measured: RSS +7 KB per call at 256 atoms through LAMMPS, 13.8 GB after a five-hour corpus run). Here the exit
 * listener is removed when p settles, so nothing outlives its call.
 */
export function raceExit<T>(p: Promise<T>, c: ExitSignal | null): Promise<T> {
  if (!c) return p;
  if (c.exit) return Promise.reject(c.error());
  return new Promise<T>((resolve, reject) => {
    const died = () => reject(c.error());
    c.onExit.add(died);
    p.then(
      (v) => {
        c.onExit.delete(died);
        resolve(v);
      },
      (e: unknown) => {
        c.onExit.delete(died);
        reject(e);
      },
    );
  });
}
