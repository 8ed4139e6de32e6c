"""Storage: the engine and schema, the writer thread, and the queries, as functions of a Session.

`Database` (database.py) is what the rest of the bot holds; the query modules (messages, flags, texts,
guilds, modlog_posts, stats, audit, replays) run inside its writer thread (writes) or `Database.read`
(reads), never on the event loop.

Several processes may write at once (shards sharing one PostgreSQL), so no write relies on being the only
writer: a row that is read, changed and written back is locked first (`FOR UPDATE`; SQLite's write
transactions are serial anyway), and "create unless it exists" is one `INSERT ... ON CONFLICT DO NOTHING`
against a unique key (inserts.py), never a look followed by an insert.
"""
