/**
 * A stream of values pushed by the router and pulled by a transport
 * (graphql-sse, graphql-ws), which ends it with `return()` when the client
 * goes away. Values pushed before the end are all delivered, in order.
 */
export class Feed<T> implements AsyncGenerator<T, undefined> {
  private readonly values: T[] = [];
  private waiting: ((result: IteratorResult<T, undefined>) => void) | undefined;
  private ended = false;
  private closed = false;

  /** `onClose` runs once, when the stream ends for any reason. */
  constructor(private readonly onClose: () => void) {}

  get open(): boolean {
    return !this.ended;
  }

  push(value: T): void {
    if (this.ended) return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting({ value, done: false });
    } else {
      this.values.push(value);
    }
  }

  /** Ends the stream once what was pushed is delivered. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.values.length === 0) this.finish();
  }

  private finish(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
    if (!this.closed) {
      this.closed = true;
      this.onClose();
    }
  }

  async next(): Promise<IteratorResult<T, undefined>> {
    if (this.values.length > 0) {
      const value = this.values.shift()!;
      if (this.ended && this.values.length === 0) this.finish();
      return { value, done: false };
    }
    if (this.ended) {
      this.finish();
      return { value: undefined, done: true };
    }
    return new Promise((resolve) => (this.waiting = resolve));
  }

  async return(): Promise<IteratorResult<T, undefined>> {
    this.ended = true;
    this.values.length = 0;
    this.finish();
    return { value: undefined, done: true };
  }

  async throw(error: unknown): Promise<IteratorResult<T, undefined>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}
