/**
 * Places in an image where keys and tokens are public by design: documentation, and the test
 * suites, examples and manuals that installed software ships with throwaway keys (CPython's
 * test/certdata, Go's crypto/tls/testdata, the Google Cloud SDK's vendored requests and urllib3
 * test certificates, npm's own docs with `_authToken=` examples). Secrets there are not the
 * image's, and reporting them would bury the ones that are.
 */

/** Documentation, manuals, translations and headers: text about keys, never keys in use. */
const DOCUMENTATION =
  /^usr\/(?:local\/)?share\/(?:doc|doc-base|man|info|locale|i18n|help|gtk-doc|common-licenses|licenses|zoneinfo)\/|^usr\/lib\/locale\/|^usr\/(?:local\/)?include\//;

/**
 * Where installed software lives: the system trees (usr, opt) and language package directories
 * wherever they are (an application's own node_modules too). An application's own files outside
 * them (/app, /srv, /home, /root, /etc) are always checked.
 */
const SOFTWARE_TREE =
  /^(?:usr|opt)\/|(?:^|\/)(?:site-packages|dist-packages|node_modules|gems|go\/pkg\/mod)\//;

/** A directory of tests, examples or documentation inside installed software. */
const PUBLIC_DIRECTORY =
  /(?:^|\/)(?:tests?|testdata|testing|test[-_]data|test[-_]?suite|__tests__|fixtures|spec|examples?|samples?|demos?|docs?|man|dummyserver)\//;

/** A test file by name (Go's `_test.go`, pytest's `test_*.py`, JavaScript's `*.test.js`). */
const TEST_FILE = /(?:_test\.(?:go|py|rb)|(?:^|\/)test_[^/]*\.py|\.(?:test|spec)\.[cm]?[jt]sx?)$/;

/** Whether secrets found at `path` (by name or content) are left unreported; see docs/rules.md. */
export function isPublicKeyPlace(path: string): boolean {
  if (DOCUMENTATION.test(path)) return true;
  return SOFTWARE_TREE.test(path) && (PUBLIC_DIRECTORY.test(path) || TEST_FILE.test(path));
}
