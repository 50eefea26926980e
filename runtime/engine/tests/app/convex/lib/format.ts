// A helper module (not a function module of its own beyond its exports).
export function shout(text: string): string {
  return text.toUpperCase() + "!";
}

export const counter = { calls: 0 };
