// ferret's HTML report: filtering, sorting, paging and row details over the findings embedded
// as JSON. Every value from a report goes into the page as text (textContent, option labels),
// never as markup; links are made only from http(s) addresses.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("data").textContent);
  var PAGE = data.pageRows || 100;
  var all = data.findings;
  var multiTool = data.tools.length > 1;
  var STATUS_RANK = { live: 0, restricted: 1, quota_exceeded: 2, error: 3, unverified: 4, invalid: 5 };
  var state = { text: "", status: "", provider: "", repo: "", tool: "", sort: "", dir: 1, page: 0, open: {} };
  var shown = all;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function link(url, text) {
    if (typeof url === "string" && /^https?:\/\//i.test(url)) {
      var a = el("a", "", text);
      a.href = url;
      a.rel = "noopener noreferrer";
      return a;
    }
    return document.createTextNode(text);
  }
  // The data leaves out GitHub blob addresses it can rebuild (a 1 in their place).
  function url(l) {
    return l[7] === 1 ? "https://github.com/" + l[0] + "/blob/" + l[4] + "/" + l[1] + "#L" + l[2] : l[7];
  }
  function first(f) { return f.l[0] || [null, "", 0, 0, null, null, null, null, null, []]; }
  function where(l) {
    return (l[0] ? l[0] + ": " : "") + l[1] + (l[2] ? ":" + l[2] : "");
  }
  // `2024-03-11T09:00:00+00:00` reads as `2024-03-11 09:00` (the whole date in its title).
  function day(text) {
    return /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(text || "") ? text.slice(0, 16).replace("T", " ") : text || "";
  }
  function short(text) { return text ? String(text).slice(0, 12) : ""; }

  all.forEach(function (f, i) {
    f.i = i;
    var hay = [f.r, f.n, f.p, f.s, f.f || "", f.k || "", f.st, f.rv || "", f.t.join(" ")];
    var repos = {};
    f.l.forEach(function (l) {
      hay.push(l[0] || "", l[1], l[4] || "", l[5] || "", l[6] || "", l[8] || "");
      if (l[0]) repos[l[0]] = true;
    });
    f.h = hay.join("\n").toLowerCase();
    f.repos = repos;
  });

  var SORTS = {
    rule: function (f) { return f.r; },
    secret: function (f) { return f.s; },
    status: function (f) { return STATUS_RANK[f.st] * 10 + (f.rv ? 1 : 0); },
    where: function (f) { var l = first(f); return where(l).toLowerCase(); },
    commit: function (f) { return first(f)[4] || ""; },
    author: function (f) { return (first(f)[5] || "").toLowerCase(); },
    date: function (f) { return (f.d || "") + (first(f)[6] || ""); },
    fingerprint: function (f) { return f.f || f.k || ""; },
    tools: function (f) { return f.t.join(","); }
  };

  function matches(f) {
    if (state.status && f.st !== state.status && f.rv !== state.status) return false;
    if (state.provider && f.p !== state.provider) return false;
    if (state.repo && !f.repos[state.repo]) return false;
    if (state.tool && f.t.indexOf(state.tool) < 0) return false;
    return !state.text || f.h.indexOf(state.text) >= 0;
  }

  function apply() {
    var started = performance.now();
    shown = all.filter(matches);
    if (state.sort) {
      var key = SORTS[state.sort], dir = state.dir;
      var keyed = shown.map(function (f) { return [key(f), f.i, f]; });
      keyed.sort(function (a, b) {
        // Missing values go last whichever way the column is sorted.
        var ea = a[0] === "", eb = b[0] === "";
        if (ea !== eb) return ea ? 1 : -1;
        if (a[0] < b[0]) return -dir;
        if (a[0] > b[0]) return dir;
        return a[1] - b[1];
      });
      shown = keyed.map(function (k) { return k[2]; });
    }
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    render();
    var table = $("findings");
    table.setAttribute("data-matching", String(shown.length));
    table.setAttribute("data-render-ms", String(Math.round(performance.now() - started)));
  }

  function cell(tr, cls, content) {
    var td = el("td", cls);
    if (content instanceof Node) td.appendChild(content); else td.textContent = content || "";
    tr.appendChild(td);
    return td;
  }

  function statusNode(f) {
    var span = el("span");
    span.appendChild(el("span", "badge st-" + f.st, f.st));
    if (f.rv) {
      span.appendChild(document.createTextNode(" "));
      span.appendChild(el("span", "badge st-" + f.rv, f.rv));
    }
    return span;
  }

  function row(f) {
    var tr = el("tr");
    tr.setAttribute("data-index", String(f.i));
    var l = first(f);
    var open = !!state.open[f.i];
    var toggleCell = el("td");
    var toggle = el("button", "toggle", open ? "\u25BE" : "\u25B8");
    toggle.setAttribute("aria-expanded", String(open));
    toggle.setAttribute("aria-label", "details");
    toggle.addEventListener("click", function () {
      if (state.open[f.i]) delete state.open[f.i]; else state.open[f.i] = true;
      render();
    });
    toggleCell.appendChild(toggle);
    tr.appendChild(toggleCell);
    var rule = cell(tr, "rule", f.r);
    rule.title = f.n;
    cell(tr, "mono secret", f.s);
    cell(tr, "status", statusNode(f));
    var place = cell(tr, "where", link(url(l), where(l)));
    if (f.l.length > 1) place.appendChild(el("span", "more", " +" + (f.l.length - 1) + " more"));
    cell(tr, "mono commit", short(l[4])).title = l[4] || "";
    cell(tr, "author", l[5]);
    cell(tr, "date", day(l[6])).title = l[6] || "";
    cell(tr, "mono fingerprint", short(f.f || f.k)).title = f.f || f.k || "";
    if (multiTool) cell(tr, "tools", f.t.join(", "));
    return tr;
  }

  function dl(pairs) {
    var list = el("dl");
    pairs.forEach(function (p) {
      if (p[1] === undefined || p[1] === null || p[1] === "" ||
          (Array.isArray(p[1]) && !p[1].length)) return;
      list.appendChild(el("dt", "", p[0]));
      var dd = el("dd");
      if (p[1] instanceof Node) dd.appendChild(p[1]); else dd.appendChild(value(p[1], 0));
      list.appendChild(dd);
    });
    return list;
  }

  // Any JSON value (an exposure block, a replacement) as nested lists of text.
  function value(v, depth) {
    if (v === null || typeof v !== "object") return document.createTextNode(String(v));
    if (depth > 4) return document.createTextNode(JSON.stringify(v));
    if (Array.isArray(v)) {
      if (v.every(function (x) { return x === null || typeof x !== "object"; })) {
        return document.createTextNode(v.join(", "));
      }
      var ol = el("ol");
      v.forEach(function (x) { var li = el("li"); li.appendChild(value(x, depth + 1)); ol.appendChild(li); });
      return ol;
    }
    return dl(Object.keys(v).map(function (k) { return [k.replace(/_/g, " "), v[k]]; }));
  }

  function section(title, content) {
    var s = el("section");
    s.appendChild(el("h3", "", title));
    s.appendChild(content);
    return s;
  }

  function placesTable(f) {
    var table = el("table");
    var head = el("tr");
    ["where", "commit", "author", "date", "how"].concat(multiTool ? ["found by"] : [])
      .forEach(function (h) { head.appendChild(el("th", "", h)); });
    table.appendChild(head);
    f.l.forEach(function (l) {
      var tr = el("tr");
      cell(tr, "where", link(url(l), where(l) + (l[3] ? ":" + l[3] : "")));
      cell(tr, "mono", short(l[4])).title = l[4] || "";
      cell(tr, "", l[5]);
      cell(tr, "", day(l[6])).title = l[6] || "";
      cell(tr, "", l[8]);
      if (multiTool) cell(tr, "tools", (l[9] || []).join(", "));
      table.appendChild(tr);
    });
    return table;
  }

  function stepClass(f) {
    if (f.rv === "revoked" || f.rv === "already_revoked") return "revoked";
    if (f.st === "live" || f.st === "restricted" || f.st === "quota_exceeded") return "live";
    return f.st === "invalid" ? "invalid" : "unverified";
  }

  function stepsList(f) {
    var ol = el("ol");
    (data.steps[stepClass(f)] || []).forEach(function (s) { ol.appendChild(el("li", "", s)); });
    var consoleUrl = data.consoles[f.p];
    if (consoleUrl && stepClass(f) !== "invalid") {
      var li = el("li", "", f.p + " console: ");
      li.appendChild(link(consoleUrl, consoleUrl));
      ol.appendChild(li);
    }
    return ol;
  }

  function details(f) {
    var grid = el("div", "detail-grid");
    grid.appendChild(section("Locations (" + f.l.length + ")", placesTable(f)));
    var v = f.v || { status: f.st };
    var checks = (f.c || []).map(function (c) { return [c[0], c[1].status + (c[1].detail ? ": " + c[1].detail : "")]; });
    grid.appendChild(section("Verification", dl([
      ["status", v.status], ["organization", v.organization], ["project", v.project],
      ["request id", v.request_id], ["detail", v.detail]].concat(checks))));
    if (f.x) grid.appendChild(section("Revocation", value(f.x, 0)));
    grid.appendChild(section("What to do", stepsList(f)));
    if (f.e) grid.appendChild(section("Exposure", value(f.e, 0)));
    grid.appendChild(section("Secret", dl([
      ["rule", f.r + " (" + f.n + ")"],
      ["other rules", (f.ro || []).map(function (r) { return r[0]; }).join(", ")],
      ["provider", f.p], ["severity", f.sv], ["fingerprint", f.f || f.k],
      ["found by", f.t.join(", ")], ["first committed", f.d]])));
    return grid;
  }

  function render() {
    var tbody = $("rows");
    var columns = $("findings").tHead.rows[0].cells.length;
    var start = state.page * PAGE;
    var fragment = document.createDocumentFragment();
    shown.slice(start, start + PAGE).forEach(function (f) {
      fragment.appendChild(row(f));
      if (state.open[f.i]) {
        var tr = el("tr", "detail");
        var td = el("td");
        td.colSpan = columns;
        td.appendChild(details(f));
        tr.appendChild(td);
        fragment.appendChild(tr);
      }
    });
    tbody.replaceChildren(fragment);
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    $("shown").textContent = shown.length
      ? "Showing " + (start + 1) + "\u2013" + Math.min(start + PAGE, shown.length) + " of " +
        shown.length + (shown.length === all.length ? "" : " matching (" + all.length + " in all)")
      : "No finding matches.";
    $("pageinfo").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    $("pager").hidden = pages < 2;
  }

  function fillSelect(id, values) {
    var select = $(id);
    values.forEach(function (v) { select.appendChild(new Option(v, v)); });
    if (values.length < 2 && id !== "f-status") select.hidden = true;
  }

  function distinct(pick) {
    var seen = {};
    all.forEach(function (f) { pick(f).forEach(function (v) { if (v) seen[v] = true; }); });
    return Object.keys(seen).sort();
  }

  function setup() {
    fillSelect("f-status", distinct(function (f) { return [f.st, f.rv]; }));
    fillSelect("f-provider", distinct(function (f) { return [f.p]; }));
    fillSelect("f-repo", distinct(function (f) { return Object.keys(f.repos); }));
    fillSelect("f-tool", distinct(function (f) { return f.t; }));
    if (multiTool) $("findings").tHead.rows[0].appendChild(sortHeader("tools", "Found by"));
    var timer = 0;
    $("q").addEventListener("input", function (e) {
      clearTimeout(timer);
      var text = e.target.value.trim().toLowerCase();
      timer = setTimeout(function () { state.text = text; state.page = 0; apply(); }, 120);
    });
    [["f-status", "status"], ["f-provider", "provider"], ["f-repo", "repo"], ["f-tool", "tool"]]
      .forEach(function (pair) {
        $(pair[0]).addEventListener("change", function (e) {
          state[pair[1]] = e.target.value; state.page = 0; apply();
        });
      });
    Array.prototype.forEach.call($("findings").tHead.querySelectorAll("th[data-sort] button"), function (b) {
      b.addEventListener("click", function () { sortBy(b.parentNode); });
    });
    $("prev").addEventListener("click", function () { state.page--; render(); });
    $("next").addEventListener("click", function () { state.page++; render(); });
    $("controls").hidden = false;
    $("findings").hidden = false;
    apply();
    document.documentElement.setAttribute("data-ready", "1");
    // Milliseconds from navigation to a usable table: parse, data, first page of rows.
    document.documentElement.setAttribute("data-ready-ms", String(Math.round(performance.now())));
  }

  function sortHeader(key, label) {
    var th = el("th");
    th.setAttribute("data-sort", key);
    var b = el("button", "", label);
    b.type = "button";
    th.appendChild(b);
    return th;
  }

  function sortBy(th) {
    var key = th.getAttribute("data-sort");
    state.dir = state.sort === key ? -state.dir : 1;
    state.sort = key;
    Array.prototype.forEach.call(th.parentNode.cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
    apply();
  }

  setup();
})();
