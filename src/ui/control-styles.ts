/** The look of the lab's inputs and its Run buttons (filled) and secondary buttons (outlined). */
import { css } from 'lit';

export const controlStyles = css`
  input,
  select {
    font: inherit;
    padding: 0.25rem 0.35rem;
    color: inherit;
    background: transparent;
    border: 1px solid var(--vl-border, #aaa);
    border-radius: 4px;
  }
  [aria-invalid='true'] {
    border-color: var(--vl-error, #b00020);
  }
  button {
    font: inherit;
    padding: 0.3rem 1rem;
    border-radius: 4px;
    border: 1px solid var(--vl-accent, #0b57d0);
    background: var(--vl-accent, #0b57d0);
    color: var(--vl-bg, #fff);
    cursor: pointer;
  }
  button.secondary {
    background: transparent;
    color: var(--vl-accent, #0b57d0);
  }
  button:disabled,
  input:disabled {
    opacity: 0.5;
    cursor: not-allowed;
  }
  input:focus-visible,
  select:focus-visible,
  button:focus-visible {
    outline: 2px solid var(--vl-accent, #0b57d0);
    outline-offset: 1px;
  }
`;
