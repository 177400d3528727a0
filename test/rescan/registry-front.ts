import { createServer, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import type { RegistryServer } from "../helpers/registry-server.js";

/**
 * A front for a registry on 127.0.0.1 that counts the requests under way at once (each held
 * `delayMs` first) and pages tags lists as the distribution spec describes (`?n=` entries after
 * `last`, in lexical order, a Link to the next page): the CNCF registry 2.8 pages only its catalog.
 */
export async function startCountingFront(registry: RegistryServer, options: { delayMs: number }) {
  const target = new URL(registry.url);
  const paths: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((request, response) => {
    const path = request.url ?? "/";
    paths.push(path);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    response.on("close", () => {
      inFlight--;
    });
    setTimeout(() => {
      const url = new URL(path, "http://front");
      const tagsList = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
      const forwardPath = tagsList ? url.pathname : path;
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: forwardPath,
          method: request.method,
          headers: request.headers,
        },
        (answer) => {
          if (!tagsList || answer.statusCode !== 200) {
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(response);
            return;
          }
          const chunks: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => chunks.push(chunk));
          answer.on("end", () => {
            const all = (
              JSON.parse(Buffer.concat(chunks).toString("utf8")) as { tags: string[] }
            ).tags.sort();
            const n = Number(url.searchParams.get("n") ?? all.length);
            const last = url.searchParams.get("last");
            const rest = last === null ? all : all.filter((tag) => tag > last);
            const page = rest.slice(0, n);
            const headers: Record<string, string> = { "content-type": "application/json" };
            if (rest.length > n)
              headers.link = `<${url.pathname}?n=${n}&last=${page[page.length - 1]}>; rel="next"`;
            response.writeHead(200, headers);
            response.end(JSON.stringify({ name: tagsList[1], tags: page }));
          });
        },
      );
      upstream.on("error", () => response.destroy());
      request.pipe(upstream);
    }, options.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    paths,
    get maxInFlight() {
      return maxInFlight;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
