export {
  GALLERY_CLIENT_NAME,
  createGalleryClient,
  sha256Hex,
  viewerDataChanged,
  type GalleryClientOptions,
  type PersistedQueryMode,
} from './client';
export type { PersistedQueryManifest, PersistedQueryManifestOperation } from './manifest';
export * from './operations';
