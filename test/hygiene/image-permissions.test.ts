/**
 * The image checks' user, setuid/setgid, world-writable and empty-password rules on images built
 * here and read through the real pipeline.
 */
import { describe, expect, it } from "vitest";
import { checkImage } from "../../src/hygiene/image/check.js";
import { MAX_WORLD_WRITABLE_FINDINGS } from "../../src/hygiene/image/permissions.js";
import { baseLayer, dir, file, layer, scanLayers, where } from "./image-fixtures.js";

describe("the user the image runs as", () => {
  it("is root when unset, root or 0, with any group", () => {
    const rootUsers = [undefined, "", "root", "0", "root:root", "0:0", "root:staff", "000"];
    const others = ["app", "1000", "1000:1000", "nobody:nogroup", "rooter", "10"];
    const flagged = (user: string | undefined) =>
      checkImage({
        config: {
          rootfs: { type: "layers", diff_ids: [] },
          config: user === undefined ? {} : { User: user },
        },
        layers: [],
      }).map((f) => [f.ruleId, f.location]);
    for (const user of rootUsers)
      expect(flagged(user), String(user)).toEqual([["LW-IMG-001", { kind: "config", field: "config.User" }]]);
    for (const user of others) expect(flagged(user), user).toEqual([]);
  });

  it("is reported from a real image's config", async () => {
    const findings = await scanLayers([baseLayer], { image: { user: "root:root" } });
    expect(findings).toEqual([
      {
        ruleId: "LW-IMG-001",
        severity: "high",
        message: 'config.User is "root:root", so the container runs as root',
        location: { kind: "config", field: "config.User" },
      },
    ]);
    expect((await scanLayers([baseLayer]))[0]?.message).toBe(
      "config.User is not set, so the container runs as root",
    );
  });
});

describe("setuid and setgid files", () => {
  const base = layer(
    "ADD rootfs.tar.gz /",
    ...baseLayer.files,
    file("usr/bin/su", "su", 0o4755),
    file("usr/bin/wall", "wall", 0o2755),
    file("usr/bin/ls", "ls", 0o755),
  );
  const tools = layer(
    "RUN apt-get install -y tools",
    dir("usr/local"),
    dir("usr/local/bin"),
    file("usr/local/bin/helper", "helper", 0o4750),
  );
  const own = layer(
    "RUN apt-get upgrade && make install",
    // Rewritten by an upgrade with the bit the base already gave it: not added here.
    file("usr/bin/su", "su v2", 0o4755),
    // The base's setgid wall made setuid too: that bit is new.
    file("usr/bin/wall", "wall", 0o6755),
    file("usr/bin/ls", "ls", 0o755),
    dir("usr/local/bin"),
    file("usr/local/bin/tool", "tool", 0o4755),
    file("usr/local/bin/group-tool", "group-tool", 0o2711),
    { path: "usr/local/bin/tool-link", type: "link", linkname: "usr/local/bin/tool", mode: 0o4755 },
  );

  it("flags only those added above the first layer when the base is unknown", async () => {
    const findings = await scanLayers([base, tools, own], { image: { user: "app" } });
    expect(where(findings)).toEqual([
      "LW-IMG-007 usr/bin/wall@2",
      "LW-IMG-007 usr/local/bin/group-tool@2",
      "LW-IMG-007 usr/local/bin/helper@1",
      "LW-IMG-007 usr/local/bin/tool@2",
    ]);
    expect(
      findings.find((f) => f.location.kind === "file" && f.location.path === "usr/local/bin/tool")?.message,
    ).toBe("usr/local/bin/tool is setuid (uid 0), mode 4755, added by layer 2");
    expect(findings[0]?.message).toBe(
      "usr/bin/wall is setuid (uid 0) and setgid (gid 0), mode 6755, added by layer 2",
    );
  });

  it("flags only those above the base image when --base-image names it", async () => {
    const findings = await scanLayers([base, tools, own], {
      image: { user: "app" },
      baseLayers: [base, tools],
    });
    expect(where(findings)).toEqual([
      "LW-IMG-007 usr/bin/wall@2",
      "LW-IMG-007 usr/local/bin/group-tool@2",
      "LW-IMG-007 usr/local/bin/tool@2",
    ]);
  });

  it("flags nothing in an image of one layer: the base's own setuid tools are by design", async () => {
    expect(await scanLayers([base], { image: { user: "app" } })).toEqual([]);
  });
});

describe("world-writable files and directories", () => {
  it("flags them outside tmp and var/tmp, but not sticky directories, symlinks or fixed modes", async () => {
    const findings = await scanLayers(
      [
        layer(
          "ADD rootfs.tar.gz /",
          ...baseLayer.files,
          file("tmp/scratch", "x", 0o666),
          dir("var"),
          dir("var/tmp", 0o1777),
          dir("var/tmp/cache", 0o777),
          dir("run"),
          dir("run/lock", 0o1777),
          dir("app"),
          dir("app/data", 0o777),
          file("app/run.sh", "#!/bin/sh\n", 0o757),
          file("app/readme", "hi", 0o644),
          { path: "app/current", type: "symlink", linkname: "run.sh", mode: 0o777 },
          dir("srv", 0o777),
        ),
        layer("RUN chmod 755 /srv", dir("srv", 0o755), file("app/config", "k=v", 0o666)),
      ],
      { image: { user: "app" } },
    );
    expect(where(findings)).toEqual([
      "LW-IMG-008 app/config@1",
      "LW-IMG-008 app/data@0",
      "LW-IMG-008 app/run.sh@0",
    ]);
    expect(findings.map((f) => f.message)).toEqual([
      "app/config is a world-writable file, mode 0666: any user in the container can change it",
      "app/data is a world-writable directory, mode 0777: any user in the container can change it",
      "app/run.sh is a world-writable file, mode 0757: any user in the container can change it",
    ]);
  });

  it("lists at most the limit and says how many more there are", async () => {
    const many = Array.from({ length: MAX_WORLD_WRITABLE_FINDINGS + 7 }, (_, i) =>
      file(`data/f${String(i).padStart(3, "0")}`, "x", 0o666),
    );
    const findings = await scanLayers([layer("COPY data /data", dir("data"), ...many)], {
      image: { user: "app" },
    });
    expect(findings).toHaveLength(MAX_WORLD_WRITABLE_FINDINGS);
    expect(findings.at(-1)?.message).toMatch(/\(and 7 more world-writable paths not listed\)$/);
  });
});

describe("accounts with an empty password", () => {
  const shadow = (text: string) => file("etc/shadow", text, 0o640);
  it("flags an empty field in the final etc/shadow, not a locked one", async () => {
    const findings = await scanLayers(
      [
        baseLayer,
        layer(
          "RUN useradd guest && passwd -d guest",
          shadow(
            [
              "root:*:19000:0:99999:7:::",
              "daemon:!:19000:0:99999:7:::",
              "bin:!!:19000::::::",
              "sys:!*:19000::::::",
              "lp:!$6$c2FsdA$aGFzaA:19000::::::",
              "app:$6$c2FsdA$aGFzaA:19000::::::",
              "guest::19000:0:99999:7:::",
              "",
            ].join("\n"),
          ),
        ),
      ],
      { image: { user: "app" } },
    );
    expect(findings).toEqual([
      {
        ruleId: "LW-IMG-009",
        severity: "high",
        message:
          "account guest has an empty password in etc/shadow: anyone in the container can become it without one",
        location: { kind: "file", path: "etc/shadow", layer: 1 },
      },
    ]);
  });

  it("goes by the final image's etc/shadow, not an earlier layer's", async () => {
    const findings = await scanLayers(
      [
        layer("ADD rootfs.tar.gz /", dir("etc"), shadow("root::19000::::::\n")),
        layer("RUN passwd -l root", dir("etc"), shadow("root:!:19000::::::\n")),
      ],
      { image: { user: "app" } },
    );
    expect(findings).toEqual([]);
  });
});
