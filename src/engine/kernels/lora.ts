/**
 * LoRA family: the elementwise steps around a LoRA linear's matmuls (shaders/lora.wgsl):
 * scaling the rank-r product in place, adding the adapter's product into the base's output
 * (optionally with the activation, as the matmul's forward_act epilogue would), and the
 * activation's backward in place once base and adapter products are summed. In-place on one
 * binding, so no extra buffer; one invocation per pair of elements (packed words whole):
 * ⌈⌈n / 2⌉ / LORA_WORKGROUP_SIZE⌉ workgroups.
 */
import loraWgsl from '../../../shaders/lora.wgsl?raw';
import { STORAGE_CODE, cachedPipeline, checkBuffer, checkCount, recordPass, storageBytes, withStorageWgsl, type KernelCache, type Storage } from './storage.ts';
import type { ActivationFn } from './matmul.ts';
import { KERNEL_WORK } from '../../estimate/vramlab-work.ts';

/** Invocations per workgroup: the WG override and the dispatch counts both come from here. */
export const LORA_WORKGROUP_SIZE = 256;

const ACT_CODE = { relu: 1, gelu: 2 } as const satisfies Record<ActivationFn, number>;
const caches = new WeakMap<GPUDevice, KernelCache>();
const code = withStorageWgsl(loraWgsl);

function pass(device: GPUDevice, encoder: GPUCommandEncoder, entryPoint: string, n: number, constants: Record<string, number>, buffers: Record<number, GPUBuffer>, label: string | undefined, work: ReturnType<typeof KERNEL_WORK.loraScale>): void {
  checkCount('Lora', 'n', n);
  const pipeline = cachedPipeline(caches, device, { family: 'Lora', code, entryPoint, constants: { N: n, ...constants, WG: LORA_WORKGROUP_SIZE } });
  recordPass(device, encoder, label ?? `Lora.pass[${entryPoint}]`, [{ pipeline, buffers, groups: Math.ceil(Math.ceil(n / 2) / LORA_WORKGROUP_SIZE), label: `Lora.bindGroup[${entryPoint}]` }], work);
}

/** x ← s·x, n values of storage xStorage. */
export function recordLoraScale(device: GPUDevice, encoder: GPUCommandEncoder, args: { x: GPUBuffer; xStorage: Storage; n: number; scale: number; label?: string }): void {
  checkBuffer('Lora', 'x', args.x, storageBytes(args.n, args.xStorage));
  pass(device, encoder, 'scale', args.n, { X_KIND: STORAGE_CODE[args.xStorage], SCALE: args.scale }, { 0: args.x }, args.label, KERNEL_WORK.loraScale(args.n));
}

/** y ← y + t (t f32), and with `act` also act = fn(y); n values. */
export function recordLoraAdd(
  device: GPUDevice,
  encoder: GPUCommandEncoder,
  args: { y: GPUBuffer; yStorage: Storage; t: GPUBuffer; n: number; act?: { fn: ActivationFn; out: GPUBuffer; storage: Storage }; label?: string },
): void {
  const { n, act } = args;
  checkBuffer('Lora', 'y', args.y, storageBytes(n, args.yStorage));
  checkBuffer('Lora', 't', args.t, 4 * n);
  if (act) checkBuffer('Lora', 'act', act.out, storageBytes(n, act.storage));
  if (args.t === args.y || act?.out === args.y || act?.out === args.t) throw new TypeError('Lora: add needs three different buffers y, t and act');
  if (act) {
    pass(device, encoder, 'add_act', n, { X_KIND: STORAGE_CODE[args.yStorage], AUX_KIND: STORAGE_CODE[act.storage], ACT: ACT_CODE[act.fn] }, { 0: args.y, 1: args.t, 2: act.out }, args.label, KERNEL_WORK.loraAdd(n, act.fn));
  } else {
    pass(device, encoder, 'add', n, { X_KIND: STORAGE_CODE[args.yStorage] }, { 0: args.y, 1: args.t }, args.label, KERNEL_WORK.loraAdd(n, undefined));
  }
}

/** g ← g ⊙ fn'(pre), g f32, pre of storage preStorage; n values. */
export function recordLoraActivationGrad(
  device: GPUDevice,
  encoder: GPUCommandEncoder,
  args: { g: GPUBuffer; pre: GPUBuffer; preStorage: Storage; fn: ActivationFn; n: number; label?: string },
): void {
  checkBuffer('Lora', 'g', args.g, 4 * args.n);
  checkBuffer('Lora', 'pre', args.pre, storageBytes(args.n, args.preStorage));
  pass(device, encoder, 'act_grad', args.n, { AUX_KIND: STORAGE_CODE[args.preStorage], ACT: ACT_CODE[args.fn] }, { 0: args.g, 3: args.pre }, args.label, KERNEL_WORK.loraActivationGrad(args.n, args.fn));
}
