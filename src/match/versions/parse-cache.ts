/**
 * A parser that remembers what it read. The matcher compares one package version with every
 * event and listed version of each of its records, and the same texts again for every fix
 * candidate: reading each distinct text once makes a comparison cost only what comparing the
 * parsed forms costs. What it returns is shared between callers and must not be changed.
 * Bounded: past `limit` distinct texts it starts over (one scan's versions fit many times over).
 */
export function cachedParser<T>(parse: (text: string) => T, limit = 50_000): (text: string) => T {
  let cache = new Map<string, T>();
  return (text) => {
    const hit = cache.get(text);
    if (hit !== undefined || cache.has(text)) return hit as T;
    const parsed = parse(text);
    if (cache.size >= limit) cache = new Map();
    cache.set(text, parsed);
    return parsed;
  };
}

/** Decimal digits as the number they write: leading zeros dropped, "0" for zero. */
export function decimalKey(digits: string): string {
  let start = 0;
  while (start < digits.length - 1 && digits.charCodeAt(start) === 48) start++;
  return start === 0 ? digits : digits.slice(start);
}
