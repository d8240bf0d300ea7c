// Times how long `vramlab <args>` takes from spawn to exit, the CLI's start-up cost for short
// commands: the median and spread of N runs of each way of starting it. (hyperfine does this
// too; this needs nothing but Node.)
//   node scripts/time-startup.mjs [--runs 15] [--bin path/to/vramlab.mjs]… -- estimate --model gpt2-small
import { spawnSync } from 'node:child_process';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const opts = dash < 0 ? argv : argv.slice(0, dash);
const args = dash < 0 ? ['estimate', '--model', 'gpt2-small'] : argv.slice(dash + 1);
const runs = Number(opts[opts.indexOf('--runs') + 1] ?? 15) || 15;
const bins = opts.flatMap((o, i) => (o === '--bin' ? [opts[i + 1]] : []));
if (bins.length === 0) bins.push(new URL('../bin/vramlab.mjs', import.meta.url).pathname);

for (const bin of bins) {
  const ms = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    // The first run warms the OS file cache and is not counted.
    if (i > 0) ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const q = (p) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))];
  console.log(`${bin}: median ${q(0.5).toFixed(0)} ms (min ${ms[0].toFixed(0)}, p90 ${q(0.9).toFixed(0)}) over ${runs} runs of: vramlab ${args.join(' ')}`);
}
