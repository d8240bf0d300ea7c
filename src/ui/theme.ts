/**
 * The page's colours, light and dark, and the choice between them: light, dark, or the
 * system's setting (the default). The choice is kept in localStorage and shown as
 * `data-theme="light|dark"` on <vl-app> (absent for system) and on <html> (for the page
 * background outside the app). Components inherit the `--vl-*` custom properties set here.
 */
import { css, unsafeCSS, type ReactiveController, type ReactiveControllerHost } from 'lit';
import { PLAN_CATEGORIES } from '../protocol/plan.ts';
import { CATEGORY_COLOURS } from './chart-styles.ts';

export const THEMES = ['system', 'light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];

export const THEME_STORAGE_KEY = 'vramlab-theme';

const TOKENS: Record<'light' | 'dark', Record<string, string>> = {
  light: {
    bg: '#fbfbfd',
    fg: '#1b1b1f',
    surface: '#ffffff',
    border: '#d0d0d7',
    muted: '#5f5f6b',
    accent: '#0b57d0',
    error: '#b00020',
    ok: '#1a7f37',
    'warn-bg': '#fff3cd',
    'warn-fg': '#664d03',
    textbook: '#54546b',
    overhead: '#b7b7c4',
    'phase-forward': '#4a90d9',
    'phase-backward': '#d9534f',
    'phase-recompute': '#9b59b6',
    'phase-optimizer': '#2e9e5b',
    'scatter-measured': '#d55e00',
    'scatter-estimate': '#0072b2',
    'scatter-activations': '#009e73',
    'scatter-estimateActivations': '#009e73',
  },
  dark: {
    bg: '#16161a',
    fg: '#e8e8ee',
    surface: '#1f1f25',
    border: '#3a3a44',
    muted: '#a0a0ad',
    accent: '#8ab4f8',
    error: '#ff8a80',
    ok: '#7ee2a8',
    'warn-bg': '#4a3b00',
    'warn-fg': '#ffe08a',
    textbook: '#a9a9c2',
    overhead: '#6b6b78',
    'phase-forward': '#8ab4f8',
    'phase-backward': '#f28b82',
    'phase-recompute': '#d7aefb',
    'phase-optimizer': '#81c995',
    'scatter-measured': '#ff8a50',
    'scatter-estimate': '#8ab4f8',
    'scatter-activations': '#3fcf9e',
    'scatter-estimateActivations': '#3fcf9e',
  },
};

function block(mode: 'light' | 'dark'): string {
  const vars = Object.entries(TOKENS[mode]).map(([k, v]) => `--vl-${k}: ${v};`);
  const cats = PLAN_CATEGORIES.map((c) => `--vl-theme-cat-${c}: ${CATEGORY_COLOURS[mode][c]};`);
  return `color-scheme: ${mode}; ${[...vars, ...cats].join(' ')}`;
}

/** For <vl-app>'s styles: light by default, dark when chosen or when the system is dark and light was not chosen. */
export const themeStyles = css`
  :host {
    ${unsafeCSS(block('light'))}
  }
  :host([data-theme='dark']) {
    ${unsafeCSS(block('dark'))}
  }
  @media (prefers-color-scheme: dark) {
    :host(:not([data-theme='light'])) {
      ${unsafeCSS(block('dark'))}
    }
  }
`;

function stored(): Theme {
  try {
    const v = localStorage.getItem(THEME_STORAGE_KEY);
    return (THEMES as readonly string[]).includes(v ?? '') ? (v as Theme) : 'system';
  } catch {
    // Storage can be off (privacy settings); the system setting then holds.
    return 'system';
  }
}

/** Reads, applies and keeps the theme choice for its host. */
export class ThemeController implements ReactiveController {
  theme: Theme = stored();

  constructor(private readonly host: ReactiveControllerHost & HTMLElement) {
    host.addController(this);
  }

  hostConnected(): void {
    this.apply();
  }

  set(theme: Theme): void {
    this.theme = theme;
    try {
      if (theme === 'system') localStorage.removeItem(THEME_STORAGE_KEY);
      else localStorage.setItem(THEME_STORAGE_KEY, theme);
    } catch {
      // Not kept across visits, but applied now.
    }
    this.apply();
    this.host.requestUpdate();
  }

  private apply(): void {
    for (const el of [this.host, document.documentElement]) {
      if (this.theme === 'system') delete el.dataset.theme;
      else el.dataset.theme = this.theme;
    }
  }
}
