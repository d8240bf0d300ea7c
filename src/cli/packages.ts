/**
 * npm packages the CLI loads only when a command needs them, and what to say when one is not
 * installed: `webgpu` is a dependency (an install without it is broken, or was made with
 * --no-optional tricks), TensorFlow.js an optional package that only `bench` uses. Either way the
 * user gets one line naming the package and the command that installs it (exit status 2),
 * never "internal error: Cannot find package".
 */

/** The package name in Node's "Cannot find package 'x' imported from …", or null for any other error. */
export function missingPackageOf(err: unknown): string | null {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e.message !== 'string') return null;
  if (e.code !== undefined && e.code !== 'ERR_MODULE_NOT_FOUND') return null;
  return /^Cannot find package '([^']+)'/.exec(e.message)?.[1] ?? null;
}

/** `Error.name` of a missing package; main.ts exits with status 2 for it. */
export const MISSING_PACKAGE = 'MissingPackage';

const TFJS = /^@tensorflow\//;

/**
 * The sentence for a missing package, as an Error named MissingPackage; `err` itself when it
 * is not about a missing package.
 */
export function explainMissingPackage(err: unknown): unknown {
  const pkg = missingPackageOf(err);
  if (pkg === null) return err;
  const message =
    pkg === 'webgpu'
      ? "the 'webgpu' package (Dawn, WebGPU for Node), which run and bench need, is not installed: run npm install webgpu in the folder vramlab is installed in"
      : TFJS.test(pkg)
        ? `TensorFlow.js ('${pkg}'), which bench compares against, is not installed: add it with npm install @tensorflow/tfjs @tensorflow/tfjs-backend-webgpu in the folder vramlab is installed in, or pass --no-tfjs`
        : `the '${pkg}' package is not installed: run npm install in the folder vramlab is installed in`;
  return Object.assign(new Error(message, { cause: err }), { name: MISSING_PACKAGE });
}
