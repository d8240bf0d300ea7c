/**
 * The LoRA part of a model description (describe.ts), for any model whose projections the
 * engine wraps in a LoraLinear (engine/graph/lora.ts; Hu et al. 2021, QLoRA Dettmers et al.
 * 2023). A projection y = x·W (+ b), W in×out (K×N), becomes a frozen base and two trained
 * adapters:
 *
 * - `<name>`: the base, frozen: fp32, packed 16-bit under amp, or NF4 under QLoRA
 *   (`<name>.nf4` codes ⌈n/8⌉·4 B and `<name>.absmax` ⌈n/64⌉·4 B);
 * - `<name>.lora_A` (K×r, PEFT's init U(±1/√K)) and `<name>.lora_B` (r×N, zeros): fp32
 *   'weights' read as they are at any precision, with gradients and optimizer states.
 *
 * Its tensors: `<name>.lora_xa` = s·(x·A), rows×r in activation storage, kept for backward;
 * `<name>.lora_xaB`, the adapter's product, fp32 rows×N, alive beside the base's output until
 * added to it; in backward `<name>.lora_dxa` = d(x·A), fp32 rows×r, and `<name>.lora_dx`, the
 * adapter's part of dX, fp32 rows×K, alive beside dY and dX until added. The base's input x
 * stays saved as it would for dW: LoRA saves gradients and optimizer states, not activations.
 *
 * Everything else of a LoRA run is frozen too (norms, embeddings, the LM head): `frozen(p)`.
 */
import type { ParamDesc, ParamInit, TensorDesc } from './describe.ts';
import { storageBytes } from './vramlab.ts';

/** A projection LoRA adapts: its base weight's name (the adapters' prefix), in (K) and out (N), and the base's init. */
export interface LoraTarget {
  name: string;
  K: number;
  N: number;
  init: ParamInit;
}

export interface LoraSetting {
  rank: number;
  /** Activations stored packed 16-bit (and the dense base with them). */
  amp: boolean;
  /** The base stored NF4. */
  qlora: boolean;
}

/** Ledger names of a projection's LoRA tensors. */
export const loraName = {
  A: (base: string) => `${base}.lora_A`,
  B: (base: string) => `${base}.lora_B`,
  xa: (base: string) => `${base}.lora_xa`,
  xaB: (base: string) => `${base}.lora_xaB`,
  dxa: (base: string) => `${base}.lora_dxa`,
  dx: (base: string) => `${base}.lora_dx`,
};

/** A parameter frozen as it is (fp32): a LoRA run's norms, embeddings and head. */
export function frozen(p: ParamDesc): ParamDesc {
  return { ...p, role: 'frozen', stored: 'f32' };
}

/** The base (frozen) and the adapters A and B of a projection, in the order the engine creates them. */
export function loraParams(t: LoraTarget, s: LoraSetting): ParamDesc[] {
  const r = s.rank;
  if (!Number.isInteger(r) || r < 1) throw new RangeError(`LoRA ${t.name}: rank must be a positive integer, got ${r}`);
  return [
    { name: t.name, n: t.K * t.N, matmul: true, init: t.init, role: 'frozen', stored: s.qlora ? 'nf4' : s.amp ? 'packed16' : 'f32' },
    // nn.Linear's kaiming_uniform(a=√5): U(±1/√K), a standard deviation of 1/√(3K).
    { name: loraName.A(t.name), n: t.K * r, matmul: false, init: { kind: 'uniform', std: 1 / Math.sqrt(3 * t.K) }, role: 'adapter' },
    { name: loraName.B(t.name), n: r * t.N, matmul: false, init: { kind: 'zeros' }, role: 'adapter' },
  ];
}

/** The tensors a projection's adapter adds to its unit, for `rows` rows. */
export function loraTensors(t: LoraTarget, rows: number, s: LoraSetting): Record<string, TensorDesc> {
  const r = s.rank;
  return {
    [loraName.xa(t.name)]: { bytes: storageBytes(rows * r, s.amp), category: 'activations' },
    [loraName.xaB(t.name)]: { bytes: 4 * rows * t.N, category: 'activations' },
    [loraName.dxa(t.name)]: { bytes: 4 * rows * r, category: 'activation-grads' },
    [loraName.dx(t.name)]: { bytes: 4 * rows * t.K, category: 'activation-grads' },
  };
}

/** The worst moment of the adapted forward: what is live (its input and output among it) with s·(x·A) and the adapter's product. */
export function loraForwardMoment(base: string, live: string[]): string[] {
  return [...live, loraName.xa(base), loraName.xaB(base)];
}

/** The worst moment of the adapted backward: what is live (dY and dX among it) with d(x·A) and the adapter's part of dX. */
export function loraBackwardMoment(base: string, live: string[]): string[] {
  return [...live, loraName.dxa(base), loraName.dx(base)];
}
