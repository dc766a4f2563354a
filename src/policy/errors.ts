import { VifqError } from '../errors.js';

/** The policy was called with inputs it cannot work with (a bug of the caller). */
export class PolicyInputError extends VifqError {
  constructor(what: string, hint: string) {
    super(`policy input rejected: ${what}`, { hint });
  }
}
