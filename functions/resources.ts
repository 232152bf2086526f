// Every resource a task takes (container, temp file, cache, device) is registered here as it is
// taken and released exactly once, in reverse order, by the pipeline's `finally`.
export class ResourceScope {
  readonly #releases: Array<{ what: string; release: () => Promise<void> | void }> = [];
  #released = false;

  /** Register `release` for a resource just taken. */
  defer(what: string, release: () => Promise<void> | void): void {
    if (this.#released) throw new Error(`cannot take "${what}": the task's resources were already released`);
    this.#releases.push({ what, release });
  }

  /** Release everything, newest first; a failing release does not stop the others. */
  async releaseAll(): Promise<Array<{ what: string; error: unknown }>> {
    if (this.#released) return [];
    this.#released = true;
    const failures: Array<{ what: string; error: unknown }> = [];
    for (const { what, release } of this.#releases.reverse()) {
      try {
        await release();
      } catch (error) {
        failures.push({ what, error });
      }
    }
    return failures;
  }
}
