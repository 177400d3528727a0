import yauzl, { type Entry, type ZipFile } from "yauzl";

export interface ZipMember {
  name: string;
  size: number;
  read(): Promise<Buffer>;
}

function openZip(path: string): Promise<ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: true }, (error, zip) =>
      error ? reject(error) : resolve(zip),
    ),
  );
}

/** Walks a zip's members one at a time; only the member being read is held in memory. */
export async function* zipMembers(path: string): AsyncGenerator<ZipMember> {
  const zip = await openZip(path);
  try {
    while (true) {
      const entry = await new Promise<Entry | undefined>((resolve, reject) => {
        const cleanup = () => {
          zip.off("entry", onEntry);
          zip.off("end", onEnd);
          zip.off("error", onError);
        };
        const onEntry = (e: Entry) => {
          cleanup();
          resolve(e);
        };
        const onEnd = () => {
          cleanup();
          resolve(undefined);
        };
        const onError = (error: Error) => {
          cleanup();
          reject(error);
        };
        zip.on("entry", onEntry);
        zip.on("end", onEnd);
        zip.on("error", onError);
        zip.readEntry();
      });
      if (!entry) return;
      if (entry.fileName.endsWith("/")) continue;
      yield {
        name: entry.fileName,
        size: entry.uncompressedSize,
        read: () =>
          new Promise<Buffer>((resolve, reject) => {
            zip.openReadStream(entry, (error, stream) => {
              if (error) return reject(error);
              const chunks: Buffer[] = [];
              stream.on("data", (chunk: Buffer) => chunks.push(chunk));
              stream.on("error", reject);
              stream.on("end", () => resolve(Buffer.concat(chunks)));
            });
          }),
      };
    }
  } finally {
    zip.close();
  }
}
