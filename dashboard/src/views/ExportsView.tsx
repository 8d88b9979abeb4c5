import { useState } from "react";

import { ApiError, apiFetch, attachmentName } from "../lib/api";
import { EXPORTS, type ExportSpec } from "../lib/queries";

interface Props {
  token: string;
  exportPath: (spec: ExportSpec) => string;
  onUnauthenticated: (message: string) => void;
}

type Status = { kind: "idle" } | { kind: "busy" } | { kind: "done"; name: string } | { kind: "failed"; message: string };

/** Downloads need the bearer token, so they are fetched and handed to the browser as a blob. */
export function ExportsView({ token, exportPath, onUnauthenticated }: Props) {
  const [status, setStatus] = useState<Record<string, Status>>({});
  async function download(spec: ExportSpec): Promise<void> {
    setStatus((s) => ({ ...s, [spec.kind]: { kind: "busy" } }));
    try {
      const response = await apiFetch(exportPath(spec), token);
      const name = attachmentName(response.headers.get("content-disposition"), spec.fallbackName);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setStatus((s) => ({ ...s, [spec.kind]: { kind: "done", name } }));
    } catch (error) {
      if (error instanceof ApiError && error.kind === "unauthenticated") {
        onUnauthenticated(error.message);
        return;
      }
      const message = error instanceof Error ? error.message : "download failed";
      setStatus((s) => ({ ...s, [spec.kind]: { kind: "failed", message } }));
    }
  }
  return (
    <section className="card exports">
      <p className="muted">Each export covers the range, time zone and filters chosen above.</p>
      <ul>
        {EXPORTS.map((spec) => {
          const s = status[spec.kind] ?? { kind: "idle" };
          return (
            <li key={spec.kind} data-testid={`export-${spec.kind}`}>
              <button type="button" disabled={s.kind === "busy"} onClick={() => void download(spec)}>
                Download {spec.label}
              </button>
              <span className="muted" data-state={s.kind}>
                {s.kind === "busy" && " preparing…"}
                {s.kind === "done" && ` saved as ${s.name}`}
                {s.kind === "failed" && ` failed: ${s.message}`}
              </span>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
