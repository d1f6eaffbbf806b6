// A tiny typed listener list for the client's lifecycle events and pushes. A listener that
// throws must not leave the connection half-updated, so its error is rethrown on a fresh
// microtask (it still surfaces as an uncaught error, as with Node's EventEmitter).

export class Listeners<Events extends { [name: string]: unknown }> {
  private readonly byName = new Map<keyof Events, Set<(payload: never) => void>>();

  on<K extends keyof Events>(name: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.byName.get(name);
    if (set === undefined) {
      set = new Set();
      this.byName.set(name, set);
    }
    set.add(listener as (payload: never) => void);
    return () => {
      set.delete(listener as (payload: never) => void);
    };
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    const set = this.byName.get(name);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as (payload: Events[K]) => void)(payload);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  clear(): void {
    this.byName.clear();
  }
}
