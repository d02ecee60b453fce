// The parrot agent's definition: `echo` repeats its message, `fail` aborts.
// The executable beside this file runs it; `rpc choria ddl` prints its DDL
// (parrot.json beside this file is that output).

import { action, defineAgent } from "../../../choria/mod.ts";

export const parrot = defineAgent({
  metadata: {
    name: "parrot",
    description: "Repeats what it is told",
    author: "The @seed/rpc authors",
    license: "MIT",
    version: "1.0.0",
    url: "https://jsr.io/@seed/rpc",
    timeout: 10,
  },
  activate: ({ config }) => config.enabled !== "false",
  actions: {
    echo: action({
      description: "Returns the message it is given",
      display: "always",
      input: {
        message: {
          prompt: "Message",
          description: "Message to be repeated back",
          type: "string",
          validation: "shellsafe",
          maxlength: 4096,
        },
      },
      output: { message: { description: "The message", display_as: "Message" } },
      run: ({ message }, ctx) => {
        ctx.log.info(`echo: ${message.length} characters from ${ctx.request.callerid}`);
        return { message };
      },
    }),
    fail: action({
      description: "Always aborts, with the given message",
      input: {
        message: {
          prompt: "Message",
          description: "Why it fails",
          type: "string",
          optional: true,
          default: "failed on purpose",
          maxlength: 1024,
        },
      },
      run: ({ message }, ctx) => ctx.abort(message),
    }),
  },
});
