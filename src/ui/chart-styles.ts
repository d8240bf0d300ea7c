/**
 * Styles the charts share: the colour of each memory category (one palette, so a category
 * looks the same in every chart; Okabe–Ito based, lighter in dark mode) and the legend.
 *
 * The light and dark values live in the page theme (theme.ts sets `--vl-theme-cat-<category>`
 * on <vl-app> by its data-theme attribute or the system setting); a chart reads
 * `--vl-cat-<category>`, which falls back to the light value when drawn outside the app.
 * Charts should take dark colours from the theme this way, not from a prefers-color-scheme
 * query of their own, so the page's light/dark switch reaches them.
 */
import { css, unsafeCSS } from 'lit';
import { PLAN_CATEGORIES, type PlanCategory } from '../protocol/plan.ts';

export const CATEGORY_COLOURS: Record<'light' | 'dark', Record<PlanCategory, string>> = {
  light: {
    weights: '#0072b2',
    masterWeights: '#56b4e9',
    gradients: '#e69f00',
    optimizer: '#cc79a7',
    activations: '#009e73',
    activationGrads: '#d55e00',
    logits: '#b8a200',
    kvCache: '#7f7f7f',
    inputs: '#8c6d31',
    workspace: '#6a3d9a',
  },
  dark: {
    weights: '#5aa9e6',
    masterWeights: '#9fd3f5',
    gradients: '#f2b84b',
    optimizer: '#e7a1cb',
    activations: '#3fcf9e',
    activationGrads: '#ff8a50',
    logits: '#f0e442',
    kvCache: '#b5b5b5',
    inputs: '#cfa96a',
    workspace: '#b39ddb',
  },
};

export const categoryPalette = css`
  :host {
    ${unsafeCSS(PLAN_CATEGORIES.map((c) => `--vl-cat-${c}: var(--vl-theme-cat-${c}, ${CATEGORY_COLOURS.light[c]});`).join('\n'))}
  }
`;

/** A legend as a wrapping list of swatches and labels. */
export const legendStyles = css`
  ul {
    list-style: none;
    display: flex;
    flex-wrap: wrap;
    gap: 0.25rem 0.9rem;
    padding: 0;
    margin: 0.4rem 0 0;
    font-size: 0.8rem;
  }
  li {
    display: flex;
    align-items: center;
    gap: 0.3rem;
  }
  .swatch {
    display: inline-block;
    width: 0.8rem;
    height: 0.8rem;
    border-radius: 2px;
  }
`;
