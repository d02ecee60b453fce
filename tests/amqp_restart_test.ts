// The broker restarts in the middle of a load:
// connections, channels, topology and consumers come back by themselves, and
// every request is answered exactly once, its handler run once. Counts are
// printed for the record (sent, answered, lost, duplicated). On a node of this
// file's own; amqp_restart_killed_test.ts kills another one, at the same
// time.

import { amqpTest, stopBrokerAfterAll } from "./_amqp.ts";
import { restartUnderLoad } from "./_amqp_restart.ts";

amqpTest(
  "amqp: broker restarted mid-load: no request lost, none answered twice",
  () => restartUnderLoad(false),
  { restart: true },
);

stopBrokerAfterAll();
