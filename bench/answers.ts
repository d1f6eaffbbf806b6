// What workloads check an OK answer's value with: it decodes to a map (any object).
export const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";
