/** What the image stage hands to the rest of the pipeline. */

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** The OCI image config (application/vnd.oci.image.config.v1+json), the parts layerwatch reads. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: {
    User?: string;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
    ExposedPorts?: Record<string, unknown> | null;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: HistoryEntry[];
}

/** One layer of the image, in order from the base up. */
export interface LayerInfo {
  index: number;
  /** Digest of the blob as stored (compressed for registries and OCI layouts). */
  digest?: string;
  /** Digest of the uncompressed tar: the same whichever way the image travelled. */
  diffId: string;
  mediaType?: string;
  /** The history entry (Dockerfile instruction) that made this layer, when the config has one. */
  createdBy?: string;
}

/** Where an image comes from, as the user wrote it. */
export type ImageSourceKind =
  | "docker-archive"
  | "oci-archive"
  | "oci"
  | "rootfs"
  | "registry"
  | "docker"
  | "podman";

export interface ImageSourceRef {
  kind: ImageSourceKind;
  /** A file or directory, or for a registry the image reference. */
  path: string;
  /** Tag or ref name inside an archive or layout (`oci:DIR:TAG`). */
  reference?: string;
  /** The text the user gave, for messages and reports. */
  text: string;
  /**
   * A name given without a kind (`alpine`): looked for in the Docker daemon, then podman, then
   * the registry, as `docker run` users expect of a name they just built.
   */
  bare?: boolean;
}

/** Facts about a decoded layer stream, checked against the manifest and config once it has been read. */
export interface LayerStreamFacts {
  blobDigest: string;
  diffId: string;
  compression: "gzip" | "zstd" | "none";
  compressedBytes: number;
  uncompressedBytes: number;
}

export interface LayerReadContext {
  /** Human name of the layer for error messages ("layer 2 (sha256:ab12…)"). */
  label: string;
}

/**
 * Reads one layer's uncompressed tar stream. The image stage hands every layer to it,
 * in any order, and returns the results in layer order.
 */
export type LayerProcessor<T> = (tar: NodeJS.ReadableStream, context: LayerReadContext) => Promise<T>;

export interface LoadedImage<T> {
  source: ImageSourceRef;
  /** Digest of the image manifest, where the source has one. */
  manifestDigest?: string;
  configDigest: string;
  config: ImageConfig;
  repoTags: string[];
  layers: Array<LayerInfo & { result: T }>;
  /** Things the source skipped or noticed (a foreign layer not fetched), reported with the scan. */
  warnings?: Array<{ subject: string; problem: string }>;
}

/**
 * Results of reading layers, kept between scans and keyed by diff id: a layer already read is
 * neither downloaded nor read again.
 */
export interface LayerCache<T> {
  get(diffId: string): Promise<T | undefined>;
  put(diffId: string, value: T): Promise<void>;
}

export interface RegistryOptions {
  insecure?: boolean;
  caFile?: string;
  username?: string;
  password?: string;
  timeoutMs?: number;
  retries?: number;
}

export interface ImageReadOptions {
  /** Stop a layer that inflates past this many bytes. */
  maxLayerBytes: number;
  /** Largest JSON document (manifest, config, index) read into memory. */
  maxJsonBytes: number;
  /** Which image of a multi-platform index to read. */
  platform?: { os: string; architecture: string; variant?: string };
  registry?: RegistryOptions;
  /** The environment to read DOCKER_CONFIG, proxies and daemon sockets from (default: the process's). */
  env?: NodeJS.ProcessEnv;
  /**
   * Earlier results of the same layer processor. Its type is the processor's result type, which
   * the options cannot name: loaders that consult it return what it holds as their T.
   */
  layerCache?: LayerCache<unknown>;
  /** Told about retries and skipped work, for --debug. */
  onNote?: (message: string) => void;
  /**
   * Which files' contents the layer processor reads (keeps, or condenses while they stream: an
   * executable, told by its mode). A source that can skip reading the others cheaply (an
   * unpacked rootfs) sends them as size-only entries (SIZE_ONLY_PAX_KEY). `size` is the file's
   * size where the source knows it before reading.
   */
  contentWanted?: (path: string, mode: number, size?: number) => boolean;
}

/**
 * A pax record on a tar entry sent without its body: the file's real size. Only layerwatch's own
 * rootfs source writes it; image layers never carry it.
 */
export const SIZE_ONLY_PAX_KEY = "LAYERWATCH.size";

export const defaultImageReadOptions: ImageReadOptions = {
  maxLayerBytes: 20 * 1024 ** 3,
  maxJsonBytes: 16 * 1024 ** 2,
};
