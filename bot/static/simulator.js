/*
 * The LINE simulator page: a phone-shaped chat that plays the LINE platform's side.
 *
 * Every user action is turned into a signed webhook body by /simulator/api/events, then posted
 * to /callback exactly as LINE would. The chat itself (the user's actions and what the bot sent
 * through the simulated Messaging API) is polled from /simulator/api/chat.
 *
 * Security: nothing from a message or a user ever goes through innerHTML; every node is built
 * with createElement and textContent, and URLs are checked against a list of schemes.
 */
(() => {
  "use strict";

  const POLL_MS = 700;
  const TOAST_MS = 4000;
  const STORAGE_KEY = "lineSimulator.userId";
  const CHAT_PAGE = 200; // the API's page size: a full page means more is waiting

  const root = document.getElementById("simulator");
  const urls = {
    personas: root.dataset.personasUrl,
    events: root.dataset.eventsUrl,
    chat: root.dataset.chatUrl,
    callback: root.dataset.callbackUrl,
    richMenu: root.dataset.richMenuUrl,
  };
  const byId = (id) => document.getElementById(id);
  const ui = {
    phone: byId("phone"),
    persona: byId("persona"),
    addPersona: byId("add-persona"),
    follow: byId("follow"),
    block: byId("block"),
    chat: byId("chat"),
    list: byId("chat-list"),
    empty: byId("chat-empty"),
    typing: byId("typing"),
    toast: byId("toast"),
    quick: byId("quick-replies"),
    input: byId("message-input"),
    send: byId("send"),
    sticker: byId("sticker"),
    richMenu: byId("rich-menu"),
    richMenuBar: byId("rich-menu-bar"),
    richMenuPanel: byId("rich-menu-panel"),
  };

  const state = {
    userId: null,
    generation: 0, // bumped on every persona switch, so late answers for another chat are dropped
    lastId: 0,
    lastQuick: null, // quick reply items of the latest bot message, while it is the latest entry
    membership: null, // "follow" | "unfollow" | null: the user's latest follow/unfollow
    lastDay: null,
    lastSender: null,
    loadingTimer: null,
    polling: false,
    pollAgain: false,
    pollTimer: null,
    connectionLost: false,
    toastTimer: null,
    sendChain: Promise.resolve(),
  };

  // ---------------------------------------------------------------- small helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function str(value) {
    return value === undefined || value === null ? "" : String(value);
  }

  function safeUrl(raw, schemes) {
    if (typeof raw !== "string" || !raw) return null;
    try {
      const url = new URL(raw, window.location.href);
      return schemes.includes(url.protocol) ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  const imageUrl = (raw) => safeUrl(raw, ["https:", "http:"]);

  function safeColor(raw) {
    return typeof raw === "string" && /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.test(raw) ? raw : null;
  }

  function parseTime(iso) {
    if (typeof iso !== "string") return null;
    // Python's isoformat has microseconds; keep milliseconds for every browser's Date parser.
    const ms = Date.parse(iso.replace(/(\.\d{3})\d+/, "$1"));
    return Number.isNaN(ms) ? null : new Date(ms);
  }

  const clock = new Intl.DateTimeFormat("ja-JP", { hour: "2-digit", minute: "2-digit" });
  const dayLabel = new Intl.DateTimeFormat("ja-JP", { year: "numeric", month: "long", day: "numeric", weekday: "short" });

  function storeUser(userId) {
    try {
      if (userId) window.localStorage.setItem(STORAGE_KEY, userId);
    } catch (_) { /* private mode: just do not remember */ }
  }

  function storedUser() {
    try {
      return window.localStorage.getItem(STORAGE_KEY);
    } catch (_) {
      return null;
    }
  }

  // ---------------------------------------------------------------- notices

  function notify(message, sticky = false) {
    clearTimeout(state.toastTimer);
    ui.toast.textContent = message;
    ui.toast.hidden = false;
    if (!sticky) state.toastTimer = setTimeout(() => { ui.toast.hidden = true; }, TOAST_MS);
  }

  function connectionLost(lost) {
    if (lost && !state.connectionLost) notify("サーバーに接続できません。再接続しています…", true);
    if (!lost && state.connectionLost) ui.toast.hidden = true;
    state.connectionLost = lost;
  }

  // ---------------------------------------------------------------- personas

  let personasLoad = 0;

  async function loadPersonas(preferred) {
    // Only the latest load applies: the page's first load answering late must not replace the
    // list a user just added to (and switch them back to the first user).
    const load = ++personasLoad;
    let personas = [];
    try {
      const response = await fetch(urls.personas, { cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      personas = (await response.json()).personas || [];
    } catch (_) {
      if (load === personasLoad) notify("ユーザーの一覧を読み込めませんでした。");
    }
    if (load !== personasLoad) return;
    ui.persona.replaceChildren(...personas.map((p) => {
      const option = el("option", null, p.display_name);
      option.value = p.user_id;
      return option;
    }));
    const wanted = preferred || storedUser();
    const chosen = personas.find((p) => p.user_id === wanted) || personas[0];
    selectUser(chosen ? chosen.user_id : null);
  }

  async function addPersona() {
    const name = (window.prompt("追加するユーザーの表示名を入力してください", "") || "").trim();
    if (!name) return;
    try {
      const response = await fetch(urls.personas, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ display_name: name }),
      });
      if (!response.ok) throw new Error(String(response.status));
      const added = await response.json();
      await loadPersonas(added.user_id);
    } catch (_) {
      notify("ユーザーを追加できませんでした。");
    }
  }

  function selectUser(userId) {
    state.generation += 1;
    state.userId = userId;
    state.lastId = 0;
    state.lastQuick = null;
    state.membership = null;
    state.lastDay = null;
    state.lastSender = null;
    hideLoading();
    closePicker();
    ui.list.replaceChildren();
    ui.empty.hidden = false;
    if (userId) {
      ui.persona.value = userId;
      storeUser(userId);
    }
    refreshControls();
    pollNow();
  }

  // ---------------------------------------------------------------- sending, as LINE would

  function send(action) {
    const userId = state.userId;
    if (!userId) {
      notify("先に「ユーザーを追加」でユーザーを作ってください。");
      return;
    }
    if (state.membership === "unfollow" && action.type !== "follow") {
      notify("ブロック中は送信できません。「友だち追加」で解除してください。");
      return;
    }
    state.lastQuick = null;
    renderQuickReplies();
    // One at a time, in order: LINE delivers a user's events in the order they happened.
    state.sendChain = state.sendChain.then(() => deliver(userId, action), () => deliver(userId, action));
  }

  async function deliver(userId, action) {
    let signed;
    try {
      const response = await fetch(urls.events, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user_id: userId, ...action }),
      });
      if (!response.ok) {
        notify(`イベントを作れませんでした（${response.status}）。`);
        return;
      }
      signed = await response.json();
    } catch (_) {
      notify("サーバーに接続できませんでした。");
      return;
    }
    pollNow();
    try {
      const response = await fetch(urls.callback, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Line-Signature": signed.signature },
        body: signed.body,
      });
      if (response.status !== 200) notify(`Webhookが受け付けられませんでした（/callback: ${response.status}）。`);
    } catch (_) {
      notify("Webhookを送れませんでした（/callback に接続できません）。");
    }
    pollNow();
  }

  function sendTyped() {
    const text = ui.input.value;
    if (!text.trim()) return;
    ui.input.value = "";
    autosize();
    send({ type: "message", text });
    ui.input.focus();
  }

  // What tapping an action does, wherever it sits: a chip, a template button, a flex component.
  function perform(action) {
    if (!action || typeof action !== "object") return;
    switch (action.type) {
      case "message":
        if (str(action.text)) send({ type: "message", text: str(action.text) });
        break;
      case "postback": {
        const shown = str(action.displayText || action.text);
        send({ type: "postback", data: str(action.data), display_text: shown || null });
        if (action.inputOption === "openKeyboard") {
          if (action.fillInText) ui.input.value = str(action.fillInText);
          autosize();
          ui.input.focus();
        }
        break;
      }
      case "datetimepicker":
        openPicker(action);
        break;
      case "uri": {
        const href = safeUrl(action.uri, ["https:", "http:", "tel:", "mailto:"]);
        if (href) window.open(href, "_blank", "noopener,noreferrer");
        else notify("このリンクはシミュレーターでは開けません。");
        break;
      }
      case "clipboard":
        if (navigator.clipboard) {
          navigator.clipboard.writeText(str(action.clipboardText)).then(
            () => notify("コピーしました。"), () => notify("コピーできませんでした。"));
        }
        break;
      default:
        notify(`「${str(action.label) || str(action.type)}」の操作はシミュレーターでは使えません。`);
    }
  }

  // ---------------------------------------------------------------- the date/time picker

  const PICKER_MODES = {
    date: { input: "date", length: 10, title: "日付を選択" },
    time: { input: "time", length: 5, title: "時刻を選択" },
    datetime: { input: "datetime-local", length: 16, title: "日時を選択" },
  };

  function closePicker() {
    const open = ui.phone.querySelector(".picker");
    if (open) open.remove();
  }

  function openPicker(action) {
    closePicker();
    const mode = PICKER_MODES[action.mode] ? action.mode : "date";
    const spec = PICKER_MODES[mode];
    const overlay = el("div", "picker");
    overlay.id = "picker";
    const sheet = el("div", "picker-sheet");
    sheet.setAttribute("role", "dialog");
    sheet.setAttribute("aria-modal", "true");
    sheet.setAttribute("aria-label", spec.title);
    const title = el("p", "picker-title", str(action.label) || spec.title);
    const input = el("input", "picker-input");
    input.type = spec.input;
    input.setAttribute("aria-label", spec.title);
    for (const key of ["min", "max"]) {
      if (typeof action[key] === "string") input[key] = action[key];
    }
    if (typeof action.initial === "string") input.value = action.initial;
    const cancel = el("button", "picker-cancel", "キャンセル");
    const ok = el("button", "picker-ok", "決定");
    cancel.type = ok.type = "button";
    const sync = () => { ok.disabled = !input.value || !input.checkValidity(); };
    input.addEventListener("input", sync);
    input.addEventListener("change", sync);
    sync();
    cancel.addEventListener("click", closePicker);
    ok.addEventListener("click", () => {
      if (!input.value || !input.checkValidity()) return;
      const value = input.value.slice(0, spec.length); // LINE's formats: 2026-12-01, 10:00, 2026-12-01T10:00
      closePicker();
      send({ type: "postback", data: str(action.data), params: { [mode]: value } });
    });
    overlay.addEventListener("click", (event) => { if (event.target === overlay) closePicker(); });
    overlay.addEventListener("keydown", (event) => { if (event.key === "Escape") closePicker(); });
    const buttons = el("div", "picker-buttons");
    buttons.append(cancel, ok);
    sheet.append(title, input, buttons);
    overlay.append(sheet);
    ui.phone.append(overlay);
    input.focus();
  }

  // ---------------------------------------------------------------- polling the chat

  function pollNow() {
    clearTimeout(state.pollTimer);
    if (state.polling) {
      state.pollAgain = true;
      return;
    }
    poll();
  }

  async function poll() {
    state.polling = true;
    state.pollAgain = false;
    const generation = state.generation;
    let full = false;
    try {
      if (state.userId) {
        const query = new URLSearchParams({ user_id: state.userId, after: String(state.lastId) });
        const response = await fetch(`${urls.chat}?${query}`, { cache: "no-store" });
        if (!response.ok) throw new Error(String(response.status));
        const entries = (await response.json()).entries || [];
        if (generation === state.generation) {
          apply(entries);
          full = entries.length >= CHAT_PAGE;
        }
      }
      connectionLost(false);
    } catch (_) {
      connectionLost(true);
    } finally {
      state.polling = false;
      const again = state.pollAgain || full || generation !== state.generation;
      state.pollTimer = setTimeout(poll, again ? 0 : POLL_MS);
    }
  }

  function nearBottom() {
    return ui.chat.scrollHeight - ui.chat.scrollTop - ui.chat.clientHeight < 120;
  }

  function scrollToBottom() {
    ui.chat.scrollTop = ui.chat.scrollHeight;
  }

  function apply(entries) {
    const follow = nearBottom() || state.lastId === 0;
    let changed = false;
    for (const entry of entries) {
      if (typeof entry.id !== "number" || entry.id <= state.lastId) continue;
      state.lastId = entry.id;
      if (entry.sender === "user" || entry.sender === "bot") addDaySeparator(entry);
      const node = renderEntry(entry);
      if (!node) continue;
      ui.list.append(node);
      changed = true;
    }
    if (changed) {
      renderQuickReplies();
      refreshControls();
    }
    ui.empty.hidden = ui.list.childElementCount > 0;
    if (changed && follow) scrollToBottom();
  }

  function addDaySeparator(entry) {
    const at = parseTime(entry.created_at);
    if (!at) return;
    const day = at.toDateString();
    if (day === state.lastDay) return;
    state.lastDay = day;
    ui.list.append(el("div", "day", dayLabel.format(at)));
    state.lastSender = null;
  }

  function timeOf(entry) {
    const at = parseTime(entry.created_at);
    return el("span", "msg-time", at ? clock.format(at) : "");
  }

  // ---------------------------------------------------------------- entries

  function renderEntry(entry) {
    const payload = entry.payload && typeof entry.payload === "object" ? entry.payload : {};
    if (entry.sender === "loading") {
      showLoading(entry, payload);
      return null;
    }
    if (entry.sender === "bot") {
      hideLoading();
      state.lastQuick = payload.quickReply && Array.isArray(payload.quickReply.items) ? payload.quickReply.items : null;
      const node = renderBotEntry(entry, payload);
      state.lastSender = "bot";
      return node;
    }
    if (entry.sender === "user") {
      state.lastQuick = null;
      const node = renderUserEntry(entry, payload);
      state.lastSender = node.classList.contains("system") ? null : "user";
      return node;
    }
    return null;
  }

  function system(text, title) {
    const node = el("div", "system");
    const pill = el("span", "system-text", text);
    if (title) pill.title = title;
    node.append(pill);
    return node;
  }

  function userBubble(entry, content, extraClass) {
    const node = el("div", "msg user");
    const bubble = el("div", `bubble${extraClass ? ` ${extraClass}` : ""}`);
    bubble.append(content);
    const meta = el("div", "msg-meta");
    meta.append(timeOf(entry));
    node.append(meta, bubble);
    return node;
  }

  function renderUserEntry(entry, payload) {
    switch (payload.type) {
      case "message":
        return userBubble(entry, linkified(str(payload.text)));
      case "sticker":
        return userBubble(entry, document.createTextNode("[スタンプ]"), "bubble-sticker");
      case "postback": {
        if (payload.display_text) return userBubble(entry, document.createTextNode(str(payload.display_text)));
        const params = payload.params && typeof payload.params === "object" ? payload.params : {};
        if (params.datetime) return system(`日時を選択しました：${str(params.datetime).replace("T", " ")}`, str(payload.data));
        if (params.date) return system(`日付を選択しました：${str(params.date)}`, str(payload.data));
        if (params.time) return system(`時刻を選択しました：${str(params.time)}`, str(payload.data));
        return system("ボタンを押しました", str(payload.data));
      }
      case "follow":
        state.membership = "follow";
        return system("友だち追加しました");
      case "unfollow":
        state.membership = "unfollow";
        return system("ブロックしました");
      default:
        return system(`[${str(payload.type) || "操作"}]`);
    }
  }

  function renderBotEntry(entry, message) {
    const node = el("div", "msg bot");
    if (state.lastSender === "bot") node.classList.add("cont");
    const avatar = el("span", "msg-avatar", "み");
    avatar.setAttribute("aria-hidden", "true");
    const body = el("div", "msg-body");
    const content = renderMessage(message);
    if (content.classList.contains("carousel")) node.classList.add("msg-wide");
    body.append(content);
    const meta = el("div", "msg-meta");
    if (entry.via) meta.append(el("span", `via via-${entry.via === "push" ? "push" : "reply"}`, entry.via));
    meta.append(timeOf(entry));
    const row = el("div", "msg-row");
    row.append(body, meta);
    node.append(avatar, row);
    return node;
  }

  // ---------------------------------------------------------------- loading animation

  function showLoading(entry, payload) {
    const seconds = Number(payload.seconds) > 0 ? Number(payload.seconds) : 5;
    const started = parseTime(entry.created_at);
    const from = started ? Math.min(started.getTime(), Date.now()) : Date.now();
    const left = from + seconds * 1000 - Date.now();
    if (left <= 0) return;
    clearTimeout(state.loadingTimer);
    ui.typing.hidden = false;
    state.loadingTimer = setTimeout(hideLoading, left);
    if (nearBottom()) scrollToBottom();
  }

  function hideLoading() {
    clearTimeout(state.loadingTimer);
    ui.typing.hidden = true;
  }

  // ---------------------------------------------------------------- quick replies

  function renderQuickReplies() {
    const items = state.membership === "unfollow" ? null : state.lastQuick;
    ui.quick.replaceChildren();
    if (!items || !items.length) {
      ui.quick.hidden = true;
      return;
    }
    for (const item of items) {
      const action = item && item.action;
      if (!action) continue;
      const chip = el("button", `chip chip-${str(action.type) || "action"}`);
      chip.type = "button";
      const icon = imageUrl(item.imageUrl);
      if (icon) {
        const img = el("img", "chip-icon");
        img.alt = "";
        img.src = icon;
        chip.append(img);
      }
      chip.append(document.createTextNode(actionLabel(action)));
      chip.addEventListener("click", () => perform(action));
      ui.quick.append(chip);
    }
    ui.quick.hidden = !ui.quick.childElementCount;
    if (nearBottom()) scrollToBottom();
  }

  function actionLabel(action) {
    const fallback = { camera: "カメラ", cameraRoll: "カメラロール", location: "位置情報", datetimepicker: "日時を選択" };
    return str(action.label) || fallback[action.type] || str(action.text) || "選択";
  }

  function refreshControls() {
    const blocked = state.membership === "unfollow";
    const noUser = !state.userId;
    ui.follow.disabled = noUser;
    ui.block.disabled = noUser || blocked;
    ui.input.disabled = ui.send.disabled = ui.sticker.disabled = noUser || blocked;
    ui.input.placeholder = noUser ? "ユーザーを追加してください"
      : blocked ? "ブロック中です（「友だち追加」で解除）" : "メッセージを入力";
    ui.phone.classList.toggle("is-blocked", blocked);
  }

  // ---------------------------------------------------------------- messages

  const URL_IN_TEXT = /https?:\/\/[^\s<>"'「」（）()、。]+/g;

  function linkified(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(URL_IN_TEXT)) {
      fragment.append(text.slice(last, match.index));
      const link = el("a", null, match[0]);
      link.href = match[0];
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      fragment.append(link);
      last = match.index + match[0].length;
    }
    fragment.append(text.slice(last));
    return fragment;
  }

  function bubble(content, extraClass) {
    const node = el("div", `bubble${extraClass ? ` ${extraClass}` : ""}`);
    node.append(content);
    return node;
  }

  function placeholder(text) {
    return bubble(document.createTextNode(text), "bubble-placeholder");
  }

  function renderMessage(message) {
    try {
      switch (message.type) {
        case "text":
          return bubble(linkified(str(message.text)));
        case "template":
          return renderTemplate(message) || placeholder(`[テンプレート] ${str(message.altText)}`);
        case "flex":
          return renderFlexMessage(message) || placeholder(`[Flex] ${str(message.altText)}`);
        case "sticker":
          return placeholder("[スタンプ]");
        case "image":
          return placeholder("[画像]");
        case "video":
          return placeholder("[動画]");
        case "audio":
          return placeholder("[音声]");
        case "location":
          return placeholder(`[位置情報] ${str(message.title)} ${str(message.address)}`.trim());
        case "imagemap":
          return placeholder(`[イメージマップ] ${str(message.altText)}`.trim());
        default:
          return placeholder(`[${str(message.type) || "メッセージ"}]`);
      }
    } catch (_) {
      return placeholder("[表示できないメッセージ]");
    }
  }

  function actionButton(action, className) {
    const button = el("button", className, actionLabel(action || {}));
    button.type = "button";
    button.addEventListener("click", () => perform(action));
    return button;
  }

  // Templates: buttons, confirm, carousel, image_carousel.

  function templateCard(column, withTitle) {
    const card = el("div", "tpl-card");
    const thumb = imageUrl(column.thumbnailImageUrl);
    if (thumb) {
      const img = el("img", "tpl-thumb");
      img.alt = "";
      img.src = thumb;
      if (column.imageBackgroundColor && safeColor(column.imageBackgroundColor)) {
        img.style.backgroundColor = column.imageBackgroundColor;
      }
      card.append(img);
    }
    const body = el("div", "tpl-body");
    if (withTitle && column.title) body.append(el("p", "tpl-title", column.title));
    body.append(el("p", "tpl-text", str(column.text)));
    card.append(body);
    const actions = el("div", "tpl-actions");
    for (const action of (Array.isArray(column.actions) ? column.actions : []).slice(0, 4)) {
      actions.append(actionButton(action, "tpl-action"));
    }
    card.append(actions);
    return card;
  }

  function renderTemplate(message) {
    const template = message.template || {};
    switch (template.type) {
      case "buttons":
        return templateCard(template, true);
      case "confirm": {
        const card = el("div", "tpl-card tpl-confirm");
        const body = el("div", "tpl-body");
        body.append(el("p", "tpl-text", str(template.text)));
        const actions = el("div", "tpl-actions tpl-actions-row");
        for (const action of (Array.isArray(template.actions) ? template.actions : []).slice(0, 2)) {
          actions.append(actionButton(action, "tpl-action"));
        }
        card.append(body, actions);
        return card;
      }
      case "carousel": {
        const row = el("div", "carousel");
        for (const column of Array.isArray(template.columns) ? template.columns : []) {
          row.append(templateCard(column, true));
        }
        return row;
      }
      case "image_carousel": {
        const row = el("div", "carousel");
        for (const column of Array.isArray(template.columns) ? template.columns : []) {
          const card = el("div", "tpl-card tpl-image-card");
          const src = imageUrl(column.imageUrl);
          if (src) {
            const img = el("img", "tpl-thumb");
            img.alt = "";
            img.src = src;
            card.append(img);
          }
          card.append(actionButton(column.action, "tpl-action"));
          row.append(card);
        }
        return row;
      }
      default:
        return null;
    }
  }

  // Flex: bubble and carousel containers; unknown components render as nothing.

  const FONT_SIZES = { xxs: 10, xs: 11, sm: 13, md: 14, lg: 16, xl: 18, xxl: 22, "3xl": 26, "4xl": 32, "5xl": 40 };
  const SPACING = { none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 };
  const IMAGE_SIZES = { xxs: 40, xs: 60, sm: 80, md: 100, lg: 120, xl: 140, xxl: 160, "3xl": 180, "4xl": 200, "5xl": 220 };
  const ALIGN = { start: "flex-start", end: "flex-end", center: "center" };

  function cssLength(value, keywords) {
    if (typeof value !== "string") return null;
    if (keywords && Object.prototype.hasOwnProperty.call(keywords, value)) return `${keywords[value]}px`;
    return /^\d+(\.\d+)?(px|%)$/.test(value) ? value : null;
  }

  function renderFlexMessage(message) {
    const contents = message.contents || {};
    if (contents.type === "bubble") return renderFlexBubble(contents);
    if (contents.type === "carousel") {
      const row = el("div", "carousel");
      for (const item of Array.isArray(contents.contents) ? contents.contents : []) {
        if (item && item.type === "bubble") row.append(renderFlexBubble(item));
      }
      return row.childElementCount ? row : null;
    }
    return null;
  }

  function renderFlexBubble(bubbleSpec) {
    const node = el("div", `fx-bubble fx-size-${str(bubbleSpec.size) || "mega"}`);
    const styles = bubbleSpec.styles && typeof bubbleSpec.styles === "object" ? bubbleSpec.styles : {};
    for (const part of ["header", "hero", "body", "footer"]) {
      const spec = bubbleSpec[part];
      if (!spec || typeof spec !== "object") continue;
      const rendered = renderComponent(spec, "vertical");
      if (!rendered) continue;
      const section = el("div", `fx-section fx-${part}`);
      const style = styles[part] || {};
      const color = safeColor(style.backgroundColor);
      if (color) section.style.backgroundColor = color;
      if (style.separator) {
        section.classList.add("fx-section-separated");
        const separatorColor = safeColor(style.separatorColor);
        if (separatorColor) section.style.borderTopColor = separatorColor;
      }
      section.append(rendered);
      node.append(section);
    }
    if (bubbleSpec.action) clickable(node, bubbleSpec.action);
    return node;
  }

  function clickable(node, action) {
    if (!action || typeof action !== "object") return;
    node.classList.add("fx-clickable");
    node.tabIndex = 0;
    node.setAttribute("role", "button");
    node.addEventListener("click", (event) => {
      if (event.target.closest("button, a") && event.target.closest("button, a") !== node) return;
      event.stopPropagation();
      perform(action);
    });
  }

  function applyFlexItem(node, spec, parentLayout) {
    // How a component sits in its box: LINE's default flex is 1 in rows and 0 in columns.
    const row = parentLayout === "horizontal" || parentLayout === "baseline";
    const fixed = spec.type === "separator" || spec.type === "icon" || spec.type === "spacer";
    const grow = fixed ? 0 : typeof spec.flex === "number" ? spec.flex : row || spec.type === "filler" ? 1 : 0;
    node.style.flex = grow > 0 ? `${grow} 1 0` : "0 0 auto";
    if (row) node.style.minWidth = "0";
    const margin = cssLength(spec.margin, SPACING);
    if (margin) node.style[row ? "marginLeft" : "marginTop"] = margin;
    const gravity = { top: "flex-start", center: "center", bottom: "flex-end" }[spec.gravity];
    if (gravity && row && parentLayout !== "baseline") node.style.alignSelf = gravity;
    for (const [key, prop] of [["paddingAll", "padding"], ["paddingTop", "paddingTop"], ["paddingBottom", "paddingBottom"],
      ["paddingStart", "paddingLeft"], ["paddingEnd", "paddingRight"]]) {
      const length = cssLength(spec[key], SPACING);
      if (length) node.style[prop] = length;
    }
  }

  function renderComponent(spec, parentLayout) {
    if (!spec || typeof spec !== "object") return null;
    let node = null;
    switch (spec.type) {
      case "box": node = flexBox(spec); break;
      case "text": node = flexText(spec); break;
      case "separator": node = flexSeparator(spec, parentLayout); break;
      case "button": node = flexButton(spec); break;
      case "image": node = flexImage(spec); break;
      case "icon": node = flexIcon(spec); break;
      case "filler": node = el("div", "fx-filler"); break;
      case "spacer": node = el("div", "fx-spacer"); node.style.height = cssLength(spec.size, SPACING) || "8px"; break;
      case "video": node = spec.altContent ? renderComponent(spec.altContent, parentLayout) : null; return node;
      default: return null;
    }
    if (node) applyFlexItem(node, spec, parentLayout);
    return node;
  }

  function flexBox(spec) {
    const layout = ["vertical", "horizontal", "baseline"].includes(spec.layout) ? spec.layout : "vertical";
    const node = el("div", `fx-box fx-${layout}`);
    const gap = cssLength(spec.spacing, SPACING);
    if (gap) node.style.gap = gap;
    const background = safeColor(spec.backgroundColor);
    if (background) node.style.backgroundColor = background;
    const border = safeColor(spec.borderColor);
    const borderWidth = cssLength(spec.borderWidth, { none: 0, light: 0.5, normal: 1, medium: 2, "semi-bold": 3, bold: 4 });
    if (borderWidth) node.style.border = `${borderWidth} solid ${border || "#000000"}`;
    const radius = cssLength(spec.cornerRadius, { none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 });
    if (radius) node.style.borderRadius = radius;
    const justify = { "flex-start": "flex-start", "flex-end": "flex-end", center: "center",
      "space-between": "space-between", "space-around": "space-around", "space-evenly": "space-evenly" };
    if (justify[spec.justifyContent]) node.style.justifyContent = justify[spec.justifyContent];
    if (justify[spec.alignItems]) node.style.alignItems = justify[spec.alignItems];
    for (const child of Array.isArray(spec.contents) ? spec.contents : []) {
      const rendered = renderComponent(child, layout);
      if (rendered) node.append(rendered);
    }
    if (spec.action) clickable(node, spec.action);
    return node;
  }

  function styleText(node, spec) {
    const size = cssLength(spec.size, FONT_SIZES);
    if (size) node.style.fontSize = size;
    if (spec.weight === "bold") node.style.fontWeight = "700";
    const color = safeColor(spec.color);
    if (color) node.style.color = color;
    if (spec.style === "italic") node.style.fontStyle = "italic";
    if (spec.decoration === "underline" || spec.decoration === "line-through") node.style.textDecoration = spec.decoration;
  }

  function flexText(spec) {
    const node = el("div", `fx-text${spec.wrap ? " fx-wrap" : ""}`);
    if (Array.isArray(spec.contents) && spec.contents.length) {
      for (const span of spec.contents) {
        if (!span || span.type !== "span") continue;
        const piece = el("span", null, str(span.text));
        styleText(piece, span);
        node.append(piece);
      }
    } else {
      node.textContent = str(spec.text);
    }
    if (!spec.wrap) node.title = node.textContent;
    styleText(node, spec);
    if (ALIGN[spec.align]) node.style.textAlign = { start: "left", end: "right", center: "center" }[spec.align];
    if (spec.wrap && Number(spec.maxLines) > 0) {
      node.classList.add("fx-clamp");
      node.style.webkitLineClamp = String(Number(spec.maxLines));
    }
    if (spec.action) clickable(node, spec.action);
    return node;
  }

  function flexSeparator(spec, parentLayout) {
    const vertical = parentLayout === "horizontal" || parentLayout === "baseline";
    const node = el("div", `fx-separator${vertical ? " fx-separator-vertical" : ""}`);
    const color = safeColor(spec.color);
    if (color) node.style.backgroundColor = color;
    return node;
  }

  function flexButton(spec) {
    const style = ["primary", "secondary", "link"].includes(spec.style) ? spec.style : "link";
    const node = actionButton(spec.action, `fx-button fx-button-${style}${spec.height === "sm" ? " fx-button-sm" : ""}`);
    const color = safeColor(spec.color);
    if (color) node.style[style === "link" ? "color" : "backgroundColor"] = color;
    return node;
  }

  function flexImage(spec) {
    const src = imageUrl(spec.url);
    if (!src) return null;
    const wrap = el("div", "fx-image");
    const img = el("img");
    img.alt = "";
    img.src = src;
    img.loading = "lazy";
    const size = spec.size === "full" ? "100%" : cssLength(spec.size, IMAGE_SIZES) || "100px";
    img.style.width = size;
    const ratio = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(str(spec.aspectRatio));
    img.style.aspectRatio = ratio ? `${ratio[1]} / ${ratio[2]}` : "1 / 1";
    img.style.objectFit = spec.aspectMode === "cover" ? "cover" : "contain";
    const background = safeColor(spec.backgroundColor);
    if (background) img.style.backgroundColor = background;
    img.addEventListener("load", () => { if (nearBottom()) scrollToBottom(); });
    wrap.style.justifyContent = ALIGN[spec.align] || "center";
    wrap.append(img);
    if (spec.action) clickable(wrap, spec.action);
    return wrap;
  }

  function flexIcon(spec) {
    const src = imageUrl(spec.url);
    if (!src) return null;
    const img = el("img", "fx-icon");
    img.alt = "";
    img.src = src;
    const size = cssLength(spec.size, FONT_SIZES);
    if (size) img.style.height = img.style.width = size;
    return img;
  }

  // ---------------------------------------------------------------- the rich menu

  // The default rich menu sits under the composer as LINE shows it under the input bar: its image
  // with a transparent button over each area, and the chat bar text that opens and closes it.
  // A tap performs the area's action exactly as a chip or a template button would.

  async function loadRichMenu() {
    let menu;
    try {
      const response = await fetch(urls.richMenu, { cache: "no-store" });
      if (!response.ok) return;
      menu = await response.json();
    } catch (_) {
      return; // the chat works without it
    }
    renderRichMenu(menu);
  }

  function percent(part, whole) {
    return `${(100 * Number(part)) / whole}%`;
  }

  function renderRichMenu(menu) {
    const size = menu && menu.size;
    const src = imageUrl(menu && menu.imageUrl);
    if (!size || !(Number(size.width) > 0) || !(Number(size.height) > 0) || !src) return;
    const img = el("img", "rich-menu-image");
    img.alt = "";
    img.src = src;
    const buttons = [];
    for (const area of Array.isArray(menu.areas) ? menu.areas : []) {
      const bounds = (area && area.bounds) || {};
      const action = (area && area.action) || {};
      const button = el("button", "rich-menu-area");
      button.type = "button";
      const name = str(action.label) || str(action.displayText) || str(action.text) || "メニュー";
      button.setAttribute("aria-label", name);
      button.title = name;
      button.style.left = percent(bounds.x, size.width);
      button.style.top = percent(bounds.y, size.height);
      button.style.width = percent(bounds.width, size.width);
      button.style.height = percent(bounds.height, size.height);
      button.addEventListener("click", () => perform(action));
      buttons.push(button);
    }
    ui.richMenuPanel.replaceChildren(img, ...buttons);
    ui.richMenuBar.textContent = str(menu.chatBarText) || "メニュー";
    openRichMenu(menu.selected !== false);
    ui.richMenu.hidden = false;
  }

  function openRichMenu(open) {
    ui.richMenuPanel.hidden = !open;
    ui.richMenuBar.setAttribute("aria-expanded", String(open));
    ui.richMenuBar.classList.toggle("is-open", open);
  }

  ui.richMenuBar.addEventListener("click", () => openRichMenu(ui.richMenuPanel.hidden));

  // ---------------------------------------------------------------- the composer

  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 96)}px`;
  }

  ui.input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey) return;
    // Enter that confirms an IME conversion (Japanese input) must not send.
    if (event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    sendTyped();
  });
  ui.input.addEventListener("input", autosize);
  ui.send.addEventListener("click", sendTyped);
  ui.sticker.addEventListener("click", () => send({ type: "sticker" }));
  ui.follow.addEventListener("click", () => send({ type: "follow", unblocked: state.membership === "unfollow" }));
  ui.block.addEventListener("click", () => send({ type: "unfollow" }));
  ui.persona.addEventListener("change", () => selectUser(ui.persona.value || null));
  ui.addPersona.addEventListener("click", addPersona);

  refreshControls();
  loadPersonas();
  loadRichMenu();
})();
