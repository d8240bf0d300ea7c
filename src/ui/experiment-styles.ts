/** Styles the experiment views share: controls, fieldsets, the table of points. */
import { css } from 'lit';

export const experimentStyles = css`
  :host {
    display: block;
    min-width: 0;
  }
  .controls {
    display: flex;
    flex-wrap: wrap;
    gap: 0.5rem 1rem;
    align-items: end;
    margin: 0.4rem 0;
  }
  fieldset {
    border: 1px solid var(--vl-border, #ddd);
    border-radius: 6px;
    padding: 0.2rem 0.6rem 0.4rem;
    margin: 0;
  }
  label {
    display: inline-flex;
    flex-direction: column;
    font-size: 0.85rem;
    gap: 0.15rem;
  }
  fieldset label,
  label.inline {
    flex-direction: row;
    align-items: center;
    gap: 0.3rem;
    margin-right: 0.6rem;
  }
  input,
  select {
    font: inherit;
    padding: 0.25rem 0.35rem;
    color: inherit;
    background: transparent;
    border: 1px solid var(--vl-border, #aaa);
    border-radius: 4px;
  }
  input.values {
    width: 10rem;
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
  button:disabled {
    opacity: 0.5;
    cursor: not-allowed;
  }
  button:focus-visible,
  input:focus-visible,
  select:focus-visible {
    outline: 2px solid var(--vl-accent, #0b57d0);
    outline-offset: 1px;
  }
  .error,
  .fail {
    color: var(--vl-error, #b3261e);
  }
  .muted {
    color: var(--vl-muted, #666);
    font-size: 0.85rem;
  }
  .long {
    color: var(--vl-warn-fg, #664d03);
    background: var(--vl-warn-bg, #fff3cd);
    padding: 0.3rem 0.6rem;
    border-radius: 6px;
    font-size: 0.85rem;
  }
  .scroll {
    overflow-x: auto;
    max-width: 100%;
  }
  table {
    border-collapse: collapse;
    font-size: 0.85rem;
    margin-top: 0.5rem;
    font-variant-numeric: tabular-nums;
  }
  th,
  td {
    text-align: right;
    padding: 0.2rem 0.6rem;
    border-bottom: 1px solid var(--vl-border, #eee);
    white-space: nowrap;
  }
  th:first-child,
  td:first-child,
  td.status {
    text-align: left;
  }
  td.status {
    white-space: normal;
    min-width: 10rem;
  }
  vl-scatter-chart {
    max-width: 44rem;
  }
`;
