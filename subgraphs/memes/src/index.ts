export { createMemesServer, MIGRATIONS_DIR, SCHEMA_FILE, type MemesServerOptions } from './server';
export { seedMemes, type SeedOptions, type SeedResult } from './seed';
