/** A version ordering: one per ecosystem, as the ecosystem's own tools order versions. */
export interface VersionScheme {
  readonly name: string;
  /** Negative, zero or positive, as `a` sorts before, with or after `b`. */
  compare(a: string, b: string): number;
  /** Whether the text is a version this scheme can order at all. */
  isValid(version: string): boolean;
  /**
   * One text per class of equal versions, where the scheme's equality allows one: for any two
   * texts, valid or not, `compare(a, b) === 0` exactly when `canonical(a) === canonical(b)`
   * (PyPI `1.0` and `1.0.0` share one). It turns a search of an advisory's `versions` list into a
   * set lookup. Schemes whose equality is not transitive (Packagist's) have none.
   */
  canonical?(version: string): string;
}
