// The チャット相談 page's live view: every few seconds it reads the lists as JSON and redraws the
// waiting, active and ended chats, and puts the number of waiting chats in the page title. Every
// text is set with textContent: nothing from the server is ever parsed as markup.
(function () {
  "use strict";

  var POLL_MS = 3000;

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function userCell(row, chat) {
    var td = cell(row, chat.user);
    if (chat.crisis) {
      td.appendChild(document.createTextNode(" "));
      var badge = document.createElement("span");
      badge.className = "badge badge-danger";
      badge.textContent = "要注意";
      td.appendChild(badge);
    }
  }

  function link(row, url) {
    var td = cell(row, "");
    if (url) {
      var a = document.createElement("a");
      a.href = url;
      a.textContent = "開く";
      td.appendChild(a);
    }
  }

  function takeForm(row, chat, csrf) {
    var td = cell(row, "");
    var form = document.createElement("form");
    form.method = "post";
    form.action = chat.take_url;
    var token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = csrf;
    var button = document.createElement("button");
    button.type = "submit";
    button.className = "button button-primary";
    button.textContent = "引き受ける";
    form.appendChild(token);
    form.appendChild(button);
    td.appendChild(form);
  }

  function fill(body, chats, columns, empty, draw) {
    var rows = document.createDocumentFragment();
    chats.forEach(function (chat) {
      var row = document.createElement("tr");
      row.setAttribute("data-id", String(chat.id));
      draw(row, chat);
      rows.appendChild(row);
    });
    if (!chats.length) {
      var row = document.createElement("tr");
      row.className = "empty-row";
      var td = cell(row, empty);
      td.colSpan = columns;
      td.className = "empty";
      rows.appendChild(row);
    }
    body.replaceChildren(rows);
  }

  function start(desk) {
    var url = desk.getAttribute("data-feed-url");
    var csrf = desk.getAttribute("data-csrf");
    var title = desk.getAttribute("data-title");
    var stopped = false;

    function show(data) {
      document.title = (data.waiting_count ? "(" + data.waiting_count + ") " : "") + title;
      document.getElementById("waiting-count").textContent = String(data.waiting_count);
      fill(document.getElementById("waiting-rows"), data.waiting, 4, "順番待ちの利用者はいません。",
           function (row, chat) {
             userCell(row, chat);
             cell(row, chat.requested);
             cell(row, chat.waited);
             takeForm(row, chat, csrf);
           });
      fill(document.getElementById("active-rows"), data.active, 5, "対応中のチャットはありません。",
           function (row, chat) {
             userCell(row, chat);
             cell(row, chat.operator + (chat.mine ? "（あなた）" : ""));
             cell(row, chat.since);
             cell(row, chat.waited);
             link(row, chat.view_url);
           });
      fill(document.getElementById("ended-rows"), data.ended, 8, "終了したチャットはまだありません。",
           function (row, chat) {
             cell(row, chat.user);
             cell(row, chat.operator);
             cell(row, chat.ended);
             cell(row, chat.ended_by);
             cell(row, chat.outcome);
             cell(row, chat.satisfaction ? chat.satisfaction : "—");
             cell(row, chat.waited);
             link(row, chat.view_url);
           });
    }

    function poll() {
      if (stopped) {
        return;
      }
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}, cache: "no-store"})
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          // Signed out or no longer allowed: a reload shows the operator why.
          if (!response.ok || type.indexOf("application/json") === -1) {
            stopped = true;
            return null;
          }
          return response.json();
        }).then(function (data) {
          if (data) {
            show(data);
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

  document.addEventListener("DOMContentLoaded", function () {
    var desk = document.getElementById("chat-desk");
    if (desk && desk.getAttribute("data-feed-url")) {
      start(desk);
    }
  });
})();
