// The soak's settings and tiny helpers that several of its parts need: the
// gate's limits, the admin token, the memory limits, the forged kinds with
// the only answers each may get, a route's path, hashing and MB formatting.
// Kept apart so each part can import them without importing another part.
import { createHash } from 'node:crypto';

export const ORIGIN_TIMEOUT_MS = 2500;
export const MAX_BODY_BYTES = 256 * 1024;
/** The first cool-down after a failed forward (FAILURE_COOL_DOWN_SECONDS). */
export const FAILURE_COOL_DOWN_SECONDS = 1;
export const TOLERANCE_SECONDS = 300;
export const ADMIN_TOKEN = 'soak-admin-token-0123456789';
export const MB = 1024 * 1024;
/**
 * The memory criteria. workerd's RSS (the whole process: hookgate's isolate
 * and Miniflare's own KV, queue and storage services) may grow by this much
 * after warm-up, or by more only while levelling off (see memoryVerdict).
 * hookgate's own isolate (V8 heap after a forced GC, plus Wasm memory) may
 * grow by ISOLATE_GROWTH_LIMIT.
 */
export const MEMORY_GROWTH_LIMIT = 64 * MB;
export const ISOLATE_GROWTH_LIMIT = 16 * MB;

export const pathOf = (scheme) => `/hooks/${scheme}`;

export const sha = (data) => createHash('sha256').update(data).digest('hex');
export const fmtMB = (bytes) => `${(bytes / MB).toFixed(1)} MB`;

/** Forged kinds, each with the only answers (status reason) it may get. */
export const FORGED = {
  'wrong-key': ['401 bad-signature'],
  tampered: ['401 bad-signature'],
  stale: ['401 stale-timestamp'],
  future: ['401 future-timestamp'],
  'missing-headers': ['401 missing-header'],
  'other-route': ['401 missing-header', '401 bad-signature'],
  'bad-id': ['400 bad-id'],
  oversize: ['413 too-large'],
  'chunked-oversize': ['413 too-large'],
  'length-short': ['401 bad-signature'],
  'length-long': ['400 bad-body'],
  'length-beside-chunked': ['413 too-large'],
  'wrong-method': ['405 method-not-allowed'],
  'no-route': ['404 not-found'],
};
