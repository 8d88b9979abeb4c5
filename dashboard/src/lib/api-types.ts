// The public JSON API (DESIGN.md, "The public HTTP surface"): only the fields the dashboard reads.

export type FeedbackType =
  | "FEEDBACK_TYPE_UNSPECIFIED"
  | "FEEDBACK_TYPE_EXECUTION"
  | "FEEDBACK_TYPE_AGENT"
  | "FEEDBACK_TYPE_CHAT"
  | "FEEDBACK_TYPE_GENERAL";

export type Granularity =
  | "GRANULARITY_HOUR"
  | "GRANULARITY_DAY"
  | "GRANULARITY_WEEK"
  | "GRANULARITY_MONTH";

export type SentimentLabel =
  | "SENTIMENT_LABEL_UNSPECIFIED"
  | "SENTIMENT_LABEL_POSITIVE"
  | "SENTIMENT_LABEL_NEUTRAL"
  | "SENTIMENT_LABEL_NEGATIVE";

export interface RatingsPoint {
  date: string;
  count: number;
  avg_rating: number;
  rating_sum?: number;
}

export interface RatingsAnalytics {
  total_count: number;
  avg_rating: number;
  series: RatingsPoint[];
  distribution: { rating: number; count: number }[];
  trend: {
    previous_count: number;
    previous_avg_rating: number;
    count_change: number;
    count_change_percent: number;
    avg_rating_change: number;
  };
  data_version?: string;
}

export interface SentimentCounts {
  positive: number;
  neutral: number;
  negative: number;
  no_comment: number;
}

export interface SentimentPoint extends SentimentCounts {
  date: string;
  avg_sentiment_score: number;
}

export interface Theme {
  tag: string;
  count: number;
  avg_rating: number;
}

export interface SentimentAnalytics {
  series: SentimentPoint[];
  totals: SentimentCounts;
  avg_sentiment_score: number;
  top_positive_themes: Theme[];
  top_negative_themes: Theme[];
  data_version?: string;
}

export interface TopTarget {
  id: string;
  count: number;
  avg_rating: number;
}

export interface UsageTrends {
  series: { date: string; submissions: number; active_users: number }[];
  top_agents: TopTarget[];
  top_executions: TopTarget[];
  total_submissions: number;
  total_active_users: number;
  data_version?: string;
}

export interface Feedback {
  id: string;
  tenant_id: string;
  user_id: string;
  feedback_type: FeedbackType;
  execution_id: string;
  agent_id: string;
  chat_session_id: string;
  rating: number;
  comment: string;
  sentiment: SentimentLabel;
  sentiment_score: number;
  sentiment_status: string;
  tags: string[];
  metadata: Record<string, unknown> | null;
  request_id: string;
  created_at: string;
  updated_at: string;
}

export interface FeedbackPage {
  feedback: Feedback[];
  next_page_token: string;
}

/** The body of an error answer: google.rpc.Status as JSON (or Envoy's own local reply). */
export interface ApiErrorBody {
  code?: number;
  message?: string;
  details?: { "@type"?: string; field_violations?: { field: string; description: string }[] }[];
}
