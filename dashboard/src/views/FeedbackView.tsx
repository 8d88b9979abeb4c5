import { useEffect, useState } from "react";

import { Loadable } from "../components";
import type { Feedback, FeedbackPage, SentimentLabel } from "../lib/api-types";
import { FEEDBACK_TYPE_LABELS, feedbackTarget, formatInstant, SENTIMENT_LABELS } from "../lib/mapping";
import { type ListFilters } from "../lib/queries";
import { useApi } from "../useApi";
import type { ViewProps } from "./view";

interface Props extends ViewProps {
  filters: ListFilters;
  onFilters: (filters: ListFilters) => void;
  listPath: (pageToken: string) => string;
}

export function FeedbackView(props: Props) {
  const { token, refreshKey, onUnauthenticated, timeZone, filters, onFilters, listPath } = props;
  // Tokens of the pages before the current one, so "Previous" can go back.
  const [pages, setPages] = useState<string[]>([""]);
  const [selected, setSelected] = useState<string | null>(null);
  const pageToken = pages[pages.length - 1] ?? "";
  const path = listPath(pageToken);
  const firstPagePath = listPath("");
  useEffect(() => setPages([""]), [firstPagePath]);
  // Live refreshes only move the first page: a later page would shift under the reader.
  const state = useApi<FeedbackPage>(path, token, pages.length === 1 ? refreshKey : 0, onUnauthenticated);
  return (
    <div className="feedback">
      <Filters filters={filters} onFilters={onFilters} />
      <Loadable state={state} isEmpty={(d) => d.feedback.length === 0} empty="No feedback matches.">
        {(data) => (
          <>
            <table className="data-table visible feedback-list" data-testid="feedback-list">
              <thead>
                <tr>
                  <th>Created ({timeZone})</th>
                  <th>Type</th>
                  <th>Target</th>
                  <th>Rating</th>
                  <th>Sentiment</th>
                  <th>Comment</th>
                </tr>
              </thead>
              <tbody>
                {data.feedback.map((item) => (
                  <tr
                    key={item.id}
                    className={item.id === selected ? "selected" : ""}
                    data-feedback-id={item.id}
                    onClick={() => setSelected(item.id)}
                    tabIndex={0}
                    onKeyDown={(e) => e.key === "Enter" && setSelected(item.id)}
                  >
                    <td>{formatInstant(item.created_at, timeZone)}</td>
                    <td>{FEEDBACK_TYPE_LABELS[item.feedback_type]}</td>
                    <td>{feedbackTarget(item)}</td>
                    <td>{"★".repeat(item.rating)}</td>
                    <td>{SENTIMENT_LABELS[item.sentiment]}</td>
                    <td className="comment">{item.comment}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="pager">
              <button type="button" disabled={pages.length === 1} onClick={() => setPages(pages.slice(0, -1))}>
                ← Previous
              </button>
              <span data-testid="feedback-page">Page {pages.length}</span>
              <button
                type="button"
                disabled={data.next_page_token === ""}
                onClick={() => setPages([...pages, data.next_page_token])}
              >
                Next →
              </button>
            </div>
          </>
        )}
      </Loadable>
      {selected !== null && (
        <Detail
          id={selected}
          token={token}
          timeZone={timeZone}
          onClose={() => setSelected(null)}
          onUnauthenticated={onUnauthenticated}
        />
      )}
    </div>
  );
}

function Filters({ filters, onFilters }: { filters: ListFilters; onFilters: (f: ListFilters) => void }) {
  const [draft, setDraft] = useState(filters);
  const text = (key: "tag" | "agentId" | "executionId" | "chatSessionId" | "userId", label: string) => (
    <label>
      {label}
      <input
        name={key}
        value={draft[key]}
        onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
      />
    </label>
  );
  const rating = (key: "minRating" | "maxRating", label: string) => (
    <label>
      {label}
      <select name={key} value={draft[key]} onChange={(e) => setDraft({ ...draft, [key]: Number(e.target.value) })}>
        <option value={0}>any</option>
        {[1, 2, 3, 4, 5].map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
    </label>
  );
  return (
    <form
      className="filters"
      onSubmit={(e) => {
        e.preventDefault();
        onFilters(draft);
      }}
    >
      {rating("minRating", "Min rating")}
      {rating("maxRating", "Max rating")}
      <label>
        Sentiment
        <select
          name="sentiment"
          value={draft.sentiment}
          onChange={(e) => setDraft({ ...draft, sentiment: e.target.value as SentimentLabel })}
        >
          <option value="SENTIMENT_LABEL_UNSPECIFIED">any</option>
          <option value="SENTIMENT_LABEL_POSITIVE">positive</option>
          <option value="SENTIMENT_LABEL_NEUTRAL">neutral</option>
          <option value="SENTIMENT_LABEL_NEGATIVE">negative</option>
        </select>
      </label>
      {text("tag", "Tag")}
      {text("agentId", "Agent id")}
      {text("executionId", "Execution id")}
      {text("chatSessionId", "Chat session")}
      {text("userId", "User")}
      <button type="submit">Apply</button>
    </form>
  );
}

function Detail(props: {
  id: string;
  token: string;
  timeZone: string;
  onClose: () => void;
  onUnauthenticated: (message: string) => void;
}) {
  const state = useApi<Feedback>(`/v1/feedback/${encodeURIComponent(props.id)}`, props.token, 0, props.onUnauthenticated);
  return (
    <aside className="card detail" data-testid="feedback-detail" aria-label="Feedback detail">
      <button type="button" className="close" onClick={props.onClose} aria-label="Close">
        ×
      </button>
      <Loadable state={state}>
        {(item) => (
          <dl>
            <dt>Id</dt>
            <dd data-testid="detail-id">{item.id}</dd>
            <dt>Created</dt>
            <dd>{formatInstant(item.created_at, props.timeZone)}</dd>
            <dt>User</dt>
            <dd>{item.user_id}</dd>
            <dt>About</dt>
            <dd>
              {FEEDBACK_TYPE_LABELS[item.feedback_type]}: {feedbackTarget(item)}
            </dd>
            <dt>Rating</dt>
            <dd data-testid="detail-rating">{item.rating}</dd>
            <dt>Comment</dt>
            <dd className="comment">{item.comment || "—"}</dd>
            <dt>Sentiment</dt>
            <dd>
              {SENTIMENT_LABELS[item.sentiment]} ({item.sentiment_score.toFixed(4)})
            </dd>
            <dt>Tags</dt>
            <dd>{item.tags.length ? item.tags.join(", ") : "—"}</dd>
            <dt>Metadata</dt>
            <dd>
              <pre>{JSON.stringify(item.metadata ?? {}, null, 2)}</pre>
            </dd>
            <dt>Request id</dt>
            <dd>{item.request_id}</dd>
          </dl>
        )}
      </Loadable>
    </aside>
  );
}
