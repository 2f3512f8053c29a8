/**
 * Optional native helpers, as ws uses them: when the `bufferutil` package is installed
 * (an optional dependency), masking large payloads uses its SIMD code (about 7x the
 * JavaScript word loop). Set WSPP_NO_NATIVE=1 to stay in JavaScript.
 */
import { createRequire } from 'node:module';
import { setMaskImplementation, type MaskImplementation } from './protocol/mask.js';

let active = false;

/** Try to load the native helpers; returns whether they are in use. */
export function useNativeHelpers(): boolean {
  if (process.env['WSPP_NO_NATIVE'] === '1') return false;
  try {
    const native = createRequire(import.meta.url)('bufferutil') as MaskImplementation;
    if (typeof native.mask === 'function' && typeof native.unmask === 'function') {
      setMaskImplementation(native);
      active = true;
    }
  } catch {
    active = false;
  }
  return active;
}

/** Are native helpers in use? */
export function nativeHelpersActive(): boolean {
  return active;
}
