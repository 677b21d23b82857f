import type Database from 'better-sqlite3';
import type { StoredEvent } from '@twostep/eventstore';
import type { ProjectionStore } from './ports';
import { isNext, type Projection } from './projection';
import { READ_MODELS } from './projections';

/** Documents kept in memory per connection (a status view is a few hundred bytes). */
const CACHE_LIMIT = 10_000;

/** Where a document (or a log) stands: its last applied revision (-1: none yet) and, for a document, its value. */
interface Head {
  revision: number;
  document: unknown;
}

/**
 * The heads a connection last committed, so the next page need not read and decode them again.
 * Valid while the connection's data_version stands (it moves only for other connections'
 * commits, e.g. a rebuild by the CLI); shared by every store on the connection, since their
 * writes do not move it. Documents are immutable (projections return new objects).
 */
interface HeadCache {
  heads: Map<string, Head>;
  dataVersion: number;
}
const headsByConnection = new WeakMap<Database.Database, HeadCache>();

const NONE: Head = { revision: -1, document: null };

/**
 * Projections in the SQLite file of the embedded event store, one transaction per page:
 * - `rm_documents (projection, id, revision, document)`: a document projection's documents, as JSON;
 * - `rm_entries (projection, id, revision, position, entry)`: a log projection's entries (its head
 *   is the highest revision there);
 * - `rm_checkpoints (projection, position)`: each projection's checkpoint, only ever moving forward.
 */
export class SqliteProjectionStore implements ProjectionStore {
  private readonly applyTx: (events: readonly StoredEvent[]) => Map<string, Head>;
  private readonly statements: Record<'document' | 'logHead' | 'entries' | 'checkpoint', Database.Statement>;
  private readonly cache: HeadCache;

  constructor(
    private readonly db: Database.Database,
    readonly projections: readonly Projection[] = READ_MODELS,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS rm_documents (projection TEXT NOT NULL, id TEXT NOT NULL, revision INTEGER NOT NULL, document TEXT NOT NULL, PRIMARY KEY (projection, id));
      CREATE TABLE IF NOT EXISTS rm_entries (projection TEXT NOT NULL, id TEXT NOT NULL, revision INTEGER NOT NULL, position INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (projection, id, revision));
      CREATE TABLE IF NOT EXISTS rm_checkpoints (projection TEXT PRIMARY KEY, position INTEGER NOT NULL);
      -- The tables of the read models before they were projections as data (status-v1): their
      -- successors (status-v2, event-log-v2) build themselves from the log on first start.
      DROP TABLE IF EXISTS rm_status;
      DROP TABLE IF EXISTS rm_event_log;
      DELETE FROM rm_checkpoints WHERE projection = 'status-v1';
    `);
    this.statements = {
      document: db.prepare('SELECT revision, document FROM rm_documents WHERE projection = ? AND id = ?'),
      logHead: db.prepare('SELECT MAX(revision) AS revision FROM rm_entries WHERE projection = ? AND id = ?'),
      entries: db.prepare('SELECT entry FROM rm_entries WHERE projection = ? AND id = ? AND revision > ? ORDER BY revision LIMIT ?'),
      checkpoint: db.prepare('SELECT position FROM rm_checkpoints WHERE projection = ?'),
    };
    const putDocument = db.prepare(
      'INSERT INTO rm_documents (projection, id, revision, document) VALUES (?, ?, ?, ?) ON CONFLICT (projection, id) DO UPDATE SET revision = excluded.revision, document = excluded.document',
    );
    const putEntry = db.prepare('INSERT INTO rm_entries (projection, id, revision, position, entry) VALUES (?, ?, ?, ?, ?)');
    const putCheckpoint = db.prepare('INSERT INTO rm_checkpoints (projection, position) VALUES (?, ?) ON CONFLICT (projection) DO UPDATE SET position = MAX(position, excluded.position)');
    const dataVersion = db.prepare('PRAGMA data_version').pluck();
    let cache = headsByConnection.get(db);
    if (!cache) headsByConnection.set(db, (cache = { heads: new Map(), dataVersion: -1 }));
    const cached = cache;
    this.cache = cached;

    // A head is read once per page and a document written once, however many of the page's events are its stream's.
    this.applyTx = db.transaction((events: readonly StoredEvent[]) => {
      const version = dataVersion.get() as number;
      if (version !== cached.dataVersion) {
        cached.heads.clear();
        cached.dataVersion = version;
      }
      const touched = new Map<string, { projection: Projection; id: string; before: Head; head: Head }>();
      for (const event of events) {
        for (const projection of this.projections) {
          if (!projection.canHandle(event)) continue;
          const id = projection.documentId(event);
          const key = cacheKey(projection.name, id);
          let doc = touched.get(key);
          if (!doc) {
            const before = cached.heads.get(key) ?? this.load(projection, id);
            touched.set(key, (doc = { projection, id, before, head: before }));
          }
          if (!isNext(projection, id, doc.head.revision, event)) continue;
          if (projection.kind === 'document') {
            doc.head = { revision: event.revision, document: projection.evolve(doc.head.revision < 0 ? projection.initial(event) : doc.head.document, event) };
          } else {
            putEntry.run(projection.name, id, event.revision, event.position, JSON.stringify(projection.entry(event)));
            doc.head = { revision: event.revision, document: null };
          }
        }
      }
      const written = new Map<string, Head>();
      for (const [key, { projection, id, before, head }] of touched) {
        if (head === before) continue;
        if (projection.kind === 'document') putDocument.run(projection.name, id, head.revision, JSON.stringify(head.document));
        written.set(key, head);
      }
      const last = events[events.length - 1];
      if (last) for (const projection of this.projections) putCheckpoint.run(projection.name, last.position);
      return written;
    });
  }

  private load(projection: Projection, id: string): Head {
    if (projection.kind === 'log') {
      const row = this.statements.logHead.get(projection.name, id) as { revision: number | null };
      return row.revision === null ? NONE : { revision: row.revision, document: null };
    }
    const row = this.statements.document.get(projection.name, id) as { revision: number; document: string } | undefined;
    return row ? { revision: row.revision, document: JSON.parse(row.document) } : NONE;
  }

  async applyPage(events: readonly StoredEvent[]): Promise<void> {
    const written = this.applyTx(events); // a page that throws was rolled back: the cache holds only committed heads
    const { heads } = this.cache;
    for (const [key, head] of written) {
      if (heads.size >= CACHE_LIMIT && !heads.has(key)) heads.clear();
      heads.set(key, head);
    }
  }

  async checkpoint(projection: string): Promise<number> {
    const row = this.statements.checkpoint.get(projection) as { position: number } | undefined;
    return row?.position ?? 0;
  }

  async document<D>(projection: string, id: string): Promise<D | null> {
    const row = this.statements.document.get(projection, id) as { document: string } | undefined;
    return row ? (JSON.parse(row.document) as D) : null;
  }

  async entries<E>(projection: string, id: string, options: { after?: number; limit?: number } = {}): Promise<E[]> {
    const rows = this.statements.entries.all(projection, id, options.after ?? -1, options.limit ?? 100) as { entry: string }[];
    return rows.map((row) => JSON.parse(row.entry) as E);
  }

  async reset(projection: string): Promise<void> {
    this.cache.heads.clear();
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM rm_documents WHERE projection = ?').run(projection);
      this.db.prepare('DELETE FROM rm_entries WHERE projection = ?').run(projection);
      this.db.prepare('DELETE FROM rm_checkpoints WHERE projection = ?').run(projection);
    })();
  }
}

const cacheKey = (projection: string, id: string): string => `${projection}\u0000${id}`;
