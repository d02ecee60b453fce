/**
 * {@linkcode Fifo}: a first-in, first-out queue over an array and a head
 * index, so taking from the front is O(1) (`Array.shift` moves every item).
 * The emptied front is let go once it is most of the array.
 *
 * @module
 */

/** A first-in, first-out queue; items are never `undefined`. */
export class Fifo<T> {
  /** Items from `#head` on; the slots before it are emptied. */
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many items it holds. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Adds `item` at the back. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The front item, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** The item `index` places from the front (0 is the front), or `undefined` past the back. */
  at(index: number): T | undefined {
    return this.#items[this.#head + index];
  }

  /** Takes the front item, or `undefined` when empty. */
  shift(): T | undefined {
    const items = this.#items;
    if (this.#head === items.length) return undefined;
    const item = items[this.#head];
    items[this.#head++] = undefined;
    if (this.#head === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Drops every item. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
