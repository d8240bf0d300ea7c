/** Page entry: defines the components; <vl-app> in index.html does the rest. */
import './ui/app.ts';
