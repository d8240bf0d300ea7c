/** A model or configuration the planner cannot estimate; the message says what to change. */
export class EstimateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EstimateError';
  }
}
