/**
 * Which places hold keys that are public by design (documentation, installed software's tests and
 * examples), with paths taken from real installations, and which are an application's own.
 */
import { describe, expect, it } from "vitest";
import { isPublicKeyPlace } from "../../src/hygiene/image/public-paths.js";

describe("public key places", () => {
  it("are documentation and the tests, examples and docs of installed software", () => {
    const publicPlaces = [
      "usr/share/doc/libxmlsec1-dev/examples/rsakey.pem",
      "usr/share/man/man5/npmrc.5.gz",
      "usr/lib/python3.11/test/certdata/keycert.pem",
      "usr/local/lib/python3.12/site-packages/urllib3/tests/certs/server.key",
      "usr/lib/google-cloud-sdk/platform/gsutil/third_party/requests/tests/certs/valid/server/server.key",
      "usr/lib/google-cloud-sdk/platform/gsutil/third_party/urllib3/dummyserver/certs/server.key",
      "usr/lib/google-cloud-sdk/platform/gsutil/third_party/google-auth-library-python/tests/transport/test__mtls_helper.py",
      "usr/lib/node_modules/npm/docs/content/configuring-npm/npmrc.md",
      "usr/lib/node_modules/npm/man/man5/npmrc.5",
      "usr/local/go/src/crypto/tls/testdata/example-key.pem",
      "usr/share/go-1.19/src/crypto/tls/example_test.go",
      "app/node_modules/ssh2/test/fixtures/id_rsa",
      "app/node_modules/jsonwebtoken/test/priv.pem",
      "root/go/pkg/mod/golang.org/x/crypto@v0.21.0/ssh/testdata/keys.go",
    ];
    for (const path of publicPlaces) expect(isPublicKeyPlace(path), path).toBe(true);
  });

  it("are not an application's own files, nor installed software's working files", () => {
    const ownPlaces = [
      "app/.env",
      "app/tests/fixtures/id_rsa", // the application's own tests: its keys may be real
      "srv/tls/server.pem",
      "root/.ssh/id_rsa",
      "etc/ssl/private/server.key",
      "home/app/docs/credentials.txt",
      "usr/local/bin/deploy.sh",
      "usr/lib/node_modules/some-cli/config/prod.json",
      "opt/app/config/secrets.yml",
      "usr/local/lib/python3.12/site-packages/mypkg/settings.py",
    ];
    for (const path of ownPlaces) expect(isPublicKeyPlace(path), path).toBe(false);
  });
});
