/* The console dashboard, live (server/web/dashboard_pages.py renders it whole; this only
   keeps it current). An EventSource on the huts' stream: "snapshot" replaces every card
   and the alarm list, "hut" one card, "alarm" one row. The browser reconnects by itself
   (the stream sends retry). Text goes in by textContent only; the words come from the
   page's data-labels, in the reader's language. Then the charts, drawn by ECharts from
   the page's charts.json (their figures are tables on the page already). */
(function () {
  "use strict";
  var root = document.getElementById("dashboard");
  if (!root) { return; }
  var labels = JSON.parse(root.getAttribute("data-labels") || "{}");
  var formats = {};

  function localTime(iso, zone) {
    if (!iso) { return ""; }
    var key = zone || "Asia/Shanghai";
    if (!formats[key]) {
      try {
        formats[key] = new Intl.DateTimeFormat("sv-SE", {
          timeZone: key, year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", hourCycle: "h23"
        });
      } catch (e) {
        formats[key] = new Intl.DateTimeFormat("sv-SE", {
          year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"
        });
      }
    }
    return formats[key].format(new Date(iso));
  }

  function kindName(kind) { return (labels.kinds && labels.kinds[kind]) || kind; }

  function setField(scope, name, text) {
    var node = scope.querySelector('[data-field="' + name + '"]');
    if (node && node.textContent !== text) { node.textContent = text; }
  }

  function cardOf(hutId) {
    var cards = document.querySelectorAll(".hut-card");
    for (var i = 0; i < cards.length; i++) {
      if (cards[i].getAttribute("data-hut") === hutId) { return cards[i]; }
    }
    return null;
  }

  function choose(value, map) {
    return Object.prototype.hasOwnProperty.call(map, value) ? map[value] : labels.unknown;
  }

  function showHut(state) {
    var card = cardOf(state.hut_id);
    if (!card) { return; }
    var zone = card.getAttribute("data-tz");
    var online = state.reported ? (state.online ? labels.online : labels.offline) : labels.never;
    setField(card, "online", online);
    setField(card, "online-icon", state.online ? "●" : "✕");
    setField(card, "since", state.since ? labels.since.replace("{time}", localTime(state.since, zone)) : "");
    setField(card, "door", choose(state.door, { open: labels.door_open, closed: labels.door_closed }));
    setField(card, "lock", choose(state.lock, { locked: labels.locked, unlocked: labels.unlocked }));
    var alarms = state.alarms || [];
    setField(card, "alarms", alarms.length ? "⚠ " + alarms.map(kindName).join(", ") : labels.no_alarms);
    setField(card, "outbox", state.outbox === null || state.outbox === undefined ? labels.unknown : String(state.outbox));
    setField(card, "last_event", state.last_event_at ? localTime(state.last_event_at, zone) : labels.unknown);
    card.classList.toggle("is-online", !!state.online);
    card.classList.toggle("is-offline", !state.online);
    card.classList.toggle("has-alarm", alarms.length > 0);
  }

  var rows = document.getElementById("alarm-rows");
  var template = document.getElementById("alarm-row-template");

  function rowOf(id) {
    var found = rows.querySelectorAll("tr[data-alarm]");
    for (var i = 0; i < found.length; i++) {
      if (found[i].getAttribute("data-alarm") === String(id)) { return found[i]; }
    }
    return null;
  }

  function alarmState(alarm) {
    if (alarm.acknowledged) { return labels.alarm_acknowledged; }
    return alarm.active ? labels.alarm_active : labels.alarm_cleared;
  }

  function placeRow(row, id) {
    // Newest first: by id, the order the alarms were raised in.
    var found = rows.querySelectorAll("tr[data-alarm]");
    for (var i = 0; i < found.length; i++) {
      if (Number(found[i].getAttribute("data-alarm")) < id) {
        rows.insertBefore(row, found[i]);
        return;
      }
    }
    rows.appendChild(row);
  }

  function showAlarm(alarm) {
    var row = rowOf(alarm.id);
    if (alarm.resolved) {
      if (row) { row.remove(); }
      return;
    }
    if (!row) {
      row = template.content.firstElementChild.cloneNode(true);
      row.setAttribute("data-alarm", String(alarm.id));
      placeRow(row, alarm.id);
    }
    var card = cardOf(alarm.hut_id);
    setField(row, "kind", kindName(alarm.kind));
    setField(row, "hut", card ? card.getAttribute("data-name") : alarm.hut_id);
    if (alarm.raised_at) {
      setField(row, "since", localTime(alarm.raised_at, card ? card.getAttribute("data-tz") : null));
    }
    setField(row, "state", alarmState(alarm));
  }

  function alarmsShown() {
    var count = rows.querySelectorAll("tr[data-alarm]").length;
    document.getElementById("alarm-count").textContent = String(count);
    document.getElementById("alarm-table").hidden = count === 0;
    document.getElementById("no-alarms").hidden = count !== 0;
  }

  function snapshot(data) {
    (data.huts || []).forEach(showHut);
    var open = {};
    (data.alarms || []).forEach(function (alarm) { open[String(alarm.id)] = true; });
    rows.querySelectorAll("tr[data-alarm]").forEach(function (row) {
      if (!open[row.getAttribute("data-alarm")]) { row.remove(); }
    });
    (data.alarms || []).forEach(showAlarm);
    alarmsShown();
  }

  function listen() {
    if (!window.EventSource) { return; }
    var lost = document.getElementById("live-lost");
    var source = new EventSource(root.getAttribute("data-stream"));
    function on(name, handle) {
      source.addEventListener(name, function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        handle(data);
      });
    }
    on("snapshot", snapshot);
    on("hut", showHut);
    on("alarm", function (alarm) { showAlarm(alarm); alarmsShown(); });
    source.addEventListener("open", function () { lost.hidden = true; root.classList.add("is-live"); });
    source.addEventListener("error", function () { lost.hidden = source.readyState === EventSource.OPEN; });
  }

  function drawCharts() {
    var places = root.querySelectorAll("[data-chart]");
    if (!window.echarts || !places.length) { return; }
    fetch(root.getAttribute("data-charts"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (figures) {
        if (!figures) { return; }
        places.forEach(function (place) {
          var data = figures[place.getAttribute("data-chart")];
          if (!data) { return; }
          var chart = window.echarts.init(place, null, { renderer: "canvas" });
          chart.setOption(place.getAttribute("data-kind") === "pie" ? pie(data) : bar(data));
          var box = place.parentNode.querySelector("details.figures-box");
          if (box) { box.open = false; }
          window.addEventListener("resize", function () { chart.resize(); });
        });
      })
      .catch(function () { /* the tables below the charts hold the same figures */ });
  }

  var TEXT = "#1f2328";
  var COLOURS = ["#0b5cad", "#116329", "#8a4600", "#a40e26", "#6639ba", "#1b7c83", "#57606a"];

  function bar(data) {
    return {
      animation: false,
      color: COLOURS,
      textStyle: { color: TEXT },
      grid: { left: 40, right: 16, top: 16, bottom: 48 },
      xAxis: { type: "category", name: data.axis, nameLocation: "middle", nameGap: 32, data: data.labels, axisLabel: { color: TEXT } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: TEXT } },
      series: [{ type: "bar", name: data.series, data: data.values, label: { show: true, position: "top", color: TEXT } }]
    };
  }

  function pie(data) {
    return {
      animation: false,
      color: COLOURS,
      textStyle: { color: TEXT },
      series: [{
        type: "pie", name: data.series, radius: ["35%", "65%"],
        label: { color: TEXT, formatter: "{b}: {c}" },
        data: data.labels.map(function (label, i) { return { name: label, value: data.values[i] }; })
      }]
    };
  }

  listen();
  drawCharts();
}());
