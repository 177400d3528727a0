import type { EntryType, LayerContents } from "../../fs/types.js";

/** What the layers above did to a file a layer wrote. */
export type LayerFate =
  | { kind: "kept" }
  /** A whiteout, an opaque directory, or a non-directory written over a parent removed it. */
  | { kind: "deleted"; by: number }
  /** A later layer wrote the same path again. */
  | { kind: "replaced"; by: number };

/**
 * Tells, for files found in one layer, whether the final image still has that version: a file
 * removed or rewritten above is gone from the running container but still in its layer's tar,
 * which anyone who pulls the image can extract.
 */
export class LayerFates {
  /** Each layer's entry types by path, built on the first question about a layer above. */
  private readonly entryTypes = new Map<number, Map<string, EntryType>>();

  constructor(private readonly layers: readonly LayerContents[]) {}

  private typesOf(index: number): Map<string, EntryType> {
    let types = this.entryTypes.get(index);
    if (!types) {
      types = new Map();
      for (const entry of this.layers[index]?.entries ?? []) types.set(entry.path, entry.type);
      this.entryTypes.set(index, types);
    }
    return types;
  }

  fate(path: string, layer: number): LayerFate {
    const parents: string[] = [];
    for (let slash = path.indexOf("/"); slash >= 0; slash = path.indexOf("/", slash + 1))
      parents.push(path.slice(0, slash));
    for (let above = layer + 1; above < this.layers.length; above++) {
      const contents = this.layers[above] as LayerContents;
      const removes = (removed: string) => removed === path || path.startsWith(`${removed}/`);
      if (contents.whiteouts.some(removes)) return { kind: "deleted", by: above };
      if (contents.opaqueDirectories.some((dir) => dir === "" || path.startsWith(`${dir}/`)))
        return { kind: "deleted", by: above };
      const types = this.typesOf(above);
      if (types.has(path)) return { kind: "replaced", by: above };
      if (parents.some((parent) => (types.get(parent) ?? "directory") !== "directory"))
        return { kind: "deleted", by: above };
    }
    return { kind: "kept" };
  }
}

/** "deleted by layer 3" / "replaced by layer 3", for messages. */
export function fateText(fate: LayerFate): string {
  return fate.kind === "kept" ? "" : `${fate.kind} by layer ${fate.by}`;
}
