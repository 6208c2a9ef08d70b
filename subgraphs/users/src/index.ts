import { fileURLToPath } from 'node:url';

export { createUsersServer, type UsersServerOptions } from './server';
export { seedUsers, SEED_PASSWORD } from './seed';
export const USERS_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));
