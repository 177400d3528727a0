import type { ImageFile, LayerContents } from "./types.js";

interface Node {
  children: Map<string, Node>;
  /** The current version of this path, from the highest layer that wrote it. */
  file?: ImageFile;
  /** Earlier versions of this path from lower layers, oldest first, while no whiteout removed it. */
  history: ImageFile[];
}

const MAX_SYMLINK_HOPS = 40;

function newNode(): Node {
  return { children: new Map(), history: [] };
}

function split(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

/**
 * The image's filesystem after every layer has been applied in order, with OCI whiteout
 * semantics. Each file knows the layer that last wrote it and keeps its earlier versions, so
 * later stages can tell which layer introduced a package.
 */
export class ImageFilesystem {
  private readonly root: Node = newNode();

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
      if (node) node.children.clear();
    }
    for (const path of layer.whiteouts) {
      const parts = split(path);
      const name = parts.pop();
      const parent = this.lookup(parts);
      if (parent && name !== undefined) parent.children.delete(name);
    }
    for (const entry of layer.entries) {
      const node = this.ensure(split(entry.path));
      if (node.file) node.history.push(node.file);
      node.file = { ...entry, layer: index };
      // A file or link written over a directory replaces the whole tree below it.
      if (entry.type !== "directory") node.children.clear();
    }
  }

  private lookup(parts: string[]): Node | undefined {
    let node: Node | undefined = this.root;
    for (const part of parts) {
      node = node.children.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  private ensure(parts: string[]): Node {
    let node = this.root;
    for (const part of parts) {
      let child = node.children.get(part);
      if (!child) {
        child = newNode();
        node.children.set(part, child);
      }
      node = child;
    }
    return node;
  }

  /**
   * Resolves symlinks in `path` the way the kernel would inside a chroot: absolute targets start
   * at the image root, `..` never climbs above it, and a loop stops after 40 hops.
   */
  resolvePath(path: string): string | undefined {
    let pending = split(path);
    const resolved: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === "..") {
        resolved.pop();
        continue;
      }
      const node = this.lookup([...resolved, part]);
      if (!node) return undefined;
      if (node.file?.type === "symlink" && node.file.linkTarget !== undefined) {
        if (++hops > MAX_SYMLINK_HOPS) return undefined;
        const target = node.file.linkTarget;
        if (target.startsWith("/")) resolved.length = 0;
        pending = [...split(target), ...pending];
        continue;
      }
      resolved.push(part);
    }
    return resolved.join("/");
  }

  /** The file at `path` (symlinks followed), if the image has it. */
  file(path: string): ImageFile | undefined {
    const resolved = this.resolvePath(path);
    if (resolved === undefined) return undefined;
    const file = this.lookup(split(resolved))?.file;
    if (file?.type === "hardlink" && file.linkTarget !== undefined) {
      const target = this.lookup(split(file.linkTarget))?.file;
      return target ? { ...target, path: file.path, layer: file.layer } : file;
    }
    return file;
  }

  /** Every version of the file at `path`, oldest first; the last is the current one. */
  versions(path: string): ImageFile[] {
    const resolved = this.resolvePath(path);
    if (resolved === undefined) return [];
    const node = this.lookup(split(resolved));
    return node?.file ? [...node.history, node.file] : [];
  }

  /** Every path in the image, depth first, with its current file. */
  *files(): Generator<ImageFile> {
    const stack: Node[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop() as Node;
      if (node.file) yield node.file;
      for (const child of node.children.values()) stack.push(child);
    }
  }
}
