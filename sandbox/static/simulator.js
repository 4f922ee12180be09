// Phone chat simulator: polls the chat every ~700 ms and renders it; no framework, no network but this host.
"use strict";

const API = document.body.dataset.prefix + "/api";
const POLL_MS = 700;
const state = { uid: null, person: null, channel: "telegram", version: -1, generation: 0, answers: 0, timer: null };
// The channel each person was last used on (Telegram or 企业微信), kept across reloads.
const CHANNELS_KEY = "simulator-channels";
const channels = JSON.parse(localStorage.getItem(CHANNELS_KEY) || "{}");
const $ = (id) => document.getElementById(id);

async function call(path, options = {}) {
  const response = await fetch(API + path, options);
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return response.json();
}

const postJson = (path, body) => call(path, {
  method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
});

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(box._timer);
  box._timer = setTimeout(() => { box.hidden = true; }, 2500);
}

async function loadPeople() {
  const list = $("people-list");
  list.replaceChildren();
  for (const person of await call("/people")) {
    const item = el("li", null, person.name);
    item.dataset.uid = person.telegram_user_id;
    item.append(el("span", "role", `${person.role_label || ""} · ${person.language || ""}`));
    item.addEventListener("click", () => openChat(person));
    list.append(item);
  }
}

// Where the current person's chat lives: Telegram's emulator by user id, WeCom's by member userid.
function chatPath() {
  if (state.channel === "wecom") return `/wecom/chat/${encodeURIComponent(state.person.wecom_userid)}`;
  return `/chat/${state.uid}`;
}

function showChannel(person) {
  const both = Boolean(person.wecom_userid);
  state.channel = both && channels[person.telegram_user_id] === "wecom" ? "wecom" : "telegram";
  $("channel-switch").hidden = !both;
  for (const button of $("channel-switch").children) {
    button.classList.toggle("active", button.dataset.channel === state.channel);
  }
  $("phone").classList.toggle("wecom", state.channel === "wecom");
}

async function openChat(person) {
  state.generation += 1;
  state.uid = person.telegram_user_id;
  state.person = person;
  showChannel(person);
  state.version = -1;
  state.answers = -1; // unknown until the first render, so old answers do not pop up again
  for (const item of $("people-list").children) {
    item.classList.toggle("active", item.dataset.uid === String(state.uid));
  }
  $("chat-title").textContent = person.name;
  $("chat-status").textContent = person.role_label || "";
  $("text-input").disabled = false;
  $("send-button").disabled = false;
  try {
    render(state.channel === "wecom"
      ? await postJson("/wecom/open", { userid: person.wecom_userid })
      : await postJson("/open", { telegram_user_id: state.uid }));
  } catch (error) {
    toast(`打开失败 / open failed: ${error.message}`);
  }
  schedulePoll(state.generation);
}

function schedulePoll(generation) {
  clearTimeout(state.timer);
  state.timer = setTimeout(() => poll(generation), POLL_MS);
}

async function poll(generation) {
  if (generation !== state.generation || state.uid === null) return;
  try {
    const chat = await call(`${chatPath()}?known=${state.version}`);
    if (generation === state.generation && !chat.unchanged) render(chat);
  } catch (error) {
    $("chat-status").textContent = `⚠ ${error.message}`;
  }
  if (generation === state.generation) schedulePoll(generation);
}

function keyboard(rows, messageId, className) {
  const box = el("div", className);
  for (const row of rows) {
    const line = el("div", "kb-row");
    for (const button of row) {
      const node = el("button", null, button.text);
      node.type = "button";
      node.addEventListener("click", () => tap(button.text, messageId));
      line.append(node);
    }
    box.append(line);
  }
  return box;
}

function fileLink(file, label) {
  const link = el("a", null, label);
  link.href = file.url || `${API}/file/${encodeURIComponent(file.file_id)}`;
  link.target = "_blank";
  return link;
}

function messageBody(message, bubble) {
  if (message.photo) {
    const largest = message.photo[message.photo.length - 1];
    const img = el("img");
    img.src = largest.url || `${API}/file/${encodeURIComponent(largest.file_id)}`;
    img.alt = "photo";
    bubble.append(img);
  }
  if (message.document) {
    bubble.append(fileLink(message.document, `文件 File: ${message.document.file_name || "file"}`));
  }
  if (message.location) bubble.append(el("div", null, `位置 Location: ${message.location.latitude}, ${message.location.longitude}`));
  if (message.contact) bubble.append(el("div", null, `联系人 Contact: ${message.contact.first_name} ${message.contact.phone_number}`));
  if (message.sticker) bubble.append(el("div", null, `[贴纸 sticker ${message.sticker.emoji || ""}]`));
  if (message.voice) bubble.append(el("div", null, `[语音 voice ${message.voice.duration}s]`));
  if (message.video) bubble.append(el("div", null, `[视频 video ${message.video.duration}s]`));
  const text = message.text ?? message.caption;
  if (text) bubble.append(el("div", "text", text));
  if (message.card_answer !== undefined) bubble.append(el("div", "card-answer", `✓ ${message.card_answer}`));
}

function render(chat) {
  state.version = chat.version;
  const box = $("messages");
  box.replaceChildren();
  for (const message of chat.messages) {
    const flags = `${message.deleted ? " deleted" : ""}${message.undelivered ? " undelivered" : ""}`;
    const bubble = el("div", `bubble ${message.from_bot ? "bot" : "me"}${flags}`);
    bubble.dataset.messageId = message.message_id;
    if (message.deleted) {
      bubble.textContent = "已删除 / deleted";
    } else {
      messageBody(message, bubble);
      const markup = message.reply_markup;
      if (message.from_bot && markup && markup.inline_keyboard) {
        bubble.append(keyboard(markup.inline_keyboard, message.message_id, "inline-kb"));
      }
      const time = new Date(message.date * 1000).toLocaleTimeString();
      const note = message.undelivered ? `未送达 / not delivered ${time}` : time;
      bubble.append(el("div", "meta", message.edit_date ? `已编辑 / edited ${time}` : note));
    }
    box.append(bubble);
  }
  const replyKb = $("reply-keyboard");
  replyKb.replaceChildren();
  if (chat.reply_keyboard && chat.reply_keyboard.keyboard) {
    replyKb.append(...keyboard(chat.reply_keyboard.keyboard, null, "").children);
  }
  const answers = chat.callback_answers || [];
  if (state.answers >= 0 && answers.length > state.answers) {
    const last = answers[answers.length - 1];
    if (last.text) toast(last.text);
  }
  state.answers = answers.length;
  box.scrollTop = box.scrollHeight; // newest at the bottom, like a phone
}

async function act(path, options) {
  if (state.uid === null) return;
  try {
    await call(`${chatPath()}${path}`, options);
    await poll(state.generation);
  } catch (error) {
    toast(error.message);
  }
}

function tap(label, messageId) {
  return act("/tap", { method: "POST", headers: { "Content-Type": "application/json" },
                       body: JSON.stringify({ label, message_id: messageId }) });
}

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("text-input");
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  await act("/send", { method: "POST", headers: { "Content-Type": "application/json" },
                       body: JSON.stringify({ text }) });
});

$("photo-input").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  event.target.value = "";
  await act("/photo", { method: "POST", body: form });
});

$("channel-switch").addEventListener("click", (event) => {
  const channel = event.target.dataset && event.target.dataset.channel;
  if (!channel || state.person === null || channel === state.channel) return;
  channels[state.person.telegram_user_id] = channel;
  localStorage.setItem(CHANNELS_KEY, JSON.stringify(channels));
  openChat(state.person);
});

$("location-toggle").addEventListener("click", () => { $("location-form").hidden = !$("location-form").hidden; });

$("location-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const latitude = parseFloat($("lat-input").value);
  const longitude = parseFloat($("lon-input").value);
  await act("/location", { method: "POST", headers: { "Content-Type": "application/json" },
                           body: JSON.stringify({ latitude, longitude }) });
  $("location-form").hidden = true;
});

loadPeople().catch((error) => toast(`人员列表失败 / people list failed: ${error.message}`));
