/** The rule list under the name `rules.js` as well as `rules/index.js`; both are the same list. */
export { dockerfileChecks, dockerfileRules } from "./rules/index.js";
