import { LitElement, css, html, nothing, svg } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { MAX_SNAPSHOT_BYTES, readMemorySnapshot, replaySnapshot, type SnapshotReplay } from '../protocol/memory-snapshot.ts';
import type { Plan } from '../protocol/plan.ts';
import { compareSnapshot, type Comparison } from '../protocol/snapshot-compare.ts';
import { formatSize } from './format.ts';

/**
 * "Compare with a PyTorch measurement": a `torch.cuda.memory._dump_snapshot()` pickle, chosen
 * or dropped here, replayed in the page (protocol/memory-snapshot.ts: read as data only, no
 * code runs, at most 256 MiB) to its peak and per-phase peaks, shown beside the estimate of the
 * plan on screen with the error per phase, and its allocated bytes over the trace as a line.
 * Nothing leaves the page. The same comparison as `vramlab compare --snapshot`.
 *
 * API: set `plan` (the estimate shown, or null). It fires no events.
 *
 * @csspart drop - the drop zone holding the file input
 * @csspart table - the phase table
 * @csspart curve - the allocated-bytes line
 */
@customElement('vl-snapshot-compare')
export class VlSnapshotCompare extends LitElement {
  static override styles = css`
    :host {
      display: block;
      min-width: 0;
    }
    h3 {
      font-size: 0.95rem;
      margin: 0 0 0.4rem;
    }
    .drop {
      border: 1px dashed var(--vl-muted, #666);
      border-radius: 6px;
      padding: 0.6rem;
    }
    .drop.over {
      border-color: var(--vl-accent, #0b57d0);
      background: color-mix(in srgb, var(--vl-accent, #0b57d0) 8%, transparent);
    }
    p {
      margin: 0.25rem 0;
      overflow-wrap: anywhere;
    }
    .muted {
      color: var(--vl-muted, #666);
      font-size: 0.85rem;
    }
    .error {
      color: var(--vl-error, #b00020);
    }
    table {
      border-collapse: collapse;
      margin: 0.5rem 0;
      font-variant-numeric: tabular-nums;
    }
    th,
    td {
      padding: 0.15rem 0.6rem;
      text-align: right;
    }
    th:first-child,
    td:first-child {
      text-align: left;
    }
    svg {
      width: 100%;
      max-width: 32rem;
      height: 6rem;
      display: block;
    }
    .line {
      fill: none;
      stroke: var(--vl-accent, #0b57d0);
      stroke-width: 1.5;
    }
    .est {
      stroke: var(--vl-muted, #666);
      stroke-dasharray: 4 3;
    }
  `;

  /** The estimate the measurement is compared with. */
  @property({ attribute: false }) plan: Plan | null = null;

  @state() private result: { name: string; replay: SnapshotReplay } | null = null;
  @state() private error = '';
  @state() private over = false;

  override render() {
    // The estimate's framework is the form's; the comparison reads only the plan's bytes.
    const c = this.result && this.plan ? compareSnapshot(this.result.replay, this.plan, this.result.name, '') : null;
    return html`<h3 id="snapshot-title">Compare with a PyTorch measurement</h3>
      <div
        part="drop"
        class="drop ${this.over ? 'over' : ''}"
        data-testid="snapshot-drop"
        @dragover=${this.handleDragOver}
        @dragleave=${this.handleDragLeave}
        @drop=${this.handleDrop}
      >
        <label
          >Memory snapshot (.pickle)
          <input type="file" accept=".pickle,.pkl,application/octet-stream" data-testid="snapshot-file" @change=${this.handleFile} />
        </label>
        <p class="muted">
          Record a training step with <code>torch.cuda.memory._record_memory_history()</code>, save it with
          <code>torch.cuda.memory._dump_snapshot("step.pickle")</code>, and drop the file here. It is read in the page as data, never run, and
          not uploaded.
        </p>
      </div>
      ${this.error ? html`<p class="error" role="alert" data-testid="snapshot-error">${this.error}</p>` : nothing} ${c ? this.renderResult(c) : nothing}`;
  }

  private renderResult(c: Comparison) {
    const s = c.snapshot;
    const pct = (x: number | null) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`);
    return html`<p data-testid="snapshot-summary" aria-live="polite">
        ${s.path}: ${s.events} trace events (${s.allocs} allocs, ${s.frees} frees); peak ${formatSize(s.peakBytes)} allocated, in ${s.peakPhase}.
      </p>
      <table part="table" data-testid="snapshot-table" aria-labelledby="snapshot-title">
        <thead>
          <tr>
            <th scope="col">phase</th>
            <th scope="col">measured peak</th>
            <th scope="col">estimated peak</th>
            <th scope="col">error</th>
          </tr>
        </thead>
        <tbody>
          ${c.rows.map(
            (r) =>
              html`<tr data-phase=${r.phase}>
                <th scope="row">${r.phase}</th>
                <td data-bytes=${r.measuredBytes ?? ''}>${r.measuredBytes === null ? 'no events' : formatSize(r.measuredBytes)}</td>
                <td data-bytes=${r.estimatedBytes}>${formatSize(r.estimatedBytes)}</td>
                <td>${pct(r.error)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
      ${this.renderCurve(c)}
      <p class="muted">
        Measured: the most bytes allocated at once (requested sizes, as memory_viz sums them); each event's phase comes from its frames (torch/optim,
        autograd, a module's forward). Error: (estimate − measured) / measured.
      </p>`;
  }

  /** Allocated bytes over the trace's allocs and frees, with the estimated peak dashed. */
  private renderCurve(c: Comparison) {
    const pts = c.curve;
    if (pts.length < 2) return nothing;
    const W = 320;
    const H = 90;
    const top = Math.max(c.snapshot.peakBytes, c.estimate.peakBytes) || 1;
    const y = (b: number) => H - (b / top) * (H - 4);
    const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${((i / (pts.length - 1)) * W).toFixed(1)},${y(p.bytes).toFixed(1)}`).join(' ');
    return html`<svg part="curve" viewBox="0 0 ${W} ${H}" role="img" aria-label="Allocated bytes over the snapshot's trace, peaking at ${formatSize(c.snapshot.peakBytes)}; the estimated peak is ${formatSize(c.estimate.peakBytes)}">
      ${svg`<path class="line" d=${d}></path><line class="line est" x1="0" x2=${W} y1=${y(c.estimate.peakBytes)} y2=${y(c.estimate.peakBytes)}></line>`}
    </svg>`;
  }

  private handleDragOver(e: DragEvent): void {
    e.preventDefault();
    this.over = true;
  }

  private handleDragLeave(): void {
    this.over = false;
  }

  private handleDrop(e: DragEvent): void {
    e.preventDefault();
    this.over = false;
    const file = e.dataTransfer?.files[0];
    if (file) void this.load(file);
  }

  private handleFile(e: Event): void {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) void this.load(file);
  }

  /** Reads, replays and keeps the file's measurement; a file that is not a snapshot leaves one sentence. */
  async load(file: Blob & { name?: string }): Promise<void> {
    const name = file.name ?? 'snapshot';
    this.error = '';
    this.result = null;
    if (file.size > MAX_SNAPSHOT_BYTES) {
      this.error = `${name} is ${formatSize(file.size)}, over the ${formatSize(MAX_SNAPSHOT_BYTES)} limit: record fewer steps (max_entries).`;
      return;
    }
    try {
      this.result = { name, replay: replaySnapshot(readMemorySnapshot(new Uint8Array(await file.arrayBuffer())), { maxPoints: 400 }) };
    } catch (err) {
      this.error = `${name}: ${(err as Error).message}`;
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-snapshot-compare': VlSnapshotCompare;
  }
}
