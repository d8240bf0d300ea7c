// Finds what the tests and the CLI need outside node_modules: a Chromium for Playwright, and
// a Vulkan driver for Dawn (the `webgpu` package). Plain JS so bin/ and scripts/ share it
// before any TypeScript loader is up.
import { existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const BROWSER_CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/opt/google/chrome/chrome',
];

/** The browser for e2e: $CHROMIUM_PATH, then Debian's chromium, then an installed Chrome. */
export function findBrowser(env = process.env) {
  if (env.CHROMIUM_PATH) {
    if (!existsSync(env.CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH=${env.CHROMIUM_PATH} does not exist; point it at a Chromium or Chrome binary`);
    return env.CHROMIUM_PATH;
  }
  return BROWSER_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** On Debian as root, installs Debian's chromium; elsewhere explains how to get one. */
export function ensureBrowser(log = console.log) {
  const found = findBrowser();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && existsSync('/usr/bin/apt-get') && existsSync('/etc/debian_version')) {
    log('no Chromium found: installing Debian\'s chromium (apt-get install -y chromium)…');
    const opts = { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } };
    execFileSync('apt-get', ['update', '-qq'], opts);
    execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], opts);
    const now = findBrowser();
    if (now) return now;
  }
  throw new Error(
    'no Chromium or Chrome found for the e2e tests: install one (Debian/Ubuntu: sudo apt-get install chromium) ' +
      'or set CHROMIUM_PATH=/path/to/chrome',
  );
}

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const CHROMIUM_LIB = '/usr/lib/chromium';

function systemHasLibVulkan() {
  try {
    return /libvulkan\.so\.1\b/.test(execFileSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

function systemIcds() {
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  return dirs.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.json')) : []));
}

/**
 * Environment additions that let Dawn find an adapter on this machine: the system's Vulkan
 * driver when there is one, else Chromium's SwiftShader (CPU) and the loader Chromium ships.
 * Returns {} when nothing needs to change. The loader is dlopen'ed at Dawn start-up, so these
 * must be in the environment of the process before it starts (see bin/vramlab.mjs).
 */
export function gpuEnv(env = process.env) {
  const add = {};
  if (!env.XDG_RUNTIME_DIR) add.XDG_RUNTIME_DIR = '/tmp';
  const haveLoader = systemHasLibVulkan();
  if (!haveLoader && existsSync(`${CHROMIUM_LIB}/libvulkan.so.1`)) {
    const cur = env.LD_LIBRARY_PATH ?? '';
    if (!cur.split(':').includes(CHROMIUM_LIB)) add.LD_LIBRARY_PATH = cur ? `${CHROMIUM_LIB}:${cur}` : CHROMIUM_LIB;
  }
  if (!env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES && systemIcds().length === 0 && existsSync(SWIFTSHADER_ICD)) {
    add.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  return add;
}
