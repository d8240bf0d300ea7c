/** Python 3 for cross-checks against the reference pickle implementation; absent, those tests skip and say why. */
import { spawnSync } from 'node:child_process';

export const PYTHON = process.env.PYTHON ?? 'python3';

export const hasPython = spawnSync(PYTHON, ['-c', 'import pickle'], { encoding: 'utf8' }).status === 0;

export const NO_PYTHON = `${PYTHON} is not on this machine: the cross-checks with Python's pickle are skipped`;

/** Runs `code` with `input` on stdin; returns stdout, throws with stderr when Python fails. */
export function python(code: string, input?: Uint8Array | string): string {
  const r = spawnSync(PYTHON, ['-c', code], { input, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`python failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Python's pickle.dumps of Python expressions, each at its protocol, in one Python start (it is slow on a busy machine). */
export function pythonPickles(items: readonly { expr: string; protocol: number }[]): Uint8Array[] {
  const code = ['import pickle', ...items.map((i) => `print(pickle.dumps(${i.expr}, protocol=${i.protocol}).hex())`)].join('\n');
  return python(code)
    .trim()
    .split('\n')
    .map((hex) => new Uint8Array(Buffer.from(hex, 'hex')));
}
