import { query, mutation } from "./_generated/server";

export const spin = query({
  args: {},
  handler: async () => {
    console.log("about to spin");
    while (true) {}
  },
});

export const spinCaught = query({
  args: {},
  handler: async () => {
    for (;;) {
      try {
        while (true) {}
      } catch {
        // an interrupt must not be swallowed
      }
    }
  },
});

export const memoryBomb = mutation({
  args: {},
  handler: async () => {
    const hold: string[] = [];
    try {
      for (let i = 0; ; i++) {
        hold.push("x".repeat(1 << 20) + i);
      }
    } catch (e) {
      // swallowing the out-of-memory error must not make the call succeed
      return "swallowed";
    }
  },
});

function recurse(n: number): number {
  return recurse(n + 1) + 1;
}

export const deep = query({
  args: {},
  handler: async () => recurse(0),
});

export const ok = query({
  args: {},
  handler: async () => "fine",
});

export const dynamicImport = query({
  args: {},
  handler: async () => {
    const m = await import("./lib/format");
    return typeof m;
  },
});

export const deepCaught = query({
  args: {},
  handler: async () => {
    try {
      return recurse(0);
    } catch (e) {
      // swallowing a stack overflow must not make the call succeed
      return "swallowed";
    }
  },
});

export const deepCaughtNoBinding = query({
  args: {},
  handler: async () => {
    for (let i = 0; i < 3; i++) {
      try {
        recurse(0);
      } catch {
        continue;
      }
    }
    return "swallowed";
  },
});

export const ordinaryCatch = query({
  args: {},
  handler: async () => {
    try {
      throw new RangeError("something else");
    } catch ({ message }: any) {
      return "caught " + message;
    }
  },
});
