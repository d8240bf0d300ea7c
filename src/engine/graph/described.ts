/**
 * A trainer whose model is a ModelDescription (src/estimate/describe.ts): every parameter and
 * every tensor it allocates comes from the description by name, with the bytes and category
 * given there, so the ledger of a run is what the planner's framework-vramlab estimate reads.
 */
import type { LedgerCategory } from '../../protocol/ledger.ts';
import { type ModelDescription, type ParamDesc, type ParamInit, type UnitDesc, frozenTensors, tensorOf } from '../../estimate/describe.ts';
import { quantizeNf4 } from '../kernels/nf4.ts';
import { packHalf } from '../kernels/storage.ts';
import { uniform } from '../rng.ts';
import { type Param, Trainer } from './trainer.ts';

/** n initial values of a parameter, drawn from `rand` when random. */
export function initialValues(init: ParamInit, rand: () => number, n: number): Float32Array {
  switch (init.kind) {
    case 'uniform':
      return uniform(rand, n, init.std * Math.sqrt(3));
    case 'bound':
      return uniform(rand, n, init.bound);
    case 'ones':
      return new Float32Array(n).fill(1);
    case 'zeros':
      return new Float32Array(n);
  }
}

export abstract class DescribedTrainer extends Trainer {
  abstract readonly desc: ModelDescription;
  private readonly byName = new Map<string, Param>();
  private readonly frozenByName = new Map<string, GPUBuffer>();

  /**
   * Every parameter of the description, in its order: trained ones with their master, copy
   * and states (Trainer.param), frozen ones in their storage. Values come from `rand`, an
   * adapter's from `adapterRand`, so a LoRA run's base and data are the full model's.
   */
  protected async allocateParams(rand: () => number, adapterRand: () => number = rand): Promise<void> {
    for (const d of this.desc.params) {
      const values = (n: number) => initialValues(d.init, d.role === 'adapter' ? adapterRand : rand, n);
      if (d.role === 'frozen') await this.allocateFrozen(d, () => values(d.n));
      else this.byName.set(d.name, await this.param(d.name, d.n, values, d.matmul, d.role === 'adapter'));
    }
  }

  /** A frozen parameter's tensors; its values are drawn once its first buffer exists (as Trainer.param does). */
  private async allocateFrozen(d: ParamDesc, values: () => Float32Array): Promise<void> {
    const [first, second] = frozenTensors(d);
    const stored = d.stored ?? 'f32';
    if (stored === 'nf4') {
      let q!: ReturnType<typeof quantizeNf4>;
      this.frozenByName.set(first!.name, await this.frozen(first!.name, first!.bytes, () => (q = quantizeNf4(values())).codes));
      this.frozenByName.set(second!.name, await this.frozen(second!.name, second!.bytes, () => q.absmax));
      return;
    }
    const buf = await this.frozen(first!.name, first!.bytes, () => (stored === 'packed16' ? packHalf(values(), this.act as 'f16' | 'bf16') : values()));
    this.frozenByName.set(first!.name, buf);
    // A frozen fp32 tensor is read where a trained one's master would be.
    if (stored === 'f32') this.byName.set(d.name, { name: d.name, n: d.n, master: buf, half: null, m: null, v: null });
  }

  /** A trained parameter, or a frozen fp32 one in the shape of a Param. */
  protected p(name: string): Param {
    const p = this.byName.get(name);
    if (!p) throw new Error(`${this.constructor.name}: no parameter '${name}'`);
    return p;
  }

  /** A frozen tensor by its ledger name (describe.ts frozenTensors). */
  protected frozenBuffer(name: string): GPUBuffer {
    const b = this.frozenByName.get(name);
    if (!b) throw new Error(`${this.constructor.name}: no frozen tensor '${name}'`);
    return b;
  }

  /**
   * A tensor of a unit, with the name, bytes and category the description gives it. `tag`
   * marks a second making of it (a recompute) in the ledger's name, so each keeps its own
   * buffer from step to step (Ledger lastBuffer) and the bind groups repeat.
   */
  protected t(unit: UnitDesc, name: string, tag = ''): Promise<GPUBuffer> {
    const d = tensorOf(unit, name);
    return this.buffer(name + tag, d.category, d.bytes);
  }

  /**
   * A tensor of a unit asked for by a module that sizes its own (lora.ts): allocated as the
   * description gives it, and refused if the module's idea of it differs.
   */
  protected checkedTensor(unit: UnitDesc, name: string, category: LedgerCategory, bytes: number): Promise<GPUBuffer> {
    const d = tensorOf(unit, name);
    if (d.category !== category || d.bytes !== bytes) throw new Error(`model description: '${name}' is ${d.bytes} B of ${d.category}, asked for ${bytes} B of ${category}`);
    return this.buffer(name, d.category, d.bytes);
  }
}
