import type { ImageFile, LayerContents, LayerEntry } from "./types.js";

interface Node {
  /** Made on the first child: most nodes are files, and a Map for each would be most of the tree. */
  children?: Map<string, Node>;
  /** The current version of this path, from the highest layer that wrote it. */
  file?: ImageFile;
  /** Earlier versions of this path from lower layers, oldest first, while no whiteout removed it. */
  history?: ImageFile[];
}

const MAX_SYMLINK_HOPS = 40;

/** The parts of a path, without empty and "." parts ("a//b/./c/" → a, b, c). */
function split(path: string): string[] {
  const parts: string[] = [];
  let start = 0;
  while (start <= path.length) {
    let end = path.indexOf("/", start);
    if (end < 0) end = path.length;
    if (end > start && !(end === start + 1 && path.charCodeAt(start) === 0x2e)) {
      parts.push(path.slice(start, end));
    }
    start = end + 1;
  }
  return parts;
}

type CopiedField =
  | "path"
  | "type"
  | "mode"
  | "uid"
  | "gid"
  | "size"
  | "linkTarget"
  | "content"
  | "condensedBy"
  | "notes";
// A field added to LayerEntry must be copied by placed() too: this fails to compile until it is.
const _everyFieldCopied: Record<Exclude<keyof LayerEntry, CopiedField>, never> = {};

/**
 * A layer's entry as a file of the image. Copied field by field, in the entry's order: a spread
 * (`{ ...entry, layer }`) took most of the time of building the filesystem.
 */
function placed(entry: LayerEntry, layer: number): ImageFile {
  const file = {
    path: entry.path,
    type: entry.type,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    size: entry.size,
  } as ImageFile;
  if (entry.linkTarget !== undefined) file.linkTarget = entry.linkTarget;
  if (entry.content !== undefined) file.content = entry.content;
  if (entry.condensedBy !== undefined) file.condensedBy = entry.condensedBy;
  if (entry.notes !== undefined) file.notes = entry.notes;
  file.layer = layer;
  return file;
}

/**
 * The image's filesystem after every layer has been applied in order, with OCI whiteout
 * semantics. Each file knows the layer that last wrote it and keeps its earlier versions, so
 * later stages can tell which layer introduced a package.
 */
export class ImageFilesystem {
  private readonly root: Node = {};
  /** Set once a path was laid under a symlink (or through ".."): it resolves somewhere else. */
  private throughSymlinks = false;

  static fromLayers(layers: LayerContents[]): ImageFilesystem {
    const fs = new ImageFilesystem();
    layers.forEach((layer, index) => {
      fs.applyLayer(layer, index);
    });
    return fs;
  }

  private applyLayer(layer: LayerContents, index: number): void {
    // Whiteouts and opaque markers hide what the layers below wrote; this layer's own entries
    // are added after, so they survive.
    for (const dir of layer.opaqueDirectories) {
      const node = this.lookup(split(dir));
      if (node) node.children = undefined;
    }
    for (const path of layer.whiteouts) {
      const parts = split(path);
      const name = parts.pop();
      const parent = this.lookup(parts);
      if (parent && name !== undefined) parent.children?.delete(name);
    }
    for (const entry of layer.entries) {
      const node = this.ensure(entry.path);
      if (node.file) {
        if (node.history) node.history.push(node.file);
        else node.history = [node.file];
      }
      node.file = placed(entry, index);
      // A file or link written over a directory replaces the whole tree below it.
      if (entry.type !== "directory") node.children = undefined;
    }
  }

  private lookup(parts: string[]): Node | undefined {
    let node: Node | undefined = this.root;
    for (const part of parts) {
      node = node.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  /** The node of `path`, made with its parents where missing; walks the path without splitting it. */
  private ensure(path: string): Node {
    let node = this.root;
    let start = 0;
    while (start <= path.length) {
      let end = path.indexOf("/", start);
      if (end < 0) end = path.length;
      // Layer paths are normalised, but a "." or empty part is skipped as split() does.
      if (end > start && !(end === start + 1 && path.charCodeAt(start) === 0x2e)) {
        const part = path.slice(start, end);
        if (node.file?.type === "symlink" || part === "..") this.throughSymlinks = true;
        node.children ??= new Map();
        let child = node.children.get(part);
        if (!child) {
          child = {};
          node.children.set(part, child);
        }
        node = child;
      }
      start = end + 1;
    }
    return node;
  }

  /**
   * Follows `path` the way the kernel would inside a chroot: absolute targets start at the image
   * root, `..` never climbs above it, and a loop stops after 40 hops. Returns the parts it
   * resolved to and the node there.
   */
  private resolve(path: string): { parts: string[]; node: Node } | undefined {
    let pending = split(path);
    let next = 0;
    const parts: string[] = [];
    // nodes[i] is the node of parts[0..i]: each step walks one child from the last.
    const nodes: Node[] = [];
    let hops = 0;
    while (next < pending.length) {
      const part = pending[next++] as string;
      if (part === "..") {
        parts.pop();
        nodes.pop();
        continue;
      }
      const parent = nodes.length > 0 ? (nodes[nodes.length - 1] as Node) : this.root;
      const node = parent.children?.get(part);
      if (!node) return undefined;
      if (node.file?.type === "symlink" && node.file.linkTarget !== undefined) {
        if (++hops > MAX_SYMLINK_HOPS) return undefined;
        const target = node.file.linkTarget;
        if (target.startsWith("/")) {
          parts.length = 0;
          nodes.length = 0;
        }
        pending = [...split(target), ...pending.slice(next)];
        next = 0;
        continue;
      }
      parts.push(part);
      nodes.push(node);
    }
    return { parts, node: nodes.length > 0 ? (nodes[nodes.length - 1] as Node) : this.root };
  }

  /**
   * Resolves symlinks in `path` the way the kernel would inside a chroot: absolute targets start
   * at the image root, `..` never climbs above it, and a loop stops after 40 hops.
   */
  resolvePath(path: string): string | undefined {
    return this.resolve(path)?.parts.join("/");
  }

  /** The file at `path` (symlinks followed), if the image has it. */
  file(path: string): ImageFile | undefined {
    const file = this.resolve(path)?.node.file;
    if (file?.type === "hardlink" && file.linkTarget !== undefined) {
      const target = this.lookup(split(file.linkTarget))?.file;
      return target ? { ...target, path: file.path, layer: file.layer } : file;
    }
    return file;
  }

  /** Every version of the file at `path`, oldest first; the last is the current one. */
  versions(path: string): ImageFile[] {
    const node = this.resolve(path)?.node;
    if (!node?.file) return [];
    return node.history ? [...node.history, node.file] : [node.file];
  }

  /**
   * Whether some file of files() lies under a symlink (a layer wrote `lib/x` over a symlink
   * `lib`), so that its path resolves to another file. Usually false: each file is then the
   * current version at its own path.
   */
  hasPathsThroughSymlinks(): boolean {
    return this.throughSymlinks;
  }

  /** Every path in the image, depth first, with its current file. */
  *files(): Generator<ImageFile> {
    const stack: Node[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop() as Node;
      if (node.file) yield node.file;
      if (node.children) for (const child of node.children.values()) stack.push(child);
    }
  }
}
