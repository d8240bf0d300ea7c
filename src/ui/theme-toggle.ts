import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { THEMES, type Theme } from './theme.ts';

export interface ThemeChangeDetail {
  theme: Theme;
}

/**
 * Light, dark or the system's setting, as three radio buttons styled as one segmented control.
 *
 * @fires vl-theme-change - detail `{ theme }` when another is picked
 * @csspart group - the radio group
 */
@customElement('vl-theme-toggle')
export class VlThemeToggle extends LitElement {
  static override styles = css`
    :host {
      display: inline-block;
    }
    fieldset {
      display: inline-flex;
      border: 1px solid var(--vl-border, #ccc);
      border-radius: 6px;
      padding: 0;
      margin: 0;
      overflow: hidden;
    }
    legend {
      position: absolute;
      width: 1px;
      height: 1px;
      overflow: hidden;
      clip-path: inset(50%);
      white-space: nowrap;
    }
    label {
      position: relative;
      padding: 0.15rem 0.55rem;
      font-size: 0.85rem;
      cursor: pointer;
    }
    input {
      position: absolute;
      opacity: 0;
      inset: 0;
      margin: 0;
      cursor: pointer;
    }
    label:has(input:checked) {
      background: var(--vl-accent, #0b57d0);
      color: var(--vl-bg, #fff);
    }
    label:has(input:focus-visible) {
      outline: 2px solid var(--vl-accent, #0b57d0);
      outline-offset: -3px;
    }
  `;

  @property() theme: Theme = 'system';

  override render() {
    return html`<fieldset part="group" data-testid="theme-toggle" @change=${this.handleChange}>
      <legend>Colour theme</legend>
      ${THEMES.map(
        (t) => html`<label><input type="radio" name="theme" value=${t} .checked=${t === this.theme} data-testid=${`theme-${t}`} />${t}</label>`,
      )}
    </fieldset>`;
  }

  private handleChange(e: Event): void {
    const theme = (e.target as HTMLInputElement).value as Theme;
    this.dispatchEvent(new CustomEvent<ThemeChangeDetail>('vl-theme-change', { detail: { theme }, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-theme-toggle': VlThemeToggle;
  }
  interface HTMLElementEventMap {
    'vl-theme-change': CustomEvent<ThemeChangeDetail>;
  }
}
