"""The portfolio: what pages, PDFs and spreadsheets all read about an organisation's threat models —
the vocabulary (severities, statuses, the risk score), records shaped from TMI's answers, charts and
sanitised Markdown. Below the page apps (dashboard, reports, exports), above accounts."""
