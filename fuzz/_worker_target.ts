// The worker `deno task fuzz worker` attacks: the fuzz API (_target.ts)
// served by a Peer over `self`.

import { Peer, silentLogger } from "../mod.ts";
import { connect } from "../transports/worker.ts";
import { targetHandlers } from "./_target.ts";

new Peer(connect(self), { logger: silentLogger, handlers: targetHandlers() });
