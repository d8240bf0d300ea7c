/**
 * Matmul family: out[M×N] = A[M×K] · B[K×N] (+ bias[N]) and an optional epilogue, row-major,
 * operands and output in any Storage (computed in f32). Transposed operands are read in place
 * (Xᵀ·dY, dY·Wᵀ need no copy). The WGSL is shaders/matmul.wgsl; shapes, storages and flags
 * are override constants, so each (shape, storages, flags) is one cached pipeline.
 *
 * One invocation computes one output word (two elements, see the WGSL), so the dispatch is
 * ceil(ceil(M·N / 2) / WORKGROUP_SIZE) workgroups. It is a plain, untiled kernel: correct for
 * every shape and storage, made for a memory lab rather than peak FLOP/s.
 */
import matmulWgsl from '../../../shaders/matmul.wgsl?raw';
import {
  STORAGE_CODE,
  cachedPipeline,
  checkBuffer,
  checkCount,
  recordPass,
  storageBytes,
  withStorageWgsl,
  type KernelCache,
  type Storage,
} from './storage.ts';

/** relu, or GELU's tanh approximation (GPT-2 NewGELU, PyTorch GELU(approximate='tanh')). */
export const ACTIVATION_FNS = ['relu', 'gelu'] as const;
export type ActivationFn = (typeof ACTIVATION_FNS)[number];

export interface MatmulArgs {
  M: number;
  N: number;
  K: number;
  a: GPUBuffer;
  aStorage: Storage;
  /** A stored M×K, or K×M when true. */
  aTransposed: boolean;
  b: GPUBuffer;
  bStorage: Storage;
  /** B stored K×N, or N×K when true. */
  bTransposed: boolean;
  out: GPUBuffer;
  outStorage: Storage;
  /** f32, N values, added before the epilogue (not allowed with 'activation-grad'). */
  bias?: GPUBuffer;
  /**
   * activation: out = pre = A·B + bias; act = fn(pre), from the f32 value.
   * activation-grad: out = (A·B) ⊙ fn'(pre), pre as stored by the forward.
   */
  epilogue?:
    | { kind: 'activation'; fn: ActivationFn; act: GPUBuffer; actStorage: Storage }
    | { kind: 'activation-grad'; fn: ActivationFn; pre: GPUBuffer; preStorage: Storage };
  label?: string;
}

/** Invocations per workgroup: the WG override and the dispatch count both come from here. */
export const MATMUL_WORKGROUP_SIZE = 64;

const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(matmulWgsl);
const ACT_CODE = { relu: 0, gelu: 1 } as const satisfies Record<ActivationFn, number>;

export function recordMatmul(device: GPUDevice, encoder: GPUCommandEncoder, args: MatmulArgs): void {
  const { M, N, K, epilogue } = args;
  checkCount('Matmul', 'M', M);
  checkCount('Matmul', 'N', N);
  checkCount('Matmul', 'K', K);
  // Flat indices are u32: every tensor's element count must stay below 2^31.
  for (const [name, n] of [['M·N', M * N], ['M·K', M * K], ['K·N', K * N]] as const) checkCount('Matmul', name, n);
  checkBuffer('Matmul', 'a', args.a, storageBytes(M * K, args.aStorage));
  checkBuffer('Matmul', 'b', args.b, storageBytes(K * N, args.bStorage));
  checkBuffer('Matmul', 'out', args.out, storageBytes(M * N, args.outStorage));
  if (args.bias) checkBuffer('Matmul', 'bias', args.bias, 4 * N);
  if (epilogue?.kind === 'activation-grad' && args.bias) throw new TypeError('Matmul: a bias with the activation-grad epilogue is not supported');

  let entryPoint: 'forward' | 'forward_act' | 'backward_act' = 'forward';
  let auxStorage: Storage = 'f32';
  const buffers: Record<number, GPUBuffer> = { 0: args.a, 1: args.b, 2: args.out };
  if (epilogue?.kind === 'activation') {
    checkBuffer('Matmul', 'act', epilogue.act, storageBytes(M * N, epilogue.actStorage));
    entryPoint = 'forward_act';
    auxStorage = epilogue.actStorage;
    buffers[4] = epilogue.act;
  } else if (epilogue?.kind === 'activation-grad') {
    checkBuffer('Matmul', 'pre', epilogue.pre, storageBytes(M * N, epilogue.preStorage));
    entryPoint = 'backward_act';
    auxStorage = epilogue.preStorage;
    buffers[5] = epilogue.pre;
  }
  // The bias binding is used by the forward entry points; without a bias it gets `a`, never read.
  if (entryPoint !== 'backward_act') buffers[3] = args.bias ?? args.a;

  const pipeline = cachedPipeline(caches, device, {
    family: 'Matmul',
    code,
    entryPoint,
    constants: {
      M,
      N,
      K,
      A_T: Number(args.aTransposed),
      B_T: Number(args.bTransposed),
      A_KIND: STORAGE_CODE[args.aStorage],
      B_KIND: STORAGE_CODE[args.bStorage],
      OUT_KIND: STORAGE_CODE[args.outStorage],
      AUX_KIND: STORAGE_CODE[auxStorage],
      HAS_BIAS: Number(args.bias !== undefined),
      ACT: epilogue ? ACT_CODE[epilogue.fn] : 0,
      WG: MATMUL_WORKGROUP_SIZE,
    },
  });
  const words = Math.ceil((M * N) / 2);
  recordPass(device, encoder, args.label ? `Matmul.pass[${args.label}]` : 'Matmul.pass', [
    { pipeline, buffers, groups: Math.ceil(words / MATMUL_WORKGROUP_SIZE), label: 'Matmul.bindGroup' },
  ]);
}
