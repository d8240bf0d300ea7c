/**
 * The one engine the page's run panel, experiments and lessons share. The worker runs one
 * training at a time; this holds which panel owns it now, so the others disable their Run
 * buttons and say why instead of failing with Busy. It also keeps what this page has learned
 * about the device's speed (device-speed.ts) and which shapes' kernels are compiled, so every
 * panel can say how long a run will take before it starts.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import type { EngineRunConfig, EngineRunReport } from '../protocol/engine-api.ts';
import type { RunProgress } from '../protocol/run.ts';
import { stepWork } from '../estimate/index.ts';
import { learnSpeed, predictRunMs, priorSpeed, shapeKey, type SpeedModel, type WorkPredictor } from './device-speed.ts';

/** What the page needs from the engine: EngineController.run and the worker's cancel(). */
export interface RunEngine {
  run(config: EngineRunConfig, onProgress: (p: RunProgress) => void): Promise<EngineRunReport>;
  cancel(): Promise<void>;
  /** The device's measured matmul rate (the engine's throughput probe); absent where there is none. */
  measureThroughput?(): Promise<{ gflops: number }>;
}

export const LAB_OWNERS = ['run', 'experiments', 'lessons'] as const;
export type LabOwner = (typeof LAB_OWNERS)[number];

/** How each owner is named to the others: "Experiments are running…". */
const OWNER_TEXT: Record<LabOwner, string> = { run: 'A run is in progress', experiments: 'An experiment is running', lessons: 'A lesson is running' };

export class LabRunner extends EventTarget {
  /** The panel whose runs hold the engine now; null when idle. */
  owner: LabOwner | null = null;
  /** What this page has learned about the device's speed; priors until the adapter is known. */
  speed: SpeedModel = priorSpeed(true);
  /** The probe's matmul rate once measured (GFLOP/s); null before. */
  measuredGflops: number | null = null;
  private software: boolean | null = null;
  private readonly compiled = new Set<string>();

  constructor(
    private readonly engine: RunEngine,
    /** The step's work for a config: the engine's own count, known before the run. */
    readonly work: WorkPredictor = stepWork,
  ) {
    super();
  }

  /** Sets the priors for the adapter's kind once it is known (a software adapter is far slower). */
  setAdapterKind(software: boolean): void {
    if (this.software === software) return;
    this.software = software;
    this.speed = priorSpeed(software, this.measuredGflops ?? undefined);
    this.compiled.clear();
    this.changed();
  }

  /** The sentence a panel shows while another owns the engine; null when `who` may run. */
  blockedFor(who: LabOwner): string | null {
    return this.owner && this.owner !== who ? `${OWNER_TEXT[this.owner]}; wait for it to finish or cancel it.` : null;
  }

  /** Takes the engine for `who`; false when another panel holds it. */
  acquire(who: LabOwner): boolean {
    if (this.owner && this.owner !== who) return false;
    this.owner = who;
    this.changed();
    return true;
  }

  release(who: LabOwner): void {
    if (this.owner !== who) return;
    this.owner = null;
    this.changed();
  }

  isCompiled(c: EngineRunConfig): boolean {
    return this.compiled.has(shapeKey(c));
  }

  /** Shapes compiled on this page's device, for sizing several runs at once. */
  compiledShapes(): ReadonlySet<string> {
    return this.compiled;
  }

  /** The run's predicted wall time, ms; shapes in `alsoCompiled` count as compiled (an earlier run of the same queue). */
  predictMs(c: EngineRunConfig, alsoCompiled: ReadonlySet<string> = new Set()): number {
    return predictRunMs(this.speed, this.work(c), c.steps, this.isCompiled(c) || alsoCompiled.has(shapeKey(c)));
  }

  /** One run for the panel that holds the engine; what it measures refines the speed model. */
  async run(who: LabOwner, config: EngineRunConfig, onProgress: (p: RunProgress) => void): Promise<EngineRunReport> {
    if (this.owner !== who) {
      const e = new Error(this.blockedFor(who) ?? 'the engine was not taken for this run');
      e.name = 'Busy';
      throw e;
    }
    const compiled = this.isCompiled(config);
    const report = await this.engine.run(config, onProgress);
    this.speed = learnSpeed(this.speed, this.work(config), report, compiled);
    this.compiled.add(shapeKey(config));
    this.changed();
    return report;
  }

  /**
   * Measures the device's FLOP rate once (for `who`, which must hold the engine) and takes it as
   * the time model's rate until runs refine it. Without a probe, or if it fails, the priors stay.
   */
  async measureOnce(who: LabOwner): Promise<void> {
    if (this.measuredGflops !== null || !this.engine.measureThroughput || this.owner !== who) return;
    try {
      const { gflops } = await this.engine.measureThroughput();
      this.measuredGflops = gflops;
      // The probe times matmuls only; a run learned since keeps its own scale.
      if (this.speed.learned === 0) this.speed = priorSpeed(this.software ?? true, gflops);
      this.changed();
    } catch {
      // A busy or restarting worker: the priors stand, and the next lesson measures again.
    }
  }

  async cancel(): Promise<void> {
    await this.engine.cancel();
  }

  private changed(): void {
    this.dispatchEvent(new Event('change'));
  }
}

/** Re-renders the host whenever the shared runner changes hands or learns. */
export class LabRunnerController implements ReactiveController {
  private current: LabRunner | null = null;
  private readonly onChange = () => this.host.requestUpdate();

  constructor(private readonly host: ReactiveControllerHost) {
    host.addController(this);
  }

  /** Called from the host's willUpdate with its `runner` property. */
  track(runner: LabRunner | null): void {
    if (runner === this.current) return;
    this.current?.removeEventListener('change', this.onChange);
    this.current = runner;
    runner?.addEventListener('change', this.onChange);
  }

  hostConnected(): void {
    this.current?.addEventListener('change', this.onChange);
  }

  hostDisconnected(): void {
    this.current?.removeEventListener('change', this.onChange);
  }
}
