import type { ImageConfig } from "../../image/types.js";
import type { HygieneFinding } from "../types.js";
import { finding, rootUser } from "./rules.js";

/** Whether a USER value ("name", "uid", "name:group", "uid:gid") names root; the group does not matter. */
function isRoot(user: string): boolean {
  const name = user.split(":")[0]?.trim() ?? "";
  return name === "" || name === "root" || /^0+$/.test(name);
}

/** The user the image's processes start as: unset means root. */
export function checkUser(config: ImageConfig): HygieneFinding[] {
  const user = config.config?.User ?? "";
  if (!isRoot(user)) return [];
  const message =
    user.trim() === ""
      ? "config.User is not set, so the container runs as root"
      : `config.User is "${user}", so the container runs as root`;
  return [finding(rootUser, message, { kind: "config", field: "config.User" })];
}
