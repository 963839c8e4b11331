"""The offline Fireworks stand-in: same paths, SSE framing, headers, perf metrics and error shapes."""
