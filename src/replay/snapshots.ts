/**
 * Model snapshots (the states a divergence capture shows) are taken after every step and
 * never changed once made; their lists are shared with the previous snapshot while they do
 * not change. So two snapshots show the same exactly when every field is identical.
 */
export function sameSnapshot<S extends object>(a: S, b: S): boolean {
  // for-in over plain objects allocates nothing (this runs on every step).
  for (const k in a) if (a[k] !== b[k]) return false;
  for (const k in b) if (!(k in a)) return false;
  return true;
}
