// The run's code-export page (/runs/<id>/code/): the server renders the snippets; the page adds the tabs
// and the copy buttons.

import { enhanceTabs } from "../panels/codeview.js";

for (const root of document.querySelectorAll("[data-code-tabs]")) enhanceTabs(root);
