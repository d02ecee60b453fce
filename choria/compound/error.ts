/**
 * The one error the compound filter language throws: what went wrong and
 * where (a 0-based offset into the expression, shown as line:column).
 *
 * @module
 */

/** Longest expression accepted, in UTF-16 code units. */
export const MAX_EXPRESSION_LENGTH = 4096;
/** Deepest nesting accepted: brackets, calls, and operands of operators (a chain `a && b && c` nests 3 deep). */
export const MAX_DEPTH = 100;
/** Most evaluation steps one expression may take on one node. */
export const MAX_STEPS = 100_000;

/** A syntax, type or limit error in a compound filter, with its position. */
export class CompoundError extends Error {
  /** The 0-based offset in the expression. */
  readonly offset: number;
  /** The expression. */
  readonly source: string;

  /**
   * Makes the error; the message gains " at line:column".
   *
   * @param message What is wrong.
   * @param source The expression.
   * @param offset Where, as a 0-based offset.
   */
  constructor(message: string, source: string, offset: number) {
    const before = source.slice(0, Math.max(0, offset));
    const line = before.split("\n").length;
    const column = offset - before.lastIndexOf("\n");
    super(`${message} at ${line}:${column}`);
    this.name = "CompoundError";
    this.offset = offset;
    this.source = source;
  }
}
