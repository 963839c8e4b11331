// Issue 7's additions to the playground, wired to the page (pages/playground.js) through one small
// interface: tools and their results (tools.js), the prompt inspector (inspect.js), predicted outputs
// (prediction.js) and the Responses thread (responses.js).

import { FRAME, MODE, STATUS } from "../core/protocol.js";
import { toolCallsOf } from "../core/stream.js";
import { ToolsPanel, ToolResults } from "./tools.js";
import { PromptInspector } from "./inspect.js";
import { PredictionPanel } from "./prediction.js";
import { ResponsesThread } from "./responses.js";

/** Responses function tools are flat ({type, name, parameters}); chat ones nest under `function`. */
function forResponses(extra) {
  const out = { ...extra };
  if (Array.isArray(extra.tools)) out.tools = extra.tools.map((t) => (t.function ? { type: "function", ...t.function } : t));
  if (extra.tool_choice && typeof extra.tool_choice === "object" && extra.tool_choice.function) {
    out.tool_choice = { type: "function", name: extra.tool_choice.function.name };
  }
  return out;
}

export function installExtras({ $, socket, conversation, send }) {
  const sent = { frame: null }; // the last chat.start sent from the composer
  const editor = $("chat-editor");
  const replyPanel = $("assistant-message").closest(".panel") || $("assistant-message");
  const tools = new ToolsPanel(editor);
  const prediction = new PredictionPanel(editor, { socket, lastFrame: () => sent.frame });
  const inspector = new PromptInspector(replyPanel);
  const thread = new ResponsesThread(replyPanel);
  prediction.place(replyPanel);
  const results = new ToolResults($("assistant-message"), {
    schema: (name) => tools.schema(name),
    onSend: (answers) => {
      conversation.addToolResults(answers);
      send({ regenerate: true });
    },
  });
  $("new-conversation").addEventListener("click", () => {
    thread.reset();
    inspector.reset();
    results.clear();
    prediction.reset();
    sent.frame = null; // "Compare without prediction" has no request to send again
  });

  return {
    tools,
    /** Add the prediction and previous_response_id to a start frame (tools come with its settings); no side effects. */
    decorate(frame) {
      const predicted = prediction.field();
      if (predicted && frame.mode === MODE.CHAT) frame.extra = { ...(frame.extra || {}), prediction: predicted };
      if (frame.mode === MODE.RESPONSES && frame.extra) frame.extra = forResponses(frame.extra);
      thread.decorate(frame);
    },
    /** The composer sent `frame`: what the panels keep of it. */
    sent(frame) {
      sent.frame = frame; // cloned when used
      inspector.reset();
      results.clear();
    },
    setMode(mode) {
      thread.setMode(mode);
    },
    /** After the page handled a frame of the composer's stream (folded into `state`). */
    onFrame(request, frame, state) {
      if (frame.type === FRAME.RAW) inspector.show(frame);
      else if (frame.type === FRAME.PERF) prediction.perf(state);
      else if (frame.type === FRAME.DONE) {
        thread.done(request, state.done, state.usage);
        const calls = toolCallsOf(state, 0);
        if (request.mode === MODE.COMPLETIONS || state.status !== STATUS.DONE || !calls.length) return;
        // The reply's turn (added by the page) carries the calls, so the next request sends them back.
        const turn = conversation.turns[conversation.turns.length - 1];
        if (turn && turn.role === "assistant") conversation.update(turn, { tool_calls: calls });
        results.show(calls);
      }
    },
  };
}
