/**
 * A real Docker daemon (dockerd) or podman API service for the daemon-source tests, started as root
 * in a temporary directory of its own: its own data root, exec root, socket and config file, no
 * networking set up, nothing shared with a daemon the machine may already run.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  accessSync,
  closeSync,
  constants,
  createReadStream,
  openSync,
  readdirSync,
  readFileSync,
} from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import Docker from "dockerode";

export interface TestDaemon {
  /** What DOCKER_HOST or CONTAINER_HOST is set to: unix:///tmp/.../docker.sock */
  host: string;
  socket: string;
  /** The storage driver the daemon runs with (overlay2, else vfs for dockerd; vfs for podman). */
  storageDriver: string;
  pid: number;
  /** The end of the daemon's log, for failure messages. */
  logTail(lines?: number): string;
  /** SIGTERM, wait for it (SIGKILL after 30 s), check nothing it started is left, remove its directory. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function missing(programs: Record<string, string>, what: string): string | undefined {
  const absent = Object.keys(programs).filter((program) => findProgram(program) === undefined);
  const problems: string[] = [];
  if (absent.length > 0) {
    const packages = [...new Set(absent.map((program) => programs[program]))];
    problems.push(`${absent.join(", ")} not found (apt-get install ${packages.join(" ")})`);
  }
  if (process.platform !== "linux") problems.push(`${what} needs Linux`);
  else if (process.getuid?.() !== 0)
    problems.push(`${what} is started as root and the tests do not run as root`);
  return problems.length > 0 ? problems.join("; ") : undefined;
}

/** Why a test dockerd cannot be started here (one line naming the missing package), or undefined. */
export function dockerdMissing(): string | undefined {
  return missing({ dockerd: "docker.io", containerd: "docker.io", runc: "docker.io" }, "dockerd");
}

/** Why a test podman service cannot be started here, or undefined. */
export function podmanMissing(): string | undefined {
  return missing({ podman: "podman" }, "the podman service");
}

/** A short directory: unix socket paths (containerd's is several levels down) must stay under 108 bytes. */
async function daemonDir(prefix: string): Promise<string> {
  const base = tmpdir().length <= 40 ? tmpdir() : "/tmp";
  return mkdtemp(join(base, prefix));
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: "/_ping", method: "GET", timeout: 2_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode === 200));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
    req.end();
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Processes whose command line names `dir`: the daemon and whatever it started (containerd, shims). */
export function processesUsing(dir: string): Array<{ pid: number; command: string }> {
  const found: Array<{ pid: number; command: string }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      if (command.includes(dir)) found.push({ pid: Number(entry), command });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** Mount points under `dir`, deepest first (podman's overlay driver leaves one; overlay2 may). */
function mountsUnder(dir: string): string[] {
  let text = "";
  try {
    text = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

interface Launch {
  program: string;
  args: string[];
  dir: string;
  socket: string;
  storageDriver: string;
}

/** Starts the daemon and waits until `_ping` answers; rejects (after cleaning up) when it exits first. */
async function launch(spec: Launch): Promise<TestDaemon> {
  const logPath = join(spec.dir, "daemon.log");
  const logFd = openSync(logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(spec.program, spec.args, { stdio: ["ignore", logFd, logFd], cwd: spec.dir });
  } finally {
    closeSync(logFd);
  }
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  let stopped = false;
  const daemon: TestDaemon = {
    host: `unix://${spec.socket}`,
    socket: spec.socket,
    storageDriver: spec.storageDriver,
    pid: child.pid ?? -1,
    logTail: (lines = 20) => tail(logPath, lines),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        await exited(child);
        clearTimeout(timer);
      }
      // dockerd stops the containerd it started; anything still running from this directory is a
      // leftover of a daemon that died: end it by its pid.
      for (let attempt = 0; attempt < 50; attempt++) {
        const left = processesUsing(spec.dir);
        if (left.length === 0) break;
        for (const { pid } of left) {
          try {
            process.kill(pid, attempt < 25 ? "SIGTERM" : "SIGKILL");
          } catch {
            // already gone
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      for (const point of mountsUnder(spec.dir)) spawnSync("umount", ["-l", point]);
      await rm(spec.dir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let failure: string | undefined;
  const died = exited(child).then(() => "exited");
  const failed = spawnError.then((error) => `could not be started: ${error.message}`);
  while (failure === undefined) {
    if (await ping(spec.socket)) return daemon;
    const outcome = await Promise.race([
      died,
      failed,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 200)),
    ]);
    if (outcome === "exited") failure = `exited with ${child.exitCode ?? child.signalCode}`;
    else if (outcome !== undefined) failure = outcome;
    else if (Date.now() > deadline) failure = `did not answer _ping within ${READY_TIMEOUT_MS / 1000}s`;
  }
  const log = daemon.logTail();
  await daemon.stop();
  throw new Error(`${spec.program} (${spec.storageDriver}) ${failure}:\n${log}`);
}

/**
 * Starts dockerd with overlay2, falling back to vfs where overlay2 cannot run (an overlay root
 * filesystem, an old kernel). dockerd starts its own containerd under the exec root.
 */
export async function startDockerd(
  storageDrivers: readonly string[] = ["overlay2", "vfs"],
): Promise<TestDaemon> {
  const program = findProgram("dockerd");
  if (!program) throw new Error(dockerdMissing());
  const failures: string[] = [];
  for (const storageDriver of storageDrivers) {
    const dir = await daemonDir("lw-dockerd-");
    const socket = join(dir, "docker.sock");
    // An empty config file of its own, so the machine's /etc/docker/daemon.json cannot conflict.
    await writeFile(join(dir, "daemon.json"), "{}\n");
    try {
      return await launch({
        program,
        dir,
        socket,
        storageDriver,
        args: [
          "--config-file",
          join(dir, "daemon.json"),
          "--data-root",
          join(dir, "data"),
          "--exec-root",
          join(dir, "exec"),
          "--pidfile",
          join(dir, "docker.pid"),
          "-H",
          `unix://${socket}`,
          "--iptables=false",
          "--ip6tables=false",
          "--bridge=none",
          `--storage-driver=${storageDriver}`,
        ],
      });
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  throw new Error(`dockerd did not start:\n${failures.join("\n")}`);
}

/**
 * Starts `podman system service` on a socket of its own, with its storage (vfs: no mounts to
 * clean up), run root and libpod state in the temporary directory.
 */
export async function startPodmanService(): Promise<TestDaemon> {
  const program = findProgram("podman");
  if (!program) throw new Error(podmanMissing());
  const dir = await daemonDir("lw-podman-");
  const socket = join(dir, "podman.sock");
  await mkdir(join(dir, "tmp"));
  return launch({
    program,
    dir,
    socket,
    storageDriver: "vfs",
    args: [
      "--root",
      join(dir, "root"),
      "--runroot",
      join(dir, "runroot"),
      "--tmpdir",
      join(dir, "tmp"),
      "--storage-driver",
      "vfs",
      "--cgroup-manager",
      "cgroupfs",
      "--events-backend",
      "file",
      "system",
      "service",
      "--time=0",
      `unix://${socket}`,
    ],
  });
}

/** `docker load` through the API; the answer is a stream of JSON progress lines, errors included. */
export async function loadImageArchive(daemon: TestDaemon, path: string): Promise<void> {
  const client = new Docker({ socketPath: daemon.socket });
  const answer = await client.loadImage(createReadStream(path), { quiet: true });
  let text = "";
  for await (const chunk of answer) text += chunk.toString();
  if (/"error(Detail)?"\s*:/.test(text)) throw new Error(`loading ${path} failed: ${text}`);
}
