// The `nodes` discovery program's logic: answers from a JSON list of nodes
// ({identity, facts, classes?, agents?}), honouring identity, fact, class and
// agent filters, and compound filters (`-S 'with("country=mt") && ...'`). The
// list comes from the `nodes` option (`--do nodes=FILE`), else nodes.json
// beside this file. A node a filter cannot be evaluated on is skipped and
// logged, as Choria's servers do.

import {
  type AgentLog,
  DiscoveryError,
  type DiscoveryRequest,
  matchesFilter,
  type NodeInfo,
} from "../../../choria/mod.ts";

export async function discover(request: DiscoveryRequest, log: AgentLog): Promise<string[]> {
  const file = request.options.nodes ?? new URL("./nodes.json", import.meta.url).pathname;
  let nodes: NodeInfo[];
  try {
    nodes = JSON.parse(await Deno.readTextFile(file));
  } catch (error) {
    throw new DiscoveryError(`cannot read the node list ${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray(nodes)) throw new DiscoveryError(`${file} does not hold a list of nodes`);
  return nodes
    .filter((node) => matchesFilter(node, request.filter, { log }))
    .map((node) => node.identity);
}
