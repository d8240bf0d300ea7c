/** Styles the experiment views share: controls, fieldsets, the table of points. */
import { css } from 'lit';
import { controlStyles } from './control-styles.ts';

export const experimentStyles = [
  controlStyles,
  css`
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
  input.values {
    width: 10rem;
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
`,
];
