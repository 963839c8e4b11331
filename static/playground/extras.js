// Issue 7's additions to the playground, wired to app.js through one small interface: tools and their
// results (tools.js), the prompt inspector (inspect.js), predicted outputs (prediction.js) and the
// Responses thread (responses.js).

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

export function installExtras({ $, socket, conversation, reply, send }) {
  let last = null; // the last chat.start sent from the composer
  let usage = null;
  const editor = $("chat-editor");
  const replyPanel = $("assistant-message").closest(".panel") || $("assistant-message");
  const tools = new ToolsPanel(editor);
  const prediction = new PredictionPanel(editor, { socket, lastFrame: () => last });
  const inspector = new PromptInspector(replyPanel);
  const thread = new ResponsesThread(replyPanel);
  prediction.place(replyPanel);
  const results = new ToolResults($("assistant-message"), {
    schema: (name) => tools.schema(name),
    onSend: (answers) => {
      for (const { call, content } of answers) {
        const turn = conversation.add("tool", content);
        Object.assign(turn || conversation.turns[conversation.turns.length - 1], { tool_call_id: call.id });
      }
      conversation.render();
      send({ regenerate: true });
    },
  });
  $("new-conversation").addEventListener("click", () => {
    thread.reset();
    inspector.reset();
    results.clear();
    prediction.reset();
    last = null; // "Compare without prediction" has no request to send again
  });

  return {
    tools,
    /** Add tools, tool_choice, prediction and previous_response_id to a frame; an error text refuses it. */
    decorate(frame) {
      const defined = tools.collect();
      if (defined.error) return defined.error;
      if (frame.mode !== "completions" && defined.extra) frame.extra = { ...(frame.extra || {}), ...defined.extra };
      const predicted = prediction.field();
      if (predicted && frame.mode === "chat") frame.extra = { ...(frame.extra || {}), prediction: predicted };
      if (frame.mode === "responses" && frame.extra) frame.extra = forResponses(frame.extra);
      thread.decorate(frame);
      last = frame; // cloned when used: app.js adds the messages after this
      usage = null;
      inspector.reset();
      results.clear();
      return null;
    },
    setMode(mode) {
      thread.setMode(mode);
    },
    /** After app.js handled a frame of the composer's stream. */
    onFrame(sent, frame) {
      if (frame.type === "chat.raw") inspector.show(frame);
      else if (frame.type === "chat.perf") prediction.perf(frame.metrics);
      else if (frame.type === "chat.usage") usage = frame;
      else if (frame.type === "chat.done") {
        thread.done(sent, frame, usage);
        const choice = reply.choices.get(0);
        if (sent.mode === "completions" || frame.status !== "done" || !choice || !choice.toolCalls.size) return;
        const calls = [...choice.toolCalls.values()].map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.args } }));
        // The reply's turn (added by app.js) carries the calls, so the next request sends them back.
        const turn = conversation.turns[conversation.turns.length - 1];
        if (turn && turn.role === "assistant") {
          turn.tool_calls = calls;
          conversation.render();
        }
        results.show(calls);
      }
    },
  };
}
