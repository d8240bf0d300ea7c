import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { controlStyles } from './control-styles.ts';

/** The detail of `vl-guess-change`. */
export interface GuessChangeDetail {
  /** The guess in MiB once locked; null while none is. */
  locked: number | null;
  /** Predict mode is on: the page hides its estimates until the guess is locked. */
  predicting: boolean;
}

const mib = new Intl.NumberFormat('en', { maximumFractionDigits: 4 });

/** A guess in MiB from the input: a finite number ≥ 0, else null. */
export function parseGuess(s: string): number | null {
  const v = s.trim() === '' ? Number.NaN : Number(s);
  return Number.isFinite(v) && v >= 0 ? v : null;
}

/**
 * Predict, then measure: "Predict first" hides the page's estimates; the viewer types a guess
 * of the peak (MiB) and locks it in, which shows the estimates again; the next run scores the
 * guess and the estimate against what it measured.
 *
 * @fires vl-guess-change - {GuessChangeDetail} predict mode or the locked guess changed
 */
@customElement('vl-predict-guess')
export class VlPredictGuess extends LitElement {
  static override styles = [
    controlStyles,
    css`
    /* Outlined until pressed: these buttons are not the panel's Run. */
    button {
      background: transparent;
      color: var(--vl-accent, #0b57d0);
    }
    button[aria-pressed='true'] {
      background: var(--vl-accent, #0b57d0);
      color: var(--vl-bg, #fff);
    }
    :host {
      display: flex;
      flex-wrap: wrap;
      align-items: end;
      gap: 0.4rem 0.9rem;
      margin-top: 0.5rem;
    }
    .field {
      display: grid;
      gap: 0.15rem;
      font-size: 0.85rem;
      width: 13rem;
    }
    .note {
      font-size: 0.85rem;
      flex: 1 1 14rem;
      color: var(--vl-muted, #666);
    }
  `,
  ];

  @property({ type: Boolean }) disabled = false;
  /** The locked guess as the run panel holds it: null clears this element after a run. */
  @property({ attribute: false }) locked: number | null = null;

  @state() private text = '';
  @state() private predicting = false;

  override willUpdate(changed: Map<string, unknown>): void {
    // The panel took the guess for its run: start over.
    if (changed.has('locked') && this.locked === null && changed.get('locked') !== undefined && changed.get('locked') !== null) {
      this.text = '';
      this.predicting = false;
    }
  }

  override render() {
    const locked = this.locked !== null;
    const valid = parseGuess(this.text) !== null;
    const invalid = this.text.trim() !== '' && !valid;
    return html`
      <button type="button" data-testid="predict-toggle" aria-pressed=${this.predicting ? 'true' : 'false'} ?disabled=${this.disabled || locked} @click=${this.handleToggle}>
        Predict first
      </button>
      <div class="field">
        <label for="run-guess">your guess of the peak (MiB)</label>
        <input
          id="run-guess"
          name="guess"
          type="number"
          inputmode="decimal"
          step="any"
          min="0"
          data-testid="guess-input"
          .value=${this.text}
          ?disabled=${locked || this.disabled}
          aria-invalid=${invalid ? 'true' : 'false'}
          aria-describedby="run-guess-note"
          @input=${this.handleInput}
        />
      </div>
      <button type="button" data-testid="lock-guess" ?disabled=${locked || this.disabled || !valid} @click=${this.handleLock}>${locked ? 'Guess locked' : 'Lock in guess'}</button>
      <span class="note" id="run-guess-note" data-testid="guess-note" role="status">
        ${locked
          ? `Locked: ${mib.format(this.locked!)} MiB. Run to compare it with the estimate and the measurement.`
          : invalid
            ? 'A guess is a number of MiB, 0 or more.'
            : this.predicting
              ? 'The estimates are hidden: guess the peak of the run, then lock it in.'
              : 'Predict, then measure: press "Predict first" to hide the estimates, guess, lock, run.'}
      </span>
    `;
  }

  private handleToggle(): void {
    this.predicting = !this.predicting;
    this.fire(null);
  }

  private handleInput(e: Event): void {
    this.text = (e.target as HTMLInputElement).value;
    // Typing a guess is predicting, whether or not the toggle was pressed first.
    if (this.text.trim() !== '' && !this.predicting) {
      this.predicting = true;
      this.fire(null);
    }
  }

  private handleLock(): void {
    const guess = parseGuess(this.text);
    if (guess === null) return;
    this.fire(guess);
  }

  private fire(locked: number | null): void {
    this.dispatchEvent(new CustomEvent<GuessChangeDetail>('vl-guess-change', { detail: { locked, predicting: this.predicting }, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-predict-guess': VlPredictGuess;
  }
}
