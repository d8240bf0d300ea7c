// Times how long `vramlab <args>` takes from spawn to exit, the CLI's start-up cost for short
// commands: the median and spread of N runs of each way of starting it, in wall time and in CPU
// time (user + system of the process and its children, from bash's `times`; on a busy machine
// the steadier of the two). hyperfine does this too; this needs nothing but Node and bash.
//   node scripts/time-startup.mjs [--runs 15] [--bin path/to/vramlab.mjs]… -- estimate --model gpt2-small
import { spawnSync } from 'node:child_process';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const opts = dash < 0 ? argv : argv.slice(0, dash);
const args = dash < 0 ? ['estimate', '--model', 'gpt2-small'] : argv.slice(dash + 1);
const runs = Number(opts[opts.indexOf('--runs') + 1] ?? 15) || 15;
const bins = opts.flatMap((o, i) => (o === '--bin' ? [opts[i + 1]] : []));
if (bins.length === 0) bins.push(new URL('../bin/vramlab.mjs', import.meta.url).pathname);

// Interleaved (A B A B …), so a change of load during the measurement hits every way alike.
const wall = bins.map(() => []);
const cpu = bins.map(() => []);
const seconds = (t) => Number(/(\d+)m([\d.]+)s/.exec(t)[1]) * 60 + Number(/(\d+)m([\d.]+)s/.exec(t)[2]);
for (let i = 0; i < runs + 1; i++) {
  for (const [b, bin] of bins.entries()) {
    const t0 = performance.now();
    const r = spawnSync('bash', ['-c', '"$@" >/dev/null || exit 1; times', 'time-startup', process.execPath, bin, ...args], { encoding: 'utf8' });
    const t1 = performance.now();
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr}`);
    // The first round warms the OS file cache and is not counted.
    if (i === 0) continue;
    wall[b].push(t1 - t0);
    // `times` prints the shell's own user/sys, then its children's.
    const [user, sys] = r.stdout.trim().split('\n')[1].split(/\s+/);
    cpu[b].push((seconds(user) + seconds(sys)) * 1000);
  }
}
const stats = (xs) => {
  const t = [...xs].sort((x, y) => x - y);
  const q = (p) => t[Math.min(t.length - 1, Math.floor(p * t.length))];
  return `median ${q(0.5).toFixed(0)} ms (min ${t[0].toFixed(0)}, p90 ${q(0.9).toFixed(0)})`;
};
for (const [b, bin] of bins.entries()) console.log(`${bin}: wall ${stats(wall[b])}, CPU ${stats(cpu[b])}, ${runs} runs of: ${args.join(' ')}`);
