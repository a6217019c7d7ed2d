"""Report: findings arranged for people (terminal, HTML, JSON)."""
