import { randomUUID } from 'node:crypto';
import type { StoredEvent } from '@twostep/eventstore';
import type { ProjectionStore } from '../ports';
import { foldDocument, ProjectionGapError, type DocumentProjection, type LogProjection, type Projection } from '../projection';
import { storedEvent } from './read-model.contract';

/** Opens stores over one backend (one SQLite connection, one Redis prefix): each with the projections it is given. */
export interface ProjectionStoreBackend {
  open(projections: readonly Projection[]): ProjectionStore;
  cleanup(): Promise<void>;
}

/** Toy read models over `Cart-<id>` streams: nothing of twostep's, so the contract is about the store alone. */
interface Cart {
  id: string;
  items: string[];
  count: number;
}
const CART = 'Cart-';
const carts: DocumentProjection<Cart> = {
  kind: 'document',
  name: 'carts-v1',
  canHandle: (event) => event.stream.startsWith(CART),
  documentId: (event) => event.stream.slice(CART.length),
  initial: (event) => ({ id: event.stream.slice(CART.length), items: [], count: 0 }),
  evolve: (cart, event) => (event.type === 'ItemAdded' ? { ...cart, items: [...cart.items, String(event.data.item)], count: cart.count + 1 } : cart),
};
interface Line {
  type: string;
  position: number;
}
const cartLog: LogProjection<Line> = {
  kind: 'log',
  name: 'cart-log-v1',
  canHandle: (event) => event.stream.startsWith(CART),
  documentId: (event) => event.stream.slice(CART.length),
  entry: (event) => ({ type: event.type, position: event.position }),
};

/** The behaviour every generic projection store must have, with any projections it is given. */
export function projectionStoreContract(name: string, backend: () => Promise<ProjectionStoreBackend>): void {
  describe(`ProjectionStore contract: ${name}`, () => {
    let subject: ProjectionStoreBackend;
    let cart: (n: number) => string;

    beforeEach(async () => {
      subject = await backend();
      const run = randomUUID().slice(0, 8);
      cart = (n) => `${CART}${run}-${n}`;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    /** A cart's events from revision `from` on, at global positions from `position` on. */
    function cartEvents(stream: string, items: string[], { from = 0, position = 1 } = {}): StoredEvent[] {
      return items.map((item, i) => storedEvent(stream, from + i, position + i, item === '-' ? 'CartViewed' : 'ItemAdded', item === '-' ? {} : { item }));
    }

    async function state(store: ProjectionStore, streams: string[]) {
      return {
        documents: await Promise.all(streams.map((s) => store.document<Cart>(carts.name, s.slice(CART.length)))),
        entries: await Promise.all(streams.map((s) => store.entries<Line>(cartLog.name, s.slice(CART.length), { limit: 1000 }))),
        checkpoints: [await store.checkpoint(carts.name), await store.checkpoint(cartLog.name)],
      };
    }

    it('applies a page to every projection that takes its events, and moves every checkpoint to its end', async () => {
      const store = subject.open([carts, cartLog]);
      const a = [...cartEvents(cart(1), ['apple', '-']), storedEvent(cart(1), 2, 6, 'ItemAdded', { item: 'pear' })];
      const other = storedEvent('Shelf-1', 0, 4, 'ItemAdded', { item: 'not a cart' });
      const b = cartEvents(cart(2), ['plum'], { position: 5 });
      await store.applyPage([a[0]!, a[1]!, other, b[0]!, a[2]!]);

      expect(await store.document(carts.name, cart(1).slice(CART.length))).toEqual(foldDocument(carts, a)!.document);
      expect(await store.document(carts.name, cart(1).slice(CART.length))).toEqual({ id: cart(1).slice(CART.length), items: ['apple', 'pear'], count: 2 });
      expect(await store.document(carts.name, cart(2).slice(CART.length))).toEqual({ id: cart(2).slice(CART.length), items: ['plum'], count: 1 });
      expect(await store.document(carts.name, 'Shelf-1')).toBeNull();
      expect(await store.entries(cartLog.name, cart(1).slice(CART.length))).toEqual([
        { type: 'ItemAdded', position: 1 },
        { type: 'CartViewed', position: 2 },
        { type: 'ItemAdded', position: 6 },
      ]);
      expect(await store.checkpoint(carts.name)).toBe(6);
      expect(await store.checkpoint(cartLog.name)).toBe(6);

      // A page with nothing for either projection still moves both checkpoints.
      await store.applyPage([storedEvent('Shelf-1', 1, 7, 'ItemAdded', {})]);
      expect([await store.checkpoint(carts.name), await store.checkpoint(cartLog.name)]).toEqual([7, 7]);
    });

    it('skips what a document already holds: a page again, or one that overlaps, changes only what is new', async () => {
      const store = subject.open([carts, cartLog]);
      const events = cartEvents(cart(1), ['a', 'b', 'c', 'd']);
      await store.applyPage(events.slice(0, 3));
      const before = await state(store, [cart(1)]);
      await store.applyPage(events.slice(0, 3));
      expect(await state(store, [cart(1)])).toEqual(before);

      await store.applyPage(events.slice(1)); // b, c again and d new
      const after = await state(store, [cart(1)]);
      expect(after.documents[0]!.items).toEqual(['a', 'b', 'c', 'd']);
      expect(after.entries[0]!.map((line) => line.position)).toEqual([1, 2, 3, 4]);
      expect(after.checkpoints).toEqual([4, 4]);

      // A late page from further back moves nothing: not a document, not a checkpoint.
      await store.applyPage(events.slice(0, 1));
      expect(await state(store, [cart(1)])).toEqual(after);
    });

    it('reports a gap in a stream (ProjectionGapError) and keeps nothing of that page', async () => {
      const store = subject.open([carts, cartLog]);
      const one = cartEvents(cart(1), ['a', 'b', 'c', 'd']);
      const two = cartEvents(cart(2), ['x'], { position: 10 });
      await store.applyPage(one.slice(0, 1));
      const before = await state(store, [cart(1), cart(2)]);

      const gap = store.applyPage([two[0]!, one[1]!, one[3]!]); // revision 2 of cart 1 is missing
      await expect(gap).rejects.toThrow(ProjectionGapError);
      await expect(store.applyPage([two[0]!, one[1]!, one[3]!])).rejects.toMatchObject({ code: 'projection_gap', documentId: cart(1).slice(CART.length), previous: 1, revision: 3 });
      expect(await state(store, [cart(1), cart(2)])).toEqual(before);

      await store.applyPage([two[0]!, ...one.slice(1)]);
      expect((await state(store, [cart(1), cart(2)])).documents.map((doc) => doc?.count)).toEqual([4, 1]);
    });

    it('keeps a checkpoint per projection: one added later builds from the start while the first carries on', async () => {
      const first = subject.open([carts]);
      const events = cartEvents(cart(1), ['a', 'b', 'c']);
      await first.applyPage(events);
      expect(await first.checkpoint(cartLog.name)).toBe(0);

      const both = subject.open([carts, cartLog]); // a release that adds the log: one new file, listed
      expect(await both.checkpoint(carts.name)).toBe(3);
      expect(await both.checkpoint(cartLog.name)).toBe(0);
      await both.applyPage(events); // the projector reads from the lowest checkpoint
      expect(await both.document<Cart>(carts.name, cart(1).slice(CART.length))).toEqual({ id: cart(1).slice(CART.length), items: ['a', 'b', 'c'], count: 3 });
      expect((await both.entries<Line>(cartLog.name, cart(1).slice(CART.length))).map((line) => line.position)).toEqual([1, 2, 3]);
      expect([await both.checkpoint(carts.name), await both.checkpoint(cartLog.name)]).toEqual([3, 3]);
    });

    it('resets one projection: its documents, entries and checkpoint, and nothing of the others', async () => {
      const store = subject.open([carts, cartLog]);
      const events = [...cartEvents(cart(1), ['a', 'b']), ...cartEvents(cart(2), ['c'], { position: 3 })];
      await store.applyPage(events);
      const before = await state(store, [cart(1), cart(2)]);

      await store.reset(cartLog.name);
      const after = await state(store, [cart(1), cart(2)]);
      expect(after.documents).toEqual(before.documents);
      expect(after.entries).toEqual([[], []]);
      expect(after.checkpoints).toEqual([3, 0]);

      await store.reset(carts.name);
      expect((await state(store, [cart(1), cart(2)])).documents).toEqual([null, null]);
      await store.applyPage(events);
      expect(await state(store, [cart(1), cart(2)])).toEqual(before);
      await store.reset('never-registered-v1'); // harmless
    });

    it('pages a log by revision with after and limit (100 by default)', async () => {
      const store = subject.open([cartLog]);
      const id = cart(1).slice(CART.length);
      await store.applyPage(cartEvents(cart(1), Array.from({ length: 105 }, (_, i) => `i${i}`)));
      expect((await store.entries<Line>(cartLog.name, id)).length).toBe(100);
      expect((await store.entries<Line>(cartLog.name, id, { after: 100 })).map((line) => line.position)).toEqual([102, 103, 104, 105]);
      expect((await store.entries<Line>(cartLog.name, id, { after: 3, limit: 2 })).map((line) => line.position)).toEqual([5, 6]);
      expect(await store.entries(cartLog.name, 'nobody')).toEqual([]);
    });

    it('ends with the in-order documents when two stores apply the same pages at once', async () => {
      const one = subject.open([carts, cartLog]);
      const two = subject.open([carts, cartLog]);
      const events = cartEvents(cart(1), Array.from({ length: 30 }, (_, i) => `i${i}`));
      const pages = [events.slice(0, 7), events.slice(7, 8), events.slice(8, 20), events.slice(20)];
      const run = async (store: ProjectionStore) => {
        for (const page of pages) await store.applyPage(page);
      };
      await Promise.all([run(one), run(two), run(one)]);
      expect(await one.document(carts.name, cart(1).slice(CART.length))).toEqual(foldDocument(carts, events)!.document);
      expect((await two.entries<Line>(cartLog.name, cart(1).slice(CART.length), { limit: 1000 })).map((line) => line.position)).toEqual(events.map((e) => e.position));
      expect([await two.checkpoint(carts.name), await two.checkpoint(cartLog.name)]).toEqual([30, 30]);
    });
  });
}
