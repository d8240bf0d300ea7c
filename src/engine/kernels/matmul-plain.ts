/**
 * The plainest matmul, out[M×N] = A[M×K] · B[K×N] in f32, row-major, one output element per
 * invocation (shaders/matmul-plain.wgsl): the yardstick `vramlab bench` times the tiled kernel
 * of matmul.ts against on the same adapter, and a second reference for its tests. Not used in
 * training.
 */
import plainWgsl from '../../../shaders/matmul-plain.wgsl?raw';
import { cachedPipeline, checkBuffer, checkCount, recordPass, type KernelCache } from './storage.ts';
import { KERNEL_WORK } from '../../estimate/vramlab-work.ts';

/** Invocations per workgroup: the WG override and the dispatch count both come from here. */
export const PLAIN_MATMUL_WORKGROUP_SIZE = 64;

export interface PlainMatmulArgs {
  M: number;
  N: number;
  K: number;
  /** f32, M×K. */
  a: GPUBuffer;
  /** f32, K×N. */
  b: GPUBuffer;
  /** f32, M×N, overwritten. */
  out: GPUBuffer;
  label?: string;
}

const caches = new WeakMap<GPUDevice, KernelCache>();

export function recordPlainMatmul(device: GPUDevice, encoder: GPUCommandEncoder, args: PlainMatmulArgs): void {
  const { M, N, K } = args;
  for (const [name, n] of [['M', M], ['N', N], ['K', K], ['M·N', M * N], ['M·K', M * K], ['K·N', K * N]] as const) checkCount('PlainMatmul', name, n);
  checkBuffer('PlainMatmul', 'a', args.a, 4 * M * K);
  checkBuffer('PlainMatmul', 'b', args.b, 4 * K * N);
  checkBuffer('PlainMatmul', 'out', args.out, 4 * M * N);
  if (args.out === args.a || args.out === args.b) throw new TypeError('PlainMatmul: out must be a buffer of its own, distinct from a and b');
  const pipeline = cachedPipeline(caches, device, { family: 'PlainMatmul', code: plainWgsl, entryPoint: 'main', constants: { M, N, K, WG: PLAIN_MATMUL_WORKGROUP_SIZE } });
  recordPass(
    device,
    encoder,
    args.label ? `PlainMatmul.pass[${args.label}]` : 'PlainMatmul.pass',
    [{ pipeline, buffers: { 0: args.a, 1: args.b, 2: args.out }, groups: Math.ceil((M * N) / PLAIN_MATMUL_WORKGROUP_SIZE), label: 'PlainMatmul.bindGroup' }],
    KERNEL_WORK.matmul(M, N, K, false, undefined),
  );
}
