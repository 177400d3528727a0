/** A version ordering: one per ecosystem, as the ecosystem's own tools order versions. */
export interface VersionScheme {
  readonly name: string;
  /** Negative, zero or positive, as `a` sorts before, with or after `b`. */
  compare(a: string, b: string): number;
  /** Whether the text is a version this scheme can order at all. */
  isValid(version: string): boolean;
}
