/**
 * Every Dockerfile rule on Dockerfiles written for it: each case is a Dockerfile and the exact set
 * of findings (rule id @ line) lintDockerfile must give, nothing more. The expected sets were
 * worked out by hand from the rules in docs/rules.md, not copied from the code's output.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the Dockerfiles here write ${VAR} as Dockerfiles do.
import { describe, expect, it } from "vitest";
import { lintDockerfile } from "../../src/hygiene/dockerfile/lint.js";

/** A Dockerfile from its lines: line n of the file is the nth argument. */
const df = (...lines: string[]) => `${lines.join("\n")}\n`;

const DIGEST = `sha256:${"3f".repeat(32)}`;
/** A base image that no base-image rule reports. */
const DEBIAN = `FROM debian:12@${DIGEST}`;
const ALPINE = `FROM alpine:3.20@${DIGEST}`;
/** Built at run time so that no token-shaped literal sits in the repository. */
const GITHUB_TOKEN = `ghp_${"Zq7Rt2Lm9X".repeat(4).slice(0, 36)}`;

interface Case {
  name: string;
  text: string;
  /** "LW-DF-nnn@line", or "LW-DF-nnn@line-endLine" for a continued instruction. */
  expected: string[];
}

const cases: Case[] = [
  // LW-DF-001: who the final stage runs as.
  { name: "no USER at all", text: df(DEBIAN, 'CMD ["app"]', "HEALTHCHECK NONE"), expected: ["LW-DF-001@1"] },
  { name: "USER root", text: df(DEBIAN, "USER root", "HEALTHCHECK NONE"), expected: ["LW-DF-001@2"] },
  { name: "USER 0:0", text: df(DEBIAN, "USER 0:0", "HEALTHCHECK NONE"), expected: ["LW-DF-001@2"] },
  {
    name: "USER root:staff",
    text: df(DEBIAN, "USER root:staff", "HEALTHCHECK NONE"),
    expected: ["LW-DF-001@2"],
  },
  { name: "USER app", text: df(DEBIAN, "USER app", "HEALTHCHECK NONE"), expected: [] },
  { name: "USER 10001:10001", text: df(DEBIAN, "USER 10001:10001", "HEALTHCHECK NONE"), expected: [] },
  {
    name: "root first, then an app user",
    text: df(DEBIAN, "USER root", "RUN id", "USER app", "HEALTHCHECK NONE"),
    expected: [],
  },
  {
    name: "an app user, then back to root",
    text: df(DEBIAN, "USER app", "RUN id", "USER 0", "HEALTHCHECK NONE"),
    expected: ["LW-DF-001@4"],
  },
  {
    name: "multi-stage: USER in the build stage does not count for the final one",
    text: df(
      `${DEBIAN} AS build`,
      "USER builder",
      "RUN make",
      ALPINE,
      "COPY --from=build /out /app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-001@4"],
  },
  {
    name: "multi-stage: the final stage built FROM a stage with USER inherits it",
    text: df(
      `${DEBIAN} AS base`,
      "USER app",
      `${ALPINE} AS tools`,
      "RUN id",
      "FROM base",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },
  {
    name: "USER from an ARG with a value of 0",
    text: df(DEBIAN, "ARG RUN_AS=0", "USER ${RUN_AS}", "HEALTHCHECK NONE"),
    expected: ["LW-DF-001@3"],
  },
  {
    name: "USER from an ARG without a value cannot be told",
    text: df(DEBIAN, "ARG RUN_AS", "USER $RUN_AS", "HEALTHCHECK NONE"),
    expected: [],
  },
  {
    name: "distroless :nonroot sets its own user",
    text: df(`FROM gcr.io/distroless/static-debian12:nonroot@${DIGEST}`, "COPY app /app", "HEALTHCHECK NONE"),
    expected: [],
  },
  {
    name: "FROM scratch runs as uid 0; no HEALTHCHECK asked",
    text: df("FROM scratch", "COPY app /app"),
    expected: ["LW-DF-001@1"],
  },

  // LW-DF-002 and LW-DF-003: the base image reference.
  {
    name: "a tag without digest",
    text: df("FROM debian:12", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-002@1"],
  },
  {
    name: "no tag at all",
    text: df("FROM debian", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-002@1", "LW-DF-003@1"],
  },
  {
    name: ":latest",
    text: df("FROM debian:latest", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-002@1", "LW-DF-003@1"],
  },
  {
    name: ":latest pinned by digest",
    text: df(`FROM debian:latest@${DIGEST}`, "USER app", "HEALTHCHECK NONE"),
    expected: [],
  },
  {
    name: "a registry port is not a tag",
    text: df("FROM localhost:5000/team/app", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-002@1", "LW-DF-003@1"],
  },
  {
    name: "ARG before FROM is expanded: ${BASE} is node:latest",
    text: df("ARG BASE=node:latest", "FROM ${BASE}", "USER node", "HEALTHCHECK NONE"),
    expected: ["LW-DF-002@2", "LW-DF-003@2"],
  },
  {
    name: "ARG before FROM with a default from another ARG",
    text: df(
      "ARG VERSION=22",
      "ARG BASE=node:${VERSION}-slim",
      "FROM $BASE",
      "USER node",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-002@3"],
  },
  {
    name: "ARG before FROM without a value: the image is unknown",
    text: df("ARG BASE", "FROM ${BASE}", "USER app", "HEALTHCHECK NONE"),
    expected: [],
  },
  {
    name: "FROM an earlier stage is not an image",
    text: df(`${DEBIAN} AS build`, "RUN make", "FROM build", "USER app", "HEALTHCHECK NONE"),
    expected: [],
  },
  {
    name: "FROM --platform with a stage name",
    text: df(
      "FROM --platform=$BUILDPLATFORM golang:1.23 AS build",
      "RUN go build",
      ALPINE,
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-002@1"],
  },
  {
    name: "FROM by image id is pinned",
    text: df(`FROM ${DIGEST}`, "USER app", "HEALTHCHECK NONE"),
    expected: [],
  },

  // LW-DF-004: secrets written in the Dockerfile.
  {
    name: "ENV with a password literal",
    text: df(DEBIAN, "ENV DB_PASSWORD=s3cr3t-Pa55word", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-004@2"],
  },
  {
    name: "ENV old syntax with a GitHub token under a harmless name",
    text: df(DEBIAN, `ENV SETTINGS ${GITHUB_TOKEN}`, "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-004@2"],
  },
  {
    name: "ARG default that is a literal API key",
    text: df(DEBIAN, "ARG API_KEY=f81d4fae7dec11d0a76500a0c91e6bf6", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-004@2"],
  },
  {
    name: "references, empty values and public keys are not secrets",
    text: df(
      DEBIAN,
      "ARG NPM_TOKEN",
      "ENV NPM_TOKEN=$NPM_TOKEN API_KEY=${API_KEY} DB_PASSWORD=",
      "ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D NODE_VERSION=22.11.0",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },
  {
    name: "a token in a RUN command",
    text: df(
      DEBIAN,
      `RUN git clone https://${GITHUB_TOKEN}@github.com/org/repo.git /src`,
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-004@2"],
  },

  // LW-DF-005: credential files copied in.
  {
    name: "COPY id_rsa",
    text: df(DEBIAN, "COPY id_rsa /root/.ssh/id_rsa", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-005@2"],
  },
  {
    name: "COPY .env and a .env.example",
    text: df(DEBIAN, "COPY .env /app/.env", "COPY .env.example /app/", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-005@2"],
  },
  {
    name: "COPY --from a stage of AWS credentials, quoted, exec form",
    text: df(
      DEBIAN,
      'COPY --from=build ["/root/.aws/credentials", "/root/.aws/credentials"]',
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-005@2"],
  },
  {
    name: "COPY . . and a CA certificate are fine; a key named PEM is not",
    text: df(
      DEBIAN,
      "COPY . .",
      "COPY ca.pem /usr/local/share/ca-certificates/",
      "COPY certs/server-key.pem /etc/tls/",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-005@4"],
  },
  {
    name: "ADD an .ssh folder and a .npmrc",
    text: df(DEBIAN, "ADD .ssh /root/.ssh", "COPY .npmrc package.json /app/", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-005@2", "LW-DF-006@2", "LW-DF-005@3"],
  },

  // LW-DF-006: ADD where COPY is meant.
  {
    name: "ADD of a plain file; ADD of an archive and a URL are fine",
    text: df(
      DEBIAN,
      "ADD app.jar /opt/app.jar",
      "ADD rootfs.tar.xz /",
      "ADD --checksum=sha256:abc https://example.com/tool.tgz /opt/",
      "ADD https://github.com/org/repo.git /src",
      'ADD "/target/app.jar" "app.jar"',
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-006@2", "LW-DF-006@6"],
  },

  // LW-DF-007: downloaded scripts run unchecked (and LW-DF-018 for the pipe).
  {
    name: "curl | sh",
    text: df(DEBIAN, "RUN curl -fsSL https://example.com/install.sh | sh", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-007@2", "LW-DF-018@2"],
  },
  {
    name: "wget -O- | sudo bash -s -- with options",
    text: df(
      DEBIAN,
      "RUN wget -qO- https://example.com/i.sh | sudo -E bash -s -- --yes",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-007@2", "LW-DF-013@2", "LW-DF-018@2"],
  },
  {
    name: 'sh -c "$(curl ...)"',
    text: df(
      DEBIAN,
      'RUN sh -c "$(curl -fsSL https://example.com/install.sh)"',
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-007@2"],
  },
  {
    name: "curl | python3 -c parses a response, it runs nothing downloaded",
    text: df(
      DEBIAN,
      "RUN curl -s https://api.example.com/v | python3 -c 'import sys,json; print(json.load(sys.stdin))'",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-018@2"],
  },
  {
    name: "downloaded to a file, checked, then run",
    text: df(
      DEBIAN,
      "RUN curl -fsSLo /tmp/i.sh https://example.com/i.sh \\",
      ' && echo "abc  /tmp/i.sh" | sha256sum -c - \\',
      " && sh /tmp/i.sh",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },

  // LW-DF-008..010: apt-get.
  {
    name: "apt-get install with nothing right",
    text: df(DEBIAN, "RUN apt-get update && apt-get install curl", "USER app", "HEALTHCHECK NONE"),
    expected: ["LW-DF-008@2", "LW-DF-009@2", "LW-DF-010@2", "LW-DF-012@2"],
  },
  {
    name: "apt-get install with everything right, -qy and a pinned version",
    text: df(
      DEBIAN,
      "RUN apt-get update \\",
      "    && apt-get -qy install --no-install-recommends curl=7.88.1-10+deb12u8 \\",
      "    && rm -rf /var/lib/apt/lists/*",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },
  {
    name: "DEBIAN_FRONTEND=noninteractive apt install --yes, lists kept",
    text: df(
      DEBIAN,
      "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt install --yes --no-install-recommends git=1:2.39.5-0+deb12u1",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-010@2"],
  },
  {
    name: "-qq implies yes; -o APT::Install-Recommends=false counts",
    text: df(
      DEBIAN,
      "RUN apt-get update -qq && apt-get install -qq -o APT::Install-Recommends=false jq=1.6-2.1 && rm -rf /var/lib/apt/lists",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },
  {
    name: "a build stage's apt install: only the rules for every stage",
    text: df(
      `${DEBIAN} AS build`,
      "RUN apt-get update && apt-get install -y gcc",
      DEBIAN,
      "COPY --from=build /usr/bin/gcc /usr/bin/gcc",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-012@2"],
  },
  {
    name: "cache mounts keep the lists out of the layer",
    text: df(
      DEBIAN,
      "RUN --mount=type=cache,target=/var/lib/apt/lists --mount=type=cache,target=/var/cache/apt \\",
      "    apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },

  // LW-DF-011: apk.
  {
    name: "apk add without --no-cache, and with it",
    text: df(
      ALPINE,
      "RUN apk update && apk add curl=8.11.1-r0",
      "RUN apk add --no-cache jq=1.7.1-r0",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-011@2"],
  },
  {
    name: "apk add, index removed in the same RUN",
    text: df(
      ALPINE,
      "RUN apk add --update curl=8.11.1-r0 && rm -rf /var/cache/apk/*",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },

  // LW-DF-012: unpinned packages.
  {
    name: "apk add: unpinned, a range, --virtual's name is not a package",
    text: df(
      ALPINE,
      "RUN apk add --no-cache --virtual .build-deps gcc 'su-exec>=0.2' musl-dev=1.2.5-r0",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-012@2"],
  },
  {
    name: "apk add of packages named by an ARG",
    text: df(
      ALPINE,
      'ARG PACKAGES="bash curl=8.11.1-r0"',
      "RUN apk add --no-cache $PACKAGES",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-012@3"],
  },
  {
    name: "pip: unpinned and pinned forms",
    text: df(
      DEBIAN,
      "RUN pip install --no-cache-dir flask==3.1.0 -r requirements.txt .",
      "RUN python3 -m pip install --upgrade pip",
      "RUN pip3 install -c constraints.txt requests",
      "RUN pip install 'django>=5'",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-012@3", "LW-DF-012@5"],
  },
  {
    name: "npm: exact versions, ci and a bare install are fine",
    text: df(
      DEBIAN,
      "RUN npm install -g typescript@5.6.3 @angular/cli@19.0.1",
      "RUN npm ci && npm install",
      "RUN npm i -g pnpm",
      "RUN npm install --save-dev jest@^29",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-012@4", "LW-DF-012@5"],
  },

  // LW-DF-013: sudo.
  {
    name: "sudo in RUN",
    text: df(DEBIAN, "USER app", "RUN sudo make install", "HEALTHCHECK NONE"),
    expected: ["LW-DF-013@3"],
  },

  // LW-DF-014: port 22.
  {
    name: "EXPOSE 22 and its spellings",
    text: df(
      DEBIAN,
      "EXPOSE 8080 22/tcp",
      "EXPOSE 2222",
      "EXPOSE 20-25/udp",
      "ARG SSH_PORT=22",
      "EXPOSE ${SSH_PORT}",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-014@2", "LW-DF-014@4", "LW-DF-014@6"],
  },

  // LW-DF-015: relative WORKDIR.
  {
    name: "relative WORKDIR, absolute, and a variable",
    text: df(
      DEBIAN,
      "WORKDIR app",
      "WORKDIR /srv/app",
      'WORKDIR "$HOME/app"',
      "WORKDIR ./build",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-015@2", "LW-DF-015@5"],
  },

  // LW-DF-016 and LW-DF-020: modes.
  {
    name: "chmod 777, 0777 -R, a+rwx, COPY --chmod=777; 1777 and 755 are fine",
    text: df(
      DEBIAN,
      "RUN chmod 777 /srv/shared",
      "RUN chmod -R 0777 /data && chmod 1777 /scratch",
      "RUN chmod a+rwx /var/log/app",
      "COPY --chmod=777 run.sh /run.sh",
      "RUN chmod 755 /usr/local/bin/app && chmod +x /entry.sh",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-016@2", "LW-DF-016@3", "LW-DF-016@4", "LW-DF-016@5"],
  },
  {
    name: "a temporary folder opened and removed in the same RUN never ships",
    text: df(
      DEBIAN,
      'RUN tmp="$(mktemp -d)" && chmod 777 "$tmp" && make -C "$tmp" && rm -rf "$tmp"',
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },
  {
    name: "setuid and setgid bits",
    text: df(
      DEBIAN,
      "RUN chmod 4755 /usr/local/bin/tool",
      "RUN chmod g+s /srv/group",
      "RUN chmod 0755 /usr/local/bin/other",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-020@2", "LW-DF-020@3"],
  },

  // LW-DF-021: a secret's name as a build argument a RUN sees.
  {
    name: "ARG NPM_TOKEN with a RUN after it; ARG GPG_KEY and an ARG with no RUN after it pass",
    text: df(
      DEBIAN,
      "ARG GPG_KEY",
      "ARG NPM_TOKEN",
      "ARG DB_PASSWORD",
      'RUN echo "$NPM_TOKEN" > /dev/null',
      "ARG LATE_SECRET",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-021@3", "LW-DF-021@4"],
  },
  {
    name: "a secret build argument in a build stage the final image only copies from",
    text: df(
      `${DEBIAN} AS build`,
      "ARG NPM_TOKEN",
      "RUN make",
      DEBIAN,
      "COPY --from=build /out /app",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },

  // LW-DF-017: repeated CMD / ENTRYPOINT.
  {
    name: "two CMDs and three ENTRYPOINTs in one stage",
    text: df(
      DEBIAN,
      'CMD ["a"]',
      'CMD ["b"]',
      'ENTRYPOINT ["x"]',
      'ENTRYPOINT ["y"]',
      'ENTRYPOINT ["z"]',
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-017@2", "LW-DF-017@4", "LW-DF-017@5"],
  },
  {
    name: "one CMD in each of two stages",
    text: df(`${DEBIAN} AS build`, 'CMD ["make"]', ALPINE, 'CMD ["app"]', "USER app", "HEALTHCHECK NONE"),
    expected: [],
  },

  // LW-DF-018: pipes.
  {
    name: "a pipe without pipefail",
    text: df(
      DEBIAN,
      "RUN curl -fsSL https://example.com/a.tgz | tar -xz -C /opt",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-018@2"],
  },
  {
    name: "SHELL with pipefail, set -o pipefail, echo | ..., exec form, || and case patterns",
    text: df(
      DEBIAN,
      "RUN set -eux -o pipefail; curl -fsSL https://example.com/a.tgz | tar -xz",
      'RUN echo "abc  file" | sha256sum -c -',
      'RUN ["/bin/sh", "-c", "ls | wc -l"]',
      "RUN test -f /a || touch /a",
      'RUN case "$(uname -m)" in x86_64|amd64) echo amd ;; *) echo other ;; esac',
      'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
      "RUN ls / | wc -l",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },
  {
    name: "SHELL set in the stage a later stage is built on",
    text: df(
      `${DEBIAN} AS base`,
      'SHELL ["/bin/bash", "-euo", "pipefail", "-c"]',
      "FROM base",
      "RUN ls / | wc -l",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },

  // LW-DF-019: HEALTHCHECK.
  {
    name: "no HEALTHCHECK, reported at the final FROM",
    text: df(`${DEBIAN} AS build`, "RUN make", ALPINE, "USER app"),
    expected: ["LW-DF-019@3"],
  },
  {
    name: "a HEALTHCHECK in the stage the final one is built on",
    text: df(
      `${DEBIAN} AS base`,
      "HEALTHCHECK CMD curl -f http://localhost/ || exit 1",
      "FROM base",
      "USER app",
    ),
    expected: [],
  },

  // The parser: continuations, comments inside them, heredocs, the escape directive.
  {
    name: "a continued RUN with comment lines inside: lines and endLine",
    text: df(
      DEBIAN,
      "RUN apt-get update \\",
      "    # curl for the health check",
      "    && apt-get install curl \\",
      "",
      "    && rm -rf /var/lib/apt/lists/*",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-008@2-6", "LW-DF-009@2-6", "LW-DF-012@2-6"],
  },
  {
    name: "heredoc RUN: the body is the script",
    text: df(
      DEBIAN,
      "RUN <<EOF",
      "set -e",
      "apt-get update",
      "apt-get install -y curl",
      "curl -fsSL https://example.com/i.sh | bash",
      "EOF",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: ["LW-DF-007@2-7", "LW-DF-009@2-7", "LW-DF-010@2-7", "LW-DF-012@2-7", "LW-DF-018@2-7"],
  },
  {
    name: "heredoc as a command's input is data, not commands",
    text: df(
      DEBIAN,
      "RUN cat <<'EOF' > /usr/local/bin/update.sh && chmod 755 /usr/local/bin/update.sh",
      "curl -fsSL https://example.com/i.sh | sh",
      "sudo apt-get install foo",
      "EOF",
      "COPY <<EOT /etc/motd",
      "sudo rm -rf /",
      "EOT",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },
  {
    name: "heredoc RUN with a python shebang is not shell",
    text: df(
      DEBIAN,
      "RUN <<EOF",
      "#!/usr/bin/env python3",
      "print('a' | 'b')",
      "EOF",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    expected: [],
  },
  {
    name: "escape directive with backtick on a Linux image: a trailing backslash continues nothing",
    text: df(
      "# escape=`",
      "FROM debian:12",
      "RUN apt-get update && `",
      "    apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8 && `",
      "    chmod 777 /data",
      "RUN echo C:\\",
      "USER app",
      "HEALTHCHECK NONE",
    ),
    // Were `\` the escape, line 6 would swallow USER app and LW-DF-001 would be reported.
    expected: ["LW-DF-002@2", "LW-DF-010@3-5", "LW-DF-016@3-5"],
  },
  {
    name: "CRLF line ends and a byte order mark",
    text: `\uFEFF${DEBIAN}\r\nRUN apt-get update && \\\r\n  apt-get install curl\r\nRUN <<EOF\r\ncurl x | sh\r\nEOF\r\nUSER app\r\nHEALTHCHECK NONE\r\n`,
    expected: [
      "LW-DF-008@2-3",
      "LW-DF-009@2-3",
      "LW-DF-010@2-3",
      "LW-DF-012@2-3",
      "LW-DF-007@4-6",
      "LW-DF-018@4-6",
    ],
  },
  {
    name: "Windows Dockerfile with backtick escape",
    text: df(
      "# escape=`",
      "FROM mcr.microsoft.com/windows/servercore:ltsc2022",
      'SHELL ["powershell", "-Command"]',
      "RUN Invoke-WebRequest -Uri https://example.com/app.zip -OutFile C:\\app.zip; `",
      "    Expand-Archive C:\\app.zip -DestinationPath C:\\app | Out-Null",
      "WORKDIR C:\\app",
      "USER ContainerAdministrator",
      'CMD ["app.exe"]',
    ),
    expected: ["LW-DF-001@7", "LW-DF-002@2", "LW-DF-019@2"],
  },
];

function findingsOf(text: string): string[] {
  const { findings, warnings } = lintDockerfile(text, "Dockerfile");
  expect(warnings).toEqual([]);
  return findings.map((finding) => {
    if (finding.location.kind !== "dockerfile")
      throw new Error("a Dockerfile finding outside the Dockerfile");
    const { line, endLine } = finding.location;
    return `${finding.ruleId}@${line}${endLine === undefined ? "" : `-${endLine}`}`;
  });
}

describe("Dockerfile rules, case by case", () => {
  it("has at least 40 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)("$name", ({ text, expected }) => {
    expect(findingsOf(text).sort()).toEqual([...expected].sort());
  });
});

describe("Dockerfile findings", () => {
  it("a known token format is critical, a name-only secret high, and neither shows the secret", () => {
    const { findings } = lintDockerfile(
      df(
        DEBIAN,
        `ENV SETTINGS=${GITHUB_TOKEN}`,
        "ENV DB_PASSWORD=s3cr3t-Pa55word",
        "USER app",
        "HEALTHCHECK NONE",
      ),
      "Dockerfile",
    );
    expect(findings.map((finding) => [finding.ruleId, finding.severity])).toEqual([
      ["LW-DF-004", "critical"],
      ["LW-DF-004", "high"],
    ]);
    for (const finding of findings) {
      expect(finding.message).not.toContain(GITHUB_TOKEN);
      expect(finding.message).not.toContain("s3cr3t-Pa55word");
    }
    expect(findings[0]?.message).toMatch(/^ENV SETTINGS holds a secret: GitHub token \(ghp_\*+\)$/);
  });

  it("a URL's credentials never reach a message", () => {
    const { findings } = lintDockerfile(
      df(
        DEBIAN,
        "RUN pip install git+https://deploy:hunter2secret@git.example.com/org/lib.git",
        "USER app",
        "HEALTHCHECK NONE",
      ),
      "Dockerfile",
    );
    expect(findings.map((finding) => finding.ruleId)).toEqual(["LW-DF-012"]);
    expect(findings[0]?.message).not.toContain("hunter2secret");
    expect(findings[0]?.message).toContain("***@git.example.com");
  });

  it("names the packages, the image and the line a message is about", () => {
    const { findings } = lintDockerfile(
      df(
        "ARG BASE=node:latest",
        "FROM ${BASE}",
        "RUN apt-get install -y --no-install-recommends curl git",
        "CMD a",
        "CMD b",
      ),
      "Dockerfile",
    );
    const messages = Object.fromEntries(findings.map((finding) => [finding.ruleId, finding.message]));
    expect(messages["LW-DF-003"]).toBe("FROM ${BASE} (node:latest) uses the latest tag");
    expect(messages["LW-DF-012"]).toBe("apt-get install without versions: curl, git (pin with name=version)");
    expect(messages["LW-DF-017"]).toBe("CMD on line 4 has no effect: the CMD on line 5 replaces it");
    expect(messages["LW-DF-001"]).toBe(
      "The final stage sets no USER: it runs as node:latest's user, root unless that image sets one",
    );
  });
});
