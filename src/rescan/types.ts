/**
 * Registry rescans: which images were seen, what they hold, what was found in them, and what
 * changed since the last rescan. Shared by the rescan loop, its state stores (SQLite, PostgreSQL)
 * and its notifiers.
 */

/** One finding as the rescan remembers it: enough to tell new from gone and to say it in a message. */
export interface FindingState {
  /** The advisory id the report lists (its aliases are in `aliases`). */
  id: string;
  aliases: string[];
  purl: string;
  packageName: string;
  installedVersion: string;
  fixedVersion?: string;
  severity: "unknown" | "low" | "medium" | "high" | "critical";
  summary?: string;
}

/** One image manifest the rescan has pulled: what it holds and what was last found in it. */
export interface ImageState {
  /** The image manifest's digest (one platform's manifest, never an index's). */
  digest: string;
  /** Where it was first pulled from ("host:5000/team/app"); any repository holding the digest serves. */
  repository: string;
  /** "linux/amd64" when the tag named an index. */
  platform?: string;
  /** The inventory (packages and distro) as JSON, re-matched on every rescan without pulling. */
  inventory: string;
  /** The inventory code's version that made it; a different one means the digest is pulled again. */
  inventoryVersion: string;
  scannedAt: string;
  /** What the last match found, and when it ran. */
  findings: FindingState[];
  matchedAt: string;
}

/** A tag as last resolved by a HEAD manifest request. */
export interface TagState {
  /** "host:5000/team/app". */
  repository: string;
  tag: string;
  /** The digest the registry answered: a manifest's, or an index's for a multi-platform tag. */
  digest: string;
  /** The image manifests behind it, one per selected platform (the digest itself for a single manifest). */
  images: Array<{ digest: string; platform?: string }>;
  resolvedAt: string;
}

/**
 * Where rescans keep their state. Every write is atomic: a process stopped half-way (SIGTERM, a
 * killed worker) leaves each record as it was before or as it is after, never half-written.
 */
export interface RescanStateStore {
  getTags(repository: string): Promise<TagState[]>;
  putTag(tag: TagState): Promise<void>;
  deleteTag(repository: string, tag: string): Promise<void>;
  getImage(digest: string): Promise<ImageState | undefined>;
  /** Every stored image's digest, for re-matching them all. */
  imageDigests(): Promise<string[]>;
  /** Stores a newly pulled image with its first findings. */
  putImage(image: ImageState): Promise<void>;
  /** Replaces an image's findings after a re-match. */
  updateFindings(digest: string, findings: FindingState[], matchedAt: string): Promise<void>;
  close(): Promise<void>;
}

/** What one image (a digest behind one or more tags) gained and lost since the last rescan. */
export interface ImageChange {
  repository: string;
  tags: string[];
  digest: string;
  platform?: string;
  /** True when this rescan pulled the digest for the first time. */
  firstSeen: boolean;
  newFindings: FindingState[];
  goneFindings: FindingState[];
}

/** A tag that now names another digest. */
export interface TagMove {
  repository: string;
  tag: string;
  from: string;
  to: string;
}

/** What a rescan found changed; what notifiers are given. */
export interface RescanChanges {
  startedAt: string;
  finishedAt: string;
  /** Images with new or gone findings (others are counted, not listed). */
  images: ImageChange[];
  tagsMoved: TagMove[];
  /** Tags no longer in the registry. */
  tagsGone: Array<{ repository: string; tag: string; digest: string }>;
  counts: { repositories: number; tags: number; pulled: number; rematched: number; failed: number };
  /** Per repository or tag that could not be read; the rest of the rescan goes on. */
  errors: Array<{ subject: string; problem: string }>;
}
