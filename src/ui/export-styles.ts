/** The look of the small outlined buttons that save files and act on the plan. */
import { css } from 'lit';

export const buttonStyles = css`
  button {
    font: inherit;
    font-size: 0.85rem;
    padding: 0.2rem 0.7rem;
    border-radius: 4px;
    border: 1px solid var(--vl-accent, #0b57d0);
    background: transparent;
    color: var(--vl-accent, #0b57d0);
    cursor: pointer;
  }
  button:disabled {
    opacity: 0.5;
    cursor: not-allowed;
  }
  button:focus-visible {
    outline: 2px solid var(--vl-accent, #0b57d0);
    outline-offset: 1px;
  }
`;

/** A component that is one inline row of such buttons. */
export const buttonRowStyles = css`
  :host {
    display: inline-block;
  }
  div {
    display: inline-flex;
    flex-wrap: wrap;
    gap: 0.35rem;
    align-items: center;
  }
`;
