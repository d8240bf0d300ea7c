/**
 * Styles the charts share: the colour of each memory category (one palette, so a category
 * looks the same in every chart; Okabe–Ito based, lighter in dark mode) and the legend.
 */
import { css } from 'lit';

export const categoryPalette = css`
  :host {
    --vl-cat-weights: #0072b2;
    --vl-cat-masterWeights: #56b4e9;
    --vl-cat-gradients: #e69f00;
    --vl-cat-optimizer: #cc79a7;
    --vl-cat-activations: #009e73;
    --vl-cat-activationGrads: #d55e00;
    --vl-cat-logits: #b8a200;
    --vl-cat-kvCache: #7f7f7f;
    --vl-cat-inputs: #8c6d31;
    --vl-cat-workspace: #6a3d9a;
  }
  @media (prefers-color-scheme: dark) {
    :host {
      --vl-cat-weights: #5aa9e6;
      --vl-cat-masterWeights: #9fd3f5;
      --vl-cat-gradients: #f2b84b;
      --vl-cat-optimizer: #e7a1cb;
      --vl-cat-activations: #3fcf9e;
      --vl-cat-activationGrads: #ff8a50;
      --vl-cat-logits: #f0e442;
      --vl-cat-kvCache: #b5b5b5;
      --vl-cat-inputs: #cfa96a;
      --vl-cat-workspace: #b39ddb;
    }
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
