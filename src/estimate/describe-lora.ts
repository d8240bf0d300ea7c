/**
 * LoRA and QLoRA on a model description (describe.ts), for any decoder whose projections are
 * matmul parameters stored in × out (Hu et al. 2021, arXiv 2106.09685; QLoRA, Dettmers et al.
 * 2023; the engine's LoraLinear, engine/graph/lora.ts):
 *
 * - every parameter of the base is frozen: no gradient, no optimizer state, no master copy;
 *   fp32 'weights', except the adapted projections, stored packed 16-bit under amp or NF4
 *   under QLoRA (codes ⌈n/8⌉·4 B + absmax ⌈n/64⌉·4 B);
 * - each adapted projection in×out gets adapters A (in×r, PEFT's init U(±1/√in)) and B (r×out,
 *   zeros), right after it: fp32 'weights' read as they are (no 16-bit copy), the only
 *   parameters with gradients and optimizer states;
 * - its forward keeps s·(x·A) (rows×r in the activation storage, `<W>.lora_xa`) and briefly
 *   holds the adapter's product (fp32 rows×out, `<W>.lora_xaB`) until added to the base's;
 *   its backward holds d(x·A) (fp32 rows×r, `<W>.lora_dxa`) and the adapter's part of dX (fp32
 *   rows×in, `<W>.lora_dx`) until added. The model's description places these in its moments.
 */
import type { ParamDesc, TensorDesc } from './describe.ts';
import { storageBytes } from './vramlab.ts';

export interface LoraOptions {
  rank: number;
  /** The adapted projections stored NF4. */
  qlora: boolean;
  /** 16-bit activations (and, without QLoRA, a packed 16-bit base). */
  amp: boolean;
}

/** A projection LoRA adapts: its weight's parameter name, in and out features. */
export interface LoraTarget {
  weight: string;
  inF: number;
  outF: number;
}

/** Ledger names of an adapted projection's adapters and tensors (protocol/ledger.ts LORA_ADAPTER). */
export function loraNames(weight: string) {
  return { A: `${weight}.lora_A`, B: `${weight}.lora_B`, xa: `${weight}.lora_xa`, xaB: `${weight}.lora_xaB`, dxa: `${weight}.lora_dxa`, dx: `${weight}.lora_dx` };
}

/** The adapters of a projection, A then B. */
export function loraAdapters(t: LoraTarget, rank: number): ParamDesc[] {
  const n = loraNames(t.weight);
  return [
    { name: n.A, n: t.inF * rank, matmul: false, adapter: true, init: { kind: 'bound', bound: 1 / Math.sqrt(t.inF) } },
    { name: n.B, n: rank * t.outF, matmul: false, adapter: true, init: { kind: 'zeros' } },
  ];
}

/** The parameters of a LoRA run: the base, frozen, in its order, each adapted projection followed by its adapters. */
export function loraParams(params: ParamDesc[], targets: LoraTarget[], opts: LoraOptions): ParamDesc[] {
  const byWeight = new Map(targets.map((t) => [t.weight, t]));
  return params.flatMap((p) => {
    const t = byWeight.get(p.name);
    if (!t) return [{ ...p, frozen: 'f32' as const }];
    if (t.inF * t.outF !== p.n) throw new Error(`LoRA: '${p.name}' has ${p.n} values, not ${t.inF}×${t.outF}`);
    return [{ ...p, frozen: opts.qlora ? ('nf4' as const) : opts.amp ? ('packed16' as const) : ('f32' as const) }, ...loraAdapters(t, opts.rank)];
  });
}

/** The tensors an adapted projection adds to its unit (rows = batch·seq). */
export function loraTensors(t: LoraTarget, rows: number, opts: LoraOptions): Record<string, TensorDesc> {
  const n = loraNames(t.weight);
  const r = opts.rank;
  return {
    [n.xa]: { bytes: storageBytes(rows * r, opts.amp), category: 'activations' },
    [n.xaB]: { bytes: 4 * rows * t.outF, category: 'activations' },
    [n.dxa]: { bytes: 4 * rows * r, category: 'activation-grads' },
    [n.dx]: { bytes: 4 * rows * t.inF, category: 'activation-grads' },
  };
}
