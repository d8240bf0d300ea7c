/**
 * The engine's entry in Node: the `webgpu` package (Dawn) in place of `navigator.gpu`. The CLI
 * and the Node GPU tests open their device here; the worker never imports this file.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { create, globals } from 'webgpu';
import { openDevice, type OpenDeviceOptions, type OpenedDevice } from './device.ts';
import { fallbackMatmulTraits, matmulTraits, setMatmulTraits } from './kernels/matmul.ts';
import { ENGINE_ERRORS } from '../protocol/engine-api.ts';

// GPUBufferUsage, GPUMapMode, GPUValidationError…: the ledger and kernels read them as globals.
Object.assign(globalThis, globals);

/**
 * Dawn's instance, created on first use and held for the life of the process on purpose: if
 * it is garbage-collected while a device from it lives, Dawn crashes.
 */
let gpu: GPU | null = null;

/** The process's GPU object (one Dawn instance). */
export function nodeGpu(): GPU {
  gpu ??= create([]);
  return gpu;
}

/**
 * openDevice() on Dawn. Dawn finds drivers through the Vulkan loader, which reads
 * VK_ICD_FILENAMES and LD_LIBRARY_PATH when the process starts (bin/vramlab.mjs sets them
 * before it does), so a missing adapter is explained in those terms.
 */
export async function openNodeDevice(opts: OpenDeviceOptions = {}): Promise<OpenedDevice> {
  missingDriverFiles();
  try {
    const opened = await openDevice(nodeGpu(), opts);
    // A CPU adapter's split-K fills the cores this process may use.
    if (opened.summary.isFallbackAdapter) setMatmulTraits(opened.device, { ...matmulTraits(opened.device), fillWorkgroups: fallbackMatmulTraits(availableParallelism()).fillWorkgroups });
    return opened;
  } catch (err) {
    if (!(err instanceof Error) || err.name !== ENGINE_ERRORS.NoAdapter) throw err;
    const icd = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
    const e = new Error(
      icd
        ? `No WebGPU adapter was found with VK_ICD_FILENAMES=${icd}: check that the file exists and names a Vulkan driver ` +
            '(SwiftShader: /usr/lib/chromium/vk_swiftshader_icd.json, with LD_LIBRARY_PATH=/usr/lib/chromium)'
        : 'No WebGPU adapter was found: install the Vulkan driver of your GPU, or run on the CPU with SwiftShader: ' +
            'install chromium and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium',
      { cause: err },
    );
    e.name = err.name;
    throw e;
  }
}

/**
 * VK_ICD_FILENAMES (or VK_DRIVER_FILES) naming only files that do not exist finds no driver;
 * said here in one line, before Dawn starts, because the Vulkan loader and Dawn would first
 * print their own warnings about it on stderr.
 */
function missingDriverFiles(): void {
  const name = process.env.VK_ICD_FILENAMES ? 'VK_ICD_FILENAMES' : process.env.VK_DRIVER_FILES ? 'VK_DRIVER_FILES' : null;
  if (name === null) return;
  const files = process.env[name]!.split(':').filter((f) => f !== '');
  if (files.length === 0 || files.some((f) => existsSync(f))) return;
  const e = new Error(
    `No WebGPU adapter: ${name}=${process.env[name]} names no file that exists; point it at a Vulkan driver's .json ` +
      '(SwiftShader: /usr/lib/chromium/vk_swiftshader_icd.json, with LD_LIBRARY_PATH=/usr/lib/chromium), or unset it',
  );
  e.name = ENGINE_ERRORS.NoAdapter;
  throw e;
}
