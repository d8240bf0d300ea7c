/** The many-GPU, host and band parts of `vramlab estimate`'s report (formatPlan calls these). */
import type { PlanConfig } from '../protocol/config.ts';
import type { Plan } from '../protocol/plan.ts';

type Bytes = (n: number) => string;

/** Setup words for the layout, offload and precision extras: "tp 4 + sp", "offload optimizer to cpu". */
export function describeExtras(c: PlanConfig): string[] {
  const parts: string[] = [];
  const p = c.parallel ?? {};
  if ((p.tp ?? 1) > 1) parts.push(`tp ${p.tp}${p.sp ? ' + sp' : ''}`);
  if ((p.pp ?? 1) > 1) parts.push(`pp ${p.pp} ${p.ppSchedule ?? '1f1b'}`);
  if ((p.cp ?? 1) > 1) parts.push(`cp ${p.cp}`);
  const o = c.offload;
  const what = [o?.optimizer && 'optimizer', o?.params && 'params', o?.activations && 'activations'].filter(Boolean);
  if (what.length > 0) parts.push(`offload ${what.join('+')} to ${o?.to ?? 'cpu'}`);
  if (c.gpuLayers !== undefined) parts.push(`gpu layers ${c.gpuLayers}`);
  if (c.kvOnHost) parts.push('KV cache on the host');
  if (c.kvDtype) parts.push(`KV ${c.kvDtype}`);
  if (c.optimizerImpl) parts.push(`optimizer ${c.optimizerImpl}`);
  if (c.optimizerDtype) parts.push(`optimizer states ${c.optimizerDtype}`);
  if (c.logits) parts.push(`logits ${c.logits}`);
  return parts;
}

/** The band, the layout, each device (worst first, like llama.cpp's memory breakdown) and the host. */
export function formatManyGpus(plan: Plan, bytes: Bytes, table: (rows: string[][], indent?: string) => string[]): string[] {
  const out: string[] = [];
  if (plan.band) {
    out.push('', 'Band (the same peak with the overheads at the ends of their ranges):');
    const b = plan.band;
    out.push(
      ...table([
        ['low', bytes(b.low.bytes), b.low.assumes],
        ['expected', bytes(b.expected.bytes), b.expected.assumes],
        ['high', bytes(b.high.bytes), b.high.assumes],
      ]),
    );
  }
  const l = plan.layout;
  if (l) {
    const parts = [`tp ${l.tp}${l.sp ? ' + sp' : ''}`, `pp ${l.pp}${l.pp > 1 ? ` (${l.ppSchedule}, ${l.microbatches} micro-batches${l.virtualStages > 1 ? `, ${l.virtualStages} chunks per stage` : ''})` : ''}`, `cp ${l.cp}`, `dp ${l.dp}`, `ep ${l.ep}`];
    out.push('', `Layout  ${parts.join(' × ')} = ${l.gpus} GPUs${l.zero > 0 ? `; ZeRO-${l.zero} over ${l.shard}` : ''}`);
  }
  if (plan.devices && plan.devices.length > 0) {
    out.push('', 'Per device, worst first (each row: the GPUs that hold these bytes):');
    const rows = [['rank', 'GPUs', 'total', 'peak', 'weights+states', 'activations', 'host']];
    for (const d of plan.devices) {
      const states = d.bytes.weights + d.bytes.masterWeights + d.bytes.gradients + d.bytes.optimizer;
      rows.push([d.rank, String(d.gpus), bytes(d.totalBytes), bytes(d.peakBytes), bytes(states), bytes(d.bytes.activations + d.bytes.logits), d.hostBytes > 0 ? bytes(d.hostBytes) : '—']);
    }
    out.push(...table(rows));
  }
  const h = plan.host;
  if (h) {
    out.push('', `Host memory per node (${h.gpusPerNode} GPU process${h.gpusPerNode === 1 ? '' : 'es'}):`);
    const rows = h.parts.map((x) => [x.what, bytes(x.bytes), x.assumes]);
    rows.push(['per GPU process', bytes(h.bytesPerGpu), ''], ['per node', bytes(h.bytesPerNode), h.nvmeBytesPerNode > 0 ? `and ${bytes(h.nvmeBytesPerNode)} on NVMe` : '']);
    out.push(...table(rows));
    if (h.budgetBytes !== undefined) {
      out.push(`  ${h.fits ? '✓ fits' : '✗ does not fit'} the host budget of ${bytes(h.budgetBytes)} (${h.fits ? `${bytes(h.budgetBytes - h.bytesPerNode)} to spare` : `${bytes(h.bytesPerNode - h.budgetBytes)} short`})`);
    }
  }
  return out;
}
