/**
 * `semver(version, constraint)` as go-choria offers it (Masterminds semver v3
 * rules): constraints `=`, `!=`, `>`, `<`, `>=`, `<=` (also `=>`, `=<`), `~`
 * (`~>`), `^`, partial versions and `x`/`X`/`*` wildcards (`1.2` and `1.2.x`
 * mean `~1.2`), ANDs separated by commas or spaces, ORs by `||`, and ranges
 * `1.2 - 1.4.5`. A pre-release version satisfies only constraints that name a
 * pre-release themselves.
 *
 * @module
 */

interface Version {
  major: number;
  minor: number;
  patch: number;
  pre: string;
}

interface Constraint {
  op: string;
  v: Version;
  dirty: boolean;
  minorDirty: boolean;
  patchDirty: boolean;
}

const VERSION =
  /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const PART = String
  .raw`v?[0-9xX*]+(?:\.[0-9xX*]+)?(?:\.[0-9xX*]+)?(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?`;
const OPS = String.raw`!=|>=|=>|<=|=<|~>|[=><~^]`;
const ONE = new RegExp(String.raw`^\s*(${OPS})?\s*(${PART})\s*`);
// A range starts where a version does, never inside one: tried at every
// digit of a long run, the search was quadratic (40,000 digits took 2 s).
const RANGE = new RegExp(String.raw`(?<![0-9A-Za-z.*+-])\s*(${PART})\s+-\s+(${PART})\s*`, "g");

/** Parses a version as Masterminds' `NewVersion` does (partial versions allowed). */
export function parseVersion(text: string): Version {
  const m = VERSION.exec(text);
  if (m === null) throw new Error(`invalid semantic version ${JSON.stringify(text)}`);
  return {
    major: Number(m[1]),
    minor: Number(m[2] ?? 0),
    patch: Number(m[3] ?? 0),
    pre: m[4] ?? "",
  };
}

const isX = (s: string | undefined) => s === undefined || s === "x" || s === "X" || s === "*";

function parseConstraint(op: string, text: string): Constraint {
  const [core, pre = ""] = text.replace(/^v/, "").replace(/\+.*$/, "").split(/-(.*)/s);
  const [a, b, c] = core!.split(".");
  const dirty = isX(a) || isX(b) || isX(c);
  const minorDirty = !isX(a) && isX(b);
  const patchDirty = !isX(a) && !isX(b) && isX(c);
  const num = (s: string | undefined) => isX(s) ? 0 : Number(s);
  const major = isX(a) ? 0 : num(a);
  const v = { major, minor: isX(a) ? 0 : num(b), patch: isX(a) || isX(b) ? 0 : num(c), pre };
  if (![v.major, v.minor, v.patch].every(Number.isSafeInteger)) {
    throw new Error(`improper constraint: ${text}`);
  }
  return { op, v, dirty, minorDirty, patchDirty };
}

function comparePre(a: string, b: string): number {
  if (a === b) return 0;
  if (a === "") return 1;
  if (b === "") return -1;
  const x = a.split("."), y = b.split(".");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (i >= x.length) return -1;
    if (i >= y.length) return 1;
    const p = x[i]!, q = y[i]!;
    if (p === q) continue;
    const pn = /^\d+$/.test(p), qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) < Number(q) ? -1 : 1;
    if (pn) return -1;
    if (qn) return 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

function compare(a: Version, b: Version): number {
  return Math.sign(a.major - b.major) || Math.sign(a.minor - b.minor) ||
    Math.sign(a.patch - b.patch) || comparePre(a.pre, b.pre);
}

function tilde(v: Version, c: Constraint): boolean {
  if (compare(v, c.v) < 0) return false;
  const con = c.v;
  if (con.major === 0 && con.minor === 0 && con.patch === 0 && !c.minorDirty && !c.patchDirty) {
    return true;
  }
  if (v.major !== con.major) return false;
  return v.minor === con.minor || c.minorDirty;
}

function check(v: Version, c: Constraint): boolean {
  const con = c.v;
  if (v.pre !== "" && con.pre === "") return false;
  switch (c.op) {
    case "":
    case "=":
      return c.dirty ? tilde(v, c) : compare(v, con) === 0;
    case "!=":
      if (c.dirty) {
        if (con.major !== v.major) return true;
        if (c.minorDirty) return false;
        if (con.minor !== v.minor) return true;
        if (c.patchDirty) return false;
      }
      return compare(v, con) !== 0;
    case ">":
      if (!c.dirty) return compare(v, con) > 0;
      if (v.major !== con.major) return v.major > con.major;
      if (c.minorDirty) return false;
      if (c.patchDirty) return v.minor > con.minor;
      return compare(v, con) > 0;
    case "<":
      return compare(v, con) < 0;
    case ">=":
    case "=>":
      return compare(v, con) >= 0;
    case "<=":
    case "=<":
      if (!c.dirty) return compare(v, con) <= 0;
      if (v.major > con.major) return false;
      return !(v.major === con.major && v.minor > con.minor && !c.minorDirty);
    case "~":
    case "~>":
      return tilde(v, c);
    default: // ^
      if (compare(v, con) < 0) return false;
      if (con.major > 0 || c.minorDirty) return v.major === con.major;
      if (v.major > 0) return false;
      if (con.minor > 0 || c.patchDirty) return v.minor === con.minor;
      if (v.minor > 0) return false;
      return v.patch === con.patch;
  }
}

/** Whether `version` satisfies `constraint`; throws on text that is neither. */
export function semverCheck(version: string, constraint: string): boolean {
  const ors = constraint.replace(RANGE, " >= $1, <= $2 ").split("||").map((group) => {
    const out: Constraint[] = [];
    let rest = group;
    if (rest.trim() === "") throw new Error(`improper constraint: ${constraint}`);
    while (rest.trim() !== "") {
      const m = ONE.exec(rest);
      if (m === null) throw new Error(`improper constraint: ${group.trim()}`);
      out.push(parseConstraint(m[1] ?? "", m[2]!));
      rest = rest.slice(m[0].length);
      if (rest.startsWith(",")) rest = rest.slice(1);
      else if (rest !== "" && !/\s$/.test(m[0])) {
        throw new Error(`improper constraint: ${group.trim()}`);
      }
    }
    return out;
  });
  const v = parseVersion(version);
  return ors.some((and) => and.every((c) => check(v, c)));
}
