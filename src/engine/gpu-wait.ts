/**
 * Waiting for the GPU without spinning the host. While a GPU promise is pending, the `webgpu`
 * package (Dawn in Node) polls Dawn on the main thread, which costs 65–73 % of a core on this
 * project's CPU adapter (SwiftShader) — a core the adapter's own worker threads then lack. A
 * device opened in Node is therefore patient: before it requests the promise it sleeps for most
 * of what the same wait took last time, so the promise is usually settled almost as soon as it
 * is requested. Browsers do not spin, so there a device waits as before.
 *
 * The sleep is a fraction of an average of past waits, so it undershoots; a promise that settles
 * as soon as it is requested shows the work was shorter than the sleep, and halves the estimate.
 * `VRAMLAB_GPU_WAIT=spin` in Node keeps the old behaviour (for side-by-side measurements).
 */

/** Expected wait in ms per call site, per patient device. */
const patient = new WeakMap<GPUDevice, Map<string, number>>();

/** Part of the expected wait slept before the promise is requested. */
const SLEEP_FRACTION = 0.8;
/** Below this expected wait (ms) a timer costs more than the polling it saves. */
const MIN_SLEEP_MS = 4;
/** A promise settled within this many ms of its request was already done before it. */
const OVERSLEPT_MS = 0.5;
/** Weight of the newest wait in the average. */
const NEW_WEIGHT = 0.3;

export function markPatient(device: GPUDevice): void {
  if (!patient.has(device)) patient.set(device, new Map());
}

export function isPatient(device: GPUDevice): boolean {
  return patient.has(device);
}

/** The expected wait at `site` in ms (0 before the first one, or for a device that is not patient). */
export function expectedWaitMs(device: GPUDevice, site: string): number {
  return patient.get(device)?.get(site) ?? 0;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Awaits `request()` (a GPU promise: onSubmittedWorkDone, mapAsync) for work already submitted;
 * on a patient device, first sleeps most of the wait expected at `site`.
 */
export async function gpuWait<T>(device: GPUDevice, site: string, request: () => Promise<T>): Promise<T> {
  const sites = patient.get(device);
  if (sites === undefined) return request();
  const expected = sites.get(site) ?? 0;
  const t0 = performance.now();
  const slept = expected >= MIN_SLEEP_MS;
  if (slept) await sleep(expected * SLEEP_FRACTION);
  const requested = performance.now();
  const out = await request();
  const now = performance.now();
  const took = now - t0;
  // Settled at once after a sleep: the work was shorter than the sleep, by an unknown amount.
  if (slept && now - requested < OVERSLEPT_MS) sites.set(site, expected / 2);
  else sites.set(site, expected === 0 ? took : expected + NEW_WEIGHT * (took - expected));
  return out;
}
