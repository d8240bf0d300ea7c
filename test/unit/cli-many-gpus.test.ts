/**
 * `vramlab estimate` with many GPUs, offload and the precision details: the per-device table
 * (worst first), host figures, the band, the layout in --json, the MIG slices in the fit list,
 * and bad input as one line with exit status 2.
 */
import { describe, expect, it } from 'vitest';
import { main, type Io } from '../../src/cli/main.ts';
import { MIG_SLICES } from '../../src/estimate/gpus.ts';
import type { Plan } from '../../src/protocol/plan.ts';

function capture(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', env: {}, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

async function estimate(args: string[]) {
  const io = capture();
  const code = await main(['estimate', ...args], io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

const layout = ['--model', 'llama-2-7b', '--batch', '8', '--seq', '4096', '--checkpoint', 'selective', '--tp', '4', '--sp', '--pp', '4', '--microbatches', '8', '--gpus', '32', '--zero', '1'];

describe('output', () => {
  it('--json carries the layout, every stage worst first, the band and the host', async () => {
    const r = await estimate([...layout, '--offload', 'optimizer', '--host-memory', '512', '--json']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.layout).toMatchObject({ tp: 4, sp: true, pp: 4, microbatches: 8, ppSchedule: '1f1b', cp: 1, dp: 2, ep: 1, gpus: 32, shard: 2 });
    expect(plan.devices!.map((d) => d.stage)).toEqual([0, 1, 2, 3]);
    expect(plan.devices![0]!.totalBytes).toBe(plan.totalBytes);
    expect(plan.devices!.every((d) => d.gpus === 8)).toBe(true);
    expect(plan.band!.low.bytes).toBeLessThan(plan.band!.high.bytes);
    expect(plan.host).toMatchObject({ gpusPerNode: 8, fits: true, budgetBytes: 512 * 2 ** 30 });
    expect(plan.host!.bytesPerNode).toBe(8 * plan.host!.bytesPerGpu);
  });

  it('the table lists the layout, one row per stage worst first, the band and the host per node', async () => {
    const r = await estimate([...layout, '--offload', 'optimizer', '--host-memory', '512']);
    expect(r.stdout).toMatch(/Layout {2}tp 4 \+ sp × pp 4 \(1f1b, 8 micro-batches\) × cp 1 × dp 2 × ep 1 = 32 GPUs; ZeRO-1 over 2/);
    const rows = r.stdout.split('\n').filter((l) => /^ {2}stage \d/.test(l));
    expect(rows.map((l) => l.trim().slice(0, 7))).toEqual(['stage 0', 'stage 1', 'stage 2', 'stage 3']);
    expect(r.stdout).toMatch(/^ {2}low {6}.*CUDA context 300 MiB/m);
    expect(r.stdout).toMatch(/Host memory per node \(8 GPU processes\):/);
    expect(r.stdout).toMatch(/✓ fits the host budget of 512\.00 GiB/);
  });

  it('the fit list has the MIG slices at their usable size', async () => {
    const r = await estimate(['--model', 'gpt2-small', '--mode', 'inference', '--json']);
    const plan = JSON.parse(r.stdout) as Plan;
    const slice = plan.fits.find((f) => f.gpu === 'H100 80 GB MIG 3g.40gb')!;
    expect(slice.memoryBytes).toBe(Math.round(39.5 * 1024) * 2 ** 20);
    expect(plan.fits.filter((f) => f.gpu.includes(' MIG ')).length).toBe(MIG_SLICES.length);
    expect(MIG_SLICES.map((s) => s.id)).toContain('a100-40gb-mig-1g-5gb');
  });
});

describe('bad input: exit 2 and one line that says what to change', () => {
  it.each<[string[], RegExp]>([
    [['--tp', '3', '--gpus', '8'], /^vramlab estimate: --gpus 8 is not a multiple of tp × pp × cp = 3 × 1 × 1 = 3: .*use --gpus 3 or a multiple of it\n$/],
    [['--tp', '4'], /--gpus 1 is not a multiple of tp × pp × cp = 4 × 1 × 1 = 4/],
    [["--ep", "2", "--gpus", "2"], /--ep 2: expert parallel splits the experts of a mixture-of-experts model.*use --ep 1\n$/],
    [['--offload', 'optimizer', '--zero', '2', '--gpus', '8'], /^vramlab estimate: --host-memory: offload needs the host memory per node .* add --host-memory GiB, e\.g\. --host-memory 512\n$/],
    [['--offload', 'params', '--host-memory', '64'], /--offload params needs --zero 3/],
    [['--offload', 'cache', '--host-memory', '64'], /--offload must be one of optimizer, params, both, activations; got 'cache'/],
    [['--offload-to', 'nvme'], /--offload-to nvme: says where offloaded states go; add --offload/],
    [['--pp-schedule', 'gpipe'], /shape a pipeline; set --pp 2 or more/],
    [['--kv-dtype', 'q8_0'], /--kv-dtype q8_0: applies to inference only/],
    [['--mode', 'inference', '--pp', '2', '--gpus', '2'], /--pp 2: pipeline, context and sequence parallelism plan training; for inference use --tp/],
    [['--mode', 'inference', '--gpu-layers', '4'], /weights or KV cache on the host need the host memory per node/],
    [['--sp'], /--sp splits what tensor parallelism replicates; it needs --tp 2 or more/],
  ])('%j', async (args, message) => {
    const r = await estimate(['--model', 'gpt2-small', ...args]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });
});
