import type { Config, ConfigOverrides, Extended } from './types.js';

const NESTED = new Set(['timeouts', 'logging', 'extensions']);

/**
 * A config derived from `base` (WebSocket++'s `struct my_config : config::asio`):
 * members in `overrides` replace the base's; `timeouts`, `logging` and `extensions` are
 * merged one level deep. The result's type carries the overrides' literal types.
 */
export function extend<const B extends Config, const O extends ConfigOverrides>(base: B, overrides: O): Extended<B, O> {
  const source = base as unknown as Record<string, object>;
  const out: Record<string, unknown> = { ...source };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    out[key] = NESTED.has(key) ? Object.freeze({ ...source[key], ...(value as object) }) : value;
  }
  return Object.freeze(out) as unknown as Extended<B, O>;
}
