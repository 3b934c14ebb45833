// Director-style errors: an HTTP status and a BOSH error code travel with the message
// (director-api.md §1.4).
export class CapstanError extends Error {
  constructor(
    message: string,
    public readonly code = 100,
    public readonly httpStatus = 500,
  ) {
    super(message);
    this.name = 'CapstanError';
  }
}

export const notFound = (message: string, code: number) => new CapstanError(message, code, 404);
export const badRequest = (message: string, code = 40000) => new CapstanError(message, code, 400);

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
