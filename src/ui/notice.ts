import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';

/** How many items a notice lists before it summarises the rest as a count. */
const MAX_ITEMS = 10;

/**
 * A message box with a heading, an optional list of sentences and a dismiss button. Role
 * `alert`: it appears when something the user did not ask for happened (a link with bad
 * settings). All text is rendered as text.
 *
 * @fires vl-notice-dismiss - the user closed the notice; the host removes it
 * @csspart notice - the box
 * @csspart dismiss - the close button
 */
@customElement('vl-notice')
export class VlNotice extends LitElement {
  static override styles = css`
    :host {
      display: block;
    }
    div {
      display: grid;
      grid-template-columns: 1fr auto;
      gap: 0.25rem 0.75rem;
      align-items: start;
      border: 1px solid var(--vl-warn-fg, #664d03);
      border-radius: 8px;
      padding: 0.5rem 0.75rem;
      background: var(--vl-warn-bg, #fff3cd);
      color: var(--vl-warn-fg, #664d03);
    }
    p {
      margin: 0;
      font-weight: 600;
    }
    ul {
      grid-column: 1 / -1;
      margin: 0;
      padding-left: 1.25rem;
      overflow-wrap: anywhere;
    }
    button {
      font: inherit;
      color: inherit;
      background: transparent;
      border: 1px solid currentColor;
      border-radius: 4px;
      padding: 0 0.5rem;
      cursor: pointer;
    }
    button:focus-visible {
      outline: 2px solid var(--vl-accent, #0b57d0);
      outline-offset: 1px;
    }
  `;

  @property() heading = '';
  @property({ attribute: false }) items: readonly string[] = [];

  override render() {
    const shown = this.items.slice(0, MAX_ITEMS);
    const more = this.items.length - shown.length;
    return html`<div part="notice" role="alert">
      <p>${this.heading}</p>
      <button part="dismiss" type="button" aria-label="Dismiss" @click=${this.handleDismiss}>×</button>
      ${shown.length > 0
        ? html`<ul>
            ${shown.map((item) => html`<li>${item}</li>`)} ${more > 0 ? html`<li>…and ${more} more.</li>` : nothing}
          </ul>`
        : nothing}
    </div>`;
  }

  private handleDismiss(): void {
    this.dispatchEvent(new CustomEvent('vl-notice-dismiss', { bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-notice': VlNotice;
  }
  interface HTMLElementEventMap {
    'vl-notice-dismiss': CustomEvent<void>;
  }
}
