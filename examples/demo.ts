// `deno task demo`: a server and a client talking, printed step by step.
import { main } from "./calculator_contract.ts";

await main();
