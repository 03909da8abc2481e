// Strings that outlive their request. A name or value parsed from a body is a slice of it,
// and V8 keeps the whole body alive for as long as any slice of 13 characters or more is
// reachable: a long-lived map keyed by one kept one body per entry.

/** A copy of `text` that shares no memory with it (a short slice is a copy already). */
export function stringOfItsOwn(text: string): string {
  return text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string);
}
