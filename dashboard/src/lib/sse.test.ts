import { describe, expect, it } from "vitest";

import { SseParser } from "./sse";

describe("SseParser", () => {
  it("parses frames split anywhere, across chunks", () => {
    const parser = new SseParser();
    const text = 'data: {"data_version":"1"}\n\ndata: {"data_version":"2"}\n\n';
    const events = [...text].flatMap((ch) => parser.push(ch));
    expect(events.map((e) => e.data)).toEqual(['{"data_version":"1"}', '{"data_version":"2"}']);
  });

  it("handles CRLF split between chunks, comments, multi-line data and fields", () => {
    const parser = new SseParser();
    const events = [
      ...parser.push(": keep-alive\r"),
      ...parser.push("\nevent: version\r\nid: 7\r\ndata: a\r\ndata: b\r"),
      ...parser.push("\n\r\nretry: 3000\n\n"),
    ];
    expect(events).toEqual([{ event: "version", data: "a\nb", id: "7" }]);
    expect(parser.retryMs).toBe(3000);
  });

  it("dispatches nothing for a frame without data or an unfinished one", () => {
    const parser = new SseParser();
    expect(parser.push("event: ping\n\n")).toEqual([]);
    expect(parser.push("data: half")).toEqual([]);
    expect(parser.push("\n\n")).toEqual([{ event: "message", data: "half", id: null }]);
  });
});
