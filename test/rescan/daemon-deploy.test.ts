/**
 * The deployment examples. Kubernetes (deploy/kubernetes/rescan-cronjob.yaml): no kubeconform
 * here and kubectl needs a cluster even for --dry-run=client, so the manifest is checked by
 * reading it: it parses, each object has the fields the API requires, the objects refer to each
 * other by the right names, and the config it carries passes layerwatch's own config check.
 * systemd (deploy/systemd/): `systemd-analyze verify` reads the units as systemd would.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { parseRescanConfig } from "../../src/rescan/config.js";
import { checkSchedule } from "../../src/rescan/daemon.js";
import { missingNotifyEnv } from "../../src/rescan/notify/index.js";
import { findTool } from "../helpers/tools.js";

const manifestPath = fileURLToPath(new URL("../../deploy/kubernetes/rescan-cronjob.yaml", import.meta.url));
const readmePath = fileURLToPath(new URL("../../deploy/README.md", import.meta.url));

// The manifest's shapes, as far as the checks below read them.
interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  envFrom?: Array<{ secretRef?: { name: string } }>;
  volumeMounts?: Mount[];
}
interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string };
  configMap?: { name: string };
  emptyDir?: object;
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

const documents = parseAllDocuments(readFileSync(manifestPath, "utf8"));
const objects = documents.map((document) => document.toJS() as K8sObject);
const byKind = (kind: string) => objects.find((object) => object.kind === kind)!;

describe("the Kubernetes CronJob example", () => {
  it("parses, one object a document, each with its API version, kind and name", () => {
    for (const document of documents) expect(document.errors).toEqual([]);
    expect(objects.map((object) => [object.apiVersion, object.kind])).toEqual([
      ["v1", "PersistentVolumeClaim"],
      ["v1", "ConfigMap"],
      ["batch/v1", "CronJob"],
    ]);
    for (const object of objects) expect(object.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });

  it("runs `layerwatch rescan --config ... --once` on a schedule, never two at once", () => {
    const cronJob = byKind("CronJob").spec as {
      schedule: string;
      timeZone?: string;
      concurrencyPolicy: string;
      jobTemplate: {
        spec: {
          template: {
            spec: {
              restartPolicy: string;
              containers: Container[];
              initContainers?: Container[];
              volumes: Volume[];
            };
          };
        };
      };
    };
    expect(cronJob.concurrencyPolicy).toBe("Forbid");
    // Kubernetes reads five-field cron; croner reads it the same way.
    expect(cronJob.schedule.split(" ")).toHaveLength(5);
    expect(checkSchedule(cronJob.schedule, cronJob.timeZone).getTime()).toBeGreaterThan(Date.now());
    const pod = cronJob.jobTemplate.spec.template.spec;
    expect(["Never", "OnFailure"]).toContain(pod.restartPolicy);
    const [rescan] = pod.containers;
    expect(pod.containers).toHaveLength(1);
    expect(rescan!.args).toEqual(["rescan", "--config", "/etc/layerwatch/layerwatch.yaml", "--once"]);

    // The config comes from the ConfigMap, mounted where --config looks for it.
    const configMount = rescan!.volumeMounts!.find((mount) => mount.mountPath === "/etc/layerwatch")!;
    expect(configMount.readOnly).toBe(true);
    const configVolume = pod.volumes.find((volume) => volume.name === configMount.name)!;
    expect(configVolume.configMap?.name).toBe(byKind("ConfigMap").metadata.name);
    expect(Object.keys(byKind("ConfigMap").data!)).toEqual(["layerwatch.yaml"]);

    // The state is on the claim, and both containers see it at the same path.
    const claim = byKind("PersistentVolumeClaim");
    const stateVolume = pod.volumes.find((volume) => volume.persistentVolumeClaim)!;
    expect(stateVolume.persistentVolumeClaim!.claimName).toBe(claim.metadata.name);
    const statePath = (container: Container) =>
      container.volumeMounts!.find((mount) => mount.name === stateVolume.name)?.mountPath;
    expect(statePath(rescan!)).toBe("/var/lib/layerwatch");
    for (const init of pod.initContainers ?? []) expect(statePath(init)).toBe("/var/lib/layerwatch");
    expect(pod.initContainers?.[0]?.args).toEqual(["db", "update"]);

    // Secrets only as environment variables from the Secret, never as values in the manifest.
    expect(rescan!.envFrom).toEqual([{ secretRef: { name: "layerwatch-secrets" } }]);
    for (const container of [...pod.containers, ...(pod.initContainers ?? [])]) {
      for (const variable of container.env ?? []) {
        expect(variable.name).not.toMatch(/TOKEN|SECRET|PASSWORD|WEBHOOK_URL/);
      }
    }
  });

  it("carries a config that layerwatch accepts, whose state and store are on the claim and whose secrets the README's Secret holds", () => {
    const text = byKind("ConfigMap").data!["layerwatch.yaml"]!;
    const readme = readFileSync(readmePath, "utf8");
    const secretCommand =
      /kubectl -n layerwatch create secret generic layerwatch-secrets[^\n]*(\n\s+--from-literal=[^\n]*)+/.exec(
        readme,
      );
    expect(secretCommand, "deploy/README.md shows the Secret's kubectl command").not.toBeNull();
    const secretKeys = [...secretCommand![0].matchAll(/--from-literal=([A-Z0-9_]+)=/g)].map(
      (match) => match[1]!,
    );
    const env = Object.fromEntries(secretKeys.map((key) => [key, `value-of-${key}`]));
    const config = parseRescanConfig(
      parseAllDocuments(text)[0]!.toJS(),
      "/etc/layerwatch/layerwatch.yaml",
      env,
    );
    expect(config.state).toEqual({ kind: "sqlite", path: "/var/lib/layerwatch/rescan-state.sqlite" });
    expect(config.db).toBe("/var/lib/layerwatch/vulndb.sqlite");
    expect(config.notify.notifiers.map((notifier) => notifier.kind)).toEqual(["webhook", "slack", "github"]);
    expect(missingNotifyEnv(config.notify, env)).toEqual([]);
    expect(secretKeys).toContain("REGISTRY_PASSWORD");
  });
});

const systemdDir = fileURLToPath(new URL("../../deploy/systemd/", import.meta.url));
const systemdAnalyze = findTool("systemd-analyze");
if (!systemdAnalyze)
  console.warn("skipping the systemd unit check: systemd-analyze not found (apt-get install systemd)");

describe.skipIf(!systemdAnalyze)("the systemd units", () => {
  it("pass systemd-analyze verify without a warning, and the service runs `rescan --daemon`", async () => {
    const units = readdirSync(systemdDir).sort();
    expect(units).toEqual([
      "layerwatch-db-update.service",
      "layerwatch-db-update.timer",
      "layerwatch-rescan.service",
    ]);
    const service = readFileSync(join(systemdDir, "layerwatch-rescan.service"), "utf8");
    expect(service).toMatch(
      /^ExecStart=\/usr\/local\/bin\/layerwatch rescan --config \/etc\/layerwatch\/layerwatch.yaml --daemon$/m,
    );
    expect(service).toMatch(/^TimeoutStopSec=\d+$/m);
    expect(service).toMatch(/^RestartPreventExitStatus=2$/m);
    // verify needs ExecStart's program to exist: this checkout's bin/layerwatch.js stands in for it.
    const bin = fileURLToPath(new URL("../../bin/layerwatch.js", import.meta.url));
    const copy = mkdtempSync(join(tmpdir(), "layerwatch-units-"));
    try {
      for (const unit of units) {
        const text = readFileSync(join(systemdDir, unit), "utf8").replaceAll(
          "/usr/local/bin/layerwatch",
          bin,
        );
        writeFileSync(join(copy, unit), text);
      }
      const result = await new Promise<{ code: number; output: string }>((resolve) => {
        execFile(
          systemdAnalyze!,
          ["verify", "--man=no", ...units.map((unit) => join(copy, unit))],
          (error, stdout, stderr) =>
            resolve({ code: error ? Number(error.code ?? 1) : 0, output: `${stdout}${stderr}` }),
        );
      });
      // Unknown keys are only warnings to systemd (exit 0): any output at all fails the check.
      expect(result).toEqual({ code: 0, output: "" });
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
