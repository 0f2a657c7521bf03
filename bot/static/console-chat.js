// The conversation page's live view: asks for messages newer than the last one shown every few
// seconds and appends them. Message text is only ever set with textContent: a LINE user can type
// markup, and it must stay text.
(function () {
  "use strict";

  var POLL_MS = 3000;

  function bubble(message) {
    var row = document.createElement("div");
    row.className = message.direction === "in" ? "in" : "out";
    row.setAttribute("data-id", String(message.id));
    var body = document.createElement("div");
    body.className = "bubble";
    body.textContent = message.text;
    var meta = document.createElement("div");
    meta.className = "meta";
    var time = document.createElement("time");
    time.setAttribute("datetime", message.at);
    time.textContent = message.time;
    meta.appendChild(time);
    if (message.where) {
      meta.appendChild(document.createTextNode(" · " + message.where));
    }
    if (message.by) {
      meta.appendChild(document.createTextNode(" · "));
      var sender = document.createElement("span");
      sender.className = "sender";
      sender.textContent = "送信：" + message.by;
      meta.appendChild(sender);
    }
    row.appendChild(body);
    row.appendChild(meta);
    return row;
  }

  function start(chat) {
    var url = chat.getAttribute("data-messages-url");
    var lastId = parseInt(chat.getAttribute("data-last-id"), 10) || 0;
    var stopped = false;

    function nearBottom() {
      return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
    }

    function poll() {
      if (stopped) {
        return;
      }
      fetch(url + "?after=" + encodeURIComponent(lastId), {
        credentials: "same-origin",
        headers: { "Accept": "application/json" },
        cache: "no-store"
      }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        // Signed out, no longer allowed, or gone: a reload shows the operator why.
        if (!response.ok || type.indexOf("application/json") === -1) {
          stopped = true;
          return null;
        }
        return response.json();
      }).then(function (data) {
        // A chat page: the chat ended meanwhile (the user ended it, or it fell silent).
        if (data && data.open === false) {
          var ended = document.getElementById("chat-ended");
          if (ended) {
            ended.hidden = false;
          }
        }
        if (!data || !data.messages || !data.messages.length) {
          return;
        }
        var follow = nearBottom();
        var empty = chat.querySelector(".chat-empty");
        if (empty) {
          empty.remove();
        }
        data.messages.forEach(function (message) {
          if (message.id > lastId && !chat.querySelector('[data-id="' + Number(message.id) + '"]')) {
            chat.appendChild(bubble(message));
          }
        });
        lastId = Math.max(lastId, data.last_id || 0);
        chat.setAttribute("data-last-id", String(lastId));
        if (follow) {
          window.scrollTo(0, document.body.scrollHeight);
        }
      }).catch(function () {
        // A network hiccup: try again at the next tick.
      }).then(function () {
        if (!stopped) {
          window.setTimeout(poll, POLL_MS);
        }
      });
    }

    window.setTimeout(poll, POLL_MS);
  }

  // The reply box's count, in the units LINE and maxlength count (UTF-16 code units: `.length`).
  function counter(box) {
    var shown = document.getElementById(box.getAttribute("aria-describedby"));
    var max = parseInt(box.getAttribute("data-max"), 10);
    function update() {
      shown.textContent = box.value.length.toLocaleString("ja-JP") + " / " + max.toLocaleString("ja-JP") + "文字";
      shown.classList.toggle("over", box.value.length > max);
    }
    box.addEventListener("input", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("textarea[data-max]");
    if (box) {
      counter(box);
    }
    var chat = document.getElementById("chat");
    if (chat && chat.getAttribute("data-messages-url")) {
      start(chat);
    }
  });
})();
