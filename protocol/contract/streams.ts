/**
 * Stream methods in contracts: a method whose spec declares `stream` (the
 * schema of its items) is served from an `AsyncIterable` whose items are
 * checked before they leave, and called through a typed reader whose items
 * are checked on arrival. A bad item ends the stream with -32603; the other
 * side's iterator is returned either way.
 *
 * Internal to `contract.ts`.
 *
 * @module
 */

import type { StreamReader } from "../stream/consumer.ts";
import { ErrorCode, RpcError } from "../wire/errors.ts";
import { formatIssues, type Validate, type ValidationIssue } from "./issues.ts";

/**
 * The handler's items, each checked by `validate` before it is sent; the
 * return value checked by `validateResult`. `refuse` makes the error for a
 * value that breaks its schema (`what`: "an item", "the result"), and logs it.
 */
export async function* checkedItems(
  items: AsyncIterable<unknown>,
  validate: Validate,
  validateResult: Validate | undefined,
  refuse: (what: string, issues: readonly ValidationIssue[]) => RpcError,
): AsyncGenerator<unknown, unknown> {
  const iterator = items[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        done = true;
        const issues = validateResult?.(next.value);
        if (issues !== undefined) throw refuse("the result", issues);
        return next.value;
      }
      const issues = validate(next.value);
      if (issues !== undefined) throw refuse("an item", issues);
      yield next.value;
    }
  } finally {
    // Cancelled, or an item was refused: the handler's own finally runs.
    if (!done) await iterator.return?.();
  }
}

/**
 * A reader whose items (and end value) are checked on arrival: one that
 * breaks its schema cancels the stream and throws -32603.
 */
export class CheckedReader<T> implements StreamReader<T> {
  #reader: StreamReader<unknown>;
  #method: string;
  #validate: Validate;
  #validateResult: Validate | undefined;

  /**
   * @param reader The stream's own reader.
   * @param method The method, for errors.
   * @param validate Checks an item.
   * @param validateResult Checks the end value, when it has a schema.
   */
  constructor(
    reader: StreamReader<unknown>,
    method: string,
    validate: Validate,
    validateResult: Validate | undefined,
  ) {
    this.#reader = reader;
    this.#method = method;
    this.#validate = validate;
    this.#validateResult = validateResult;
  }

  /** The next item, checked. */
  async next(): Promise<IteratorResult<T>> {
    const next = await this.#reader.next();
    const issues = next.done ? this.#validateResult?.(next.value) : this.#validate(next.value);
    if (issues === undefined) return next as IteratorResult<T>;
    await this.#reader.return();
    throw new RpcError(
      ErrorCode.InternalError,
      `Invalid ${next.done ? "result" : "item"} from '${this.#method}': ${formatIssues(issues)}`,
      issues,
    );
  }

  /** Stops reading and cancels the stream. */
  return(value?: unknown): Promise<IteratorResult<T>> {
    return this.#reader.return(value) as Promise<IteratorResult<T>>;
  }

  /** Itself: one reader. */
  [Symbol.asyncIterator](): StreamReader<T> {
    return this;
  }
}
