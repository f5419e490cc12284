"""PDF reports: a threat model or a portfolio, rendered from HTML templates with WeasyPrint."""
