// The broker is killed (SIGKILL) in the middle of a load and started again:
// connections, channels, topology and consumers come back by themselves, and
// every request is answered exactly once, its handler run once. Counts are
// printed for the record (sent, answered, lost, duplicated). On a node of this
// file's own; amqp_restart_test.ts restarts another one gracefully, at the
// same time.

import { amqpTest, stopBrokerAfterAll } from "./_amqp.ts";
import { restartUnderLoad } from "./_amqp_restart.ts";

amqpTest(
  "amqp: broker killed (SIGKILL) and restarted mid-load: no request lost, none answered twice",
  () => restartUnderLoad(true),
  { restart: true },
);

stopBrokerAfterAll();
