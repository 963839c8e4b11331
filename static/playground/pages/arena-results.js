// The arena's results page: each answer's saved text rendered by the one Markdown renderer.
import { enhanceMarkdown } from "../core/markdown.js";

enhanceMarkdown(document);
