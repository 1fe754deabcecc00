// WeChat simulator: chat as a customer through the real callback; poll for replies sent later.
(function () {
  "use strict";
  const root = document.getElementById("simulator");
  if (!root) { return; }

  const POLL_MS = 1500;
  const LATE_MS = 30000;    // how long "typing…" waits for a reply promised for later
  const TYPING_MS = 15000;  // WeChat's typing status lasts 15 s
  const OPENID = /^[A-Za-z0-9_-]{6,64}$/;
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  const transcript = document.getElementById("sim-transcript");
  const typingBubble = document.getElementById("sim-typing");
  const title = document.getElementById("sim-title");
  const form = document.getElementById("sim-form");
  const input = document.getElementById("sim-text");
  const openidBox = document.getElementById("sim-openid");
  const mode = document.getElementById("sim-mode");
  const errorBox = document.getElementById("sim-error");

  let openid = root.dataset.openid;
  let last = 0;          // the sandbox's sequence number already shown
  let generation = 0;    // bumped on a customer switch: late answers for the old one are dropped
  let waiting = 0;       // callbacks still being answered
  let lateUntil = 0;     // a reply was promised for later (the callback said `success`)
  let typingUntil = 0;   // the account sent "typing" through the customer-service API
  let stopped = false;

  function clock(seconds) {
    const at = seconds ? new Date(seconds * 1000) : new Date();
    return at.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
  }

  function scrollDown() { transcript.scrollTop = transcript.scrollHeight; }

  function add(className, text, meta, options) {
    const el = document.createElement("div");
    el.className = "msg " + className;
    const body = document.createElement("div");
    body.textContent = text;
    el.appendChild(body);
    (options || []).forEach(function (choice) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.textContent = choice;
      button.addEventListener("click", function () { sendText(choice); });
      const line = document.createElement("div");
      line.appendChild(button);
      el.appendChild(line);
    });
    if (meta) {
      const small = document.createElement("span");
      small.className = "meta";
      small.textContent = meta;
      el.appendChild(small);
    }
    transcript.insertBefore(el, typingBubble);  // "typing…" stays the last line
    scrollDown();
  }

  function note(text) { add("system", text); }

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.classList.toggle("hidden", !text);
  }

  function refreshTyping() {
    const now = Date.now();
    const on = waiting > 0 || now < lateUntil || now < typingUntil;
    const was = !typingBubble.classList.contains("hidden");
    typingBubble.classList.toggle("hidden", !on);
    title.textContent = on ? "对方正在输入…" : "匠心五金";
    if (on && !was) { scrollDown(); }
  }

  function problem(response, data) {
    if (response.status === 401) { stopped = true; return "登录已过期，请刷新页面重新登录。"; }
    if (response.status === 403) { return "页面已过期，请刷新页面后重试。"; }
    if (response.status === 404) { stopped = true; return "模拟器未启用：只在使用本地微信沙箱时可用。"; }
    if (data && typeof data.detail === "string") { return data.detail; }
    if (response.status === 422) { return "输入的内容不符合要求。"; }
    return "出错了（HTTP " + response.status + "），请稍后再试。";
  }

  function call(url, options) {
    const headers = { Accept: "application/json" };
    if (options && options.body) {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = root.dataset.csrf;
    }
    return fetch(url, Object.assign({ credentials: "same-origin", headers: headers }, options))
      .then(function (response) {
        return response.json().catch(function () { return null; }).then(function (data) {
          if (!response.ok) { throw new Error(problem(response, data)); }
          return data;
        });
      });
  }

  function send(payload) {
    const mine = generation;
    payload.openid = openid;
    payload.safe_mode = mode.value === "safe";
    waiting += 1;
    refreshTyping();
    return call(root.dataset.send, { method: "POST", body: JSON.stringify(payload) })
      .then(function (data) {
        if (mine !== generation) { return; }
        showError("");
        if (data.reply !== null) {
          add("out", data.reply, "被动回复 · " + data.seconds + " 秒");
        } else if (payload.event !== "unsubscribe") {
          lateUntil = Date.now() + LATE_MS;  // `success`: the answer comes as a customer-service message
        }
      })
      .catch(function (error) { if (mine === generation) { showError(error.message); } })
      .finally(function () { waiting -= 1; refreshTyping(); });
  }

  function sendText(text) {
    text = text.trim();
    if (!text || stopped) { return; }
    add("in", text, clock());
    send({ text: text });
  }

  function sendEvent(event, key, label) {
    if (stopped) { return; }
    note(label);
    send(key ? { event: event, key: key } : { event: event });
  }

  function poll() {
    if (stopped) { return; }
    if (document.hidden) { setTimeout(poll, POLL_MS); return; }
    const mine = generation;
    const url = root.dataset.messages + "?" + new URLSearchParams({ openid: openid, after: String(last) });
    call(url)
      .then(function (data) {
        if (mine !== generation) { return; }
        data.messages.forEach(function (m) {
          const meta = (m.kind === "custom" ? "客服消息" : "模板消息") + " · " + clock(m.at);
          add("out", m.text, meta, m.options);
        });
        if (data.messages.length) { lateUntil = 0; }
        if (data.typing === true) { typingUntil = Date.now() + TYPING_MS; }
        if (data.typing === false) { typingUntil = 0; }
        last = data.last;
        refreshTyping();
      })
      .catch(function (error) { showError(error.message); })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }

  function randomOpenid() {
    const bytes = new Uint8Array(24);
    crypto.getRandomValues(bytes);
    return "osim" + Array.from(bytes, function (b) { return ALPHABET[b % 64]; }).join("");
  }

  function switchTo(next) {
    if (!OPENID.test(next)) { showError("openid 须为 6–64 位字母、数字、_ 或 -。"); return; }
    generation += 1;
    openid = next;
    last = 0;
    lateUntil = typingUntil = 0;
    openidBox.value = next;
    Array.from(transcript.querySelectorAll(".msg")).forEach(function (el) {
      if (el !== typingBubble) { el.remove(); }
    });
    showError("");
    note("当前客户 " + next);
    history.replaceState(null, "", "?" + new URLSearchParams({ openid: next }));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    sendText(input.value);
    input.value = "";
    input.focus();
  });
  // Enter sends, except while an input method is still composing (Chinese typing).
  input.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    event.preventDefault();
    if (event.isComposing || event.keyCode === 229) { return; }
    form.requestSubmit();
  });

  document.getElementById("sim-menu").addEventListener("submit", function (e) { e.preventDefault(); });
  root.querySelectorAll("#sim-menu button[data-key]").forEach(function (button) {
    button.addEventListener("click", function () {
      sendEvent("CLICK", button.dataset.key, "点击菜单「" + button.textContent + "」");
    });
  });
  root.querySelectorAll("#sim-menu select").forEach(function (select) {
    select.addEventListener("change", function () {
      if (!select.value) { return; }
      const label = select.options[select.selectedIndex].textContent;
      sendEvent("CLICK", select.value, "点击菜单「" + label + "」");
      select.value = "";
    });
  });
  root.querySelectorAll("button[data-event]").forEach(function (button) {
    button.addEventListener("click", function () {
      sendEvent(button.dataset.event, "", button.dataset.event === "subscribe" ? "关注了公众号" : "取消关注了公众号");
    });
  });
  document.getElementById("sim-new").addEventListener("click", function () { switchTo(randomOpenid()); });
  document.getElementById("sim-switch").addEventListener("click", function () { switchTo(openidBox.value.trim()); });
  document.addEventListener("visibilitychange", refreshTyping);

  note("当前客户 " + openid);
  history.replaceState(null, "", "?" + new URLSearchParams({ openid: openid }));
  setInterval(refreshTyping, 1000);  // expire "typing…" on time
  poll();
  input.focus();
})();
