import { LitElement, css, html } from 'lit';
import { customElement, state } from 'lit/decorators.js';
import { buttonStyles } from './export-styles.ts';

/** How long "Link copied" stays. */
const SAID_FOR_MS = 4000;

/**
 * "Copy link": puts the page's address (the plan lives in it) on the clipboard and says so.
 * Where the clipboard is refused, it says to copy the address bar instead.
 *
 * @csspart button - the button
 */
@customElement('vl-copy-link')
export class VlCopyLink extends LitElement {
  static override styles = [
    buttonStyles,
    css`
      :host {
        display: inline-flex;
        align-items: center;
        gap: 0.4rem;
      }
      span {
        font-size: 0.85rem;
        color: var(--vl-muted, #5f5f6b);
      }
    `,
  ];

  @state() private said = '';
  private timer: ReturnType<typeof setTimeout> | undefined;

  override render() {
    return html`<button part="button" type="button" data-testid="copy-link" @click=${this.handleClick}>Copy link</button>
      <span role="status" data-testid="copy-link-status">${this.said}</span>`;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this.timer);
  }

  private async handleClick(): Promise<void> {
    try {
      await navigator.clipboard.writeText(location.href);
      this.said = 'Link copied';
    } catch {
      this.said = 'The browser refused the clipboard: copy the address bar instead';
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => (this.said = ''), SAID_FOR_MS);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-copy-link': VlCopyLink;
  }
}
