"use strict";
// deltaeval example viewer. Every example text is untrusted: it is inserted with textContent or
// as text nodes, never as HTML. The data is parsed once from the JSON script element.
(function () {
  var dataNode = document.getElementById("viewer-data");
  var list = document.getElementById("vlist");
  if (!dataNode || !list) return;
  var mark = function (name) { if (window.performance && performance.mark) performance.mark(name); };
  mark("deltaeval-viewer-start");
  var D = JSON.parse(dataNode.textContent);
  mark("deltaeval-viewer-parsed");
  var rows = D.rows;
  rows.forEach(function (r) { if (r.n === undefined) r.n = r.o; }); // an unchanged output is stored once
  var ROW = 30; // px: every row has this height, so only the rows on screen are built
  var AXIS_COLUMNS = 3; // behaviour-axis columns in the list (the changed axes come first)
  var $ = function (id) { return document.getElementById(id); };
  var space = $("vspace"), head = $("vhead"), count = $("vf-count");
  var q = $("vf-q"), typeSel = $("vf-type"), tagSel = $("vf-tag"), verdictSel = $("vf-verdict");
  var hasScores = rows.some(function (r) { return r.os !== undefined || r.ns !== undefined; });
  var hasVerdict = D.verdicts.length > 0;

  function snippet(s) { s = s || ""; return (s.length > 240 ? s.slice(0, 240) : s).replace(/\s+/g, " "); }
  function num(v) { return v === undefined || v === null ? "" : String(v); }
  var columns = [
    { key: "#", w: "56px", num: true, get: function (r) { return r.i + 1; } },
    { key: "id", w: "minmax(80px, 1fr)", get: function (r) { return r.id; } },
    { key: "type", w: "96px", get: function (r) { return r.k; } },
  ];
  if (D.changed) columns.push({ key: "changed", w: "72px", get: function (r) { return r.c === null ? "" : r.c ? "yes" : "no"; } });
  if (hasVerdict) columns.push({ key: "verdict", w: "96px", get: function (r) { return r.v || ""; } });
  columns.push({ key: "tags", w: "minmax(80px, 1fr)", get: function (r) {
    return Object.keys(r.t).map(function (k) { return k + "=" + r.t[k]; }).join(" "); } });
  D.axes.slice(0, AXIS_COLUMNS).forEach(function (axis) { // every axis has a range filter
    columns.push({ key: "Δ " + axis, w: "80px", num: true, get: function (r) { return r.a && r.a[axis] !== undefined ? r.a[axis] : null; } });
  });
  if (hasScores) columns.push({ key: "score", w: "110px", num: true,
    get: function (r) { return r.ns === undefined || r.os === undefined ? null : r.ns - r.os; },
    show: function (r) { return num(r.os) + " → " + num(r.ns); } });
  columns.push({ key: "input", w: "minmax(100px, 2fr)", get: function (r) { return r["in"]; }, show: function (r) { return snippet(r["in"]); } });
  columns.push({ key: "old", w: "minmax(100px, 2fr)", get: function (r) { return r.o; }, show: function (r) { return snippet(r.oe ? "error: " + r.oe : r.o); } });
  columns.push({ key: "new", w: "minmax(100px, 2fr)", get: function (r) { return r.n; }, show: function (r) { return snippet(r.ne ? "error: " + r.ne : r.n); } });
  var template = columns.map(function (c) { return c.w; }).join(" ");
  head.style.gridTemplateColumns = template;

  // -- filters ------------------------------------------------------------------------------
  function option(select, value, label) {
    var o = document.createElement("option");
    o.value = value; o.textContent = label; select.appendChild(o);
  }
  var kindCount = {};
  rows.forEach(function (r) { kindCount[r.k] = (kindCount[r.k] || 0) + 1; });
  D.kinds.forEach(function (k) { option(typeSel, "k:" + k, k + " (" + kindCount[k] + ")"); });
  if (D.changed) { option(typeSel, "c:1", "output changed"); option(typeSel, "c:0", "output unchanged"); }
  D.tags.forEach(function (t, i) { option(tagSel, String(i), t[0] + " = " + t[1] + " (" + t[2] + ")"); });
  if (!D.tags.length) tagSel.hidden = true;
  if (hasVerdict) { verdictSel.hidden = false; D.verdicts.forEach(function (v) { option(verdictSel, v, v); }); }
  var bounds = {};
  D.axes.forEach(function (axis) {
    var box = document.createElement("span");
    box.className = "vaxis";
    box.textContent = "Δ " + axis + " ";
    ["min", "max"].forEach(function (side) {
      var input = document.createElement("input");
      input.type = "number"; input.step = "any"; input.placeholder = side;
      input.setAttribute("aria-label", "Δ " + axis + " " + side);
      input.setAttribute("data-axis", axis); input.setAttribute("data-side", side);
      input.addEventListener("input", function () {
        var v = parseFloat(input.value);
        bounds[axis] = bounds[axis] || {};
        bounds[axis][side] = isNaN(v) ? undefined : v;
        update();
      });
      box.appendChild(input);
    });
    $("vf-axes").appendChild(box);
  });

  // the search index: each example's text in lower case, built in slices after the page opens
  var haystack = [];
  function text(r) {
    return [r.id, r["in"], r.ref || "", r.o, r.n, r.oe || "", r.ne || ""].join("\n").toLowerCase();
  }
  function index(upTo) { while (haystack.length < upTo) haystack.push(text(rows[haystack.length])); }
  function indexSlice() {
    index(Math.min(rows.length, haystack.length + 1000));
    if (haystack.length < rows.length) setTimeout(indexSlice, 0);
  }
  function matcher() {
    var query = q.value.trim().toLowerCase();
    if (query) index(rows.length);
    var type = typeSel.value, tag = tagSel.value === "" ? null : D.tags[+tagSel.value], verdict = verdictSel.value;
    var axes = Object.keys(bounds).filter(function (a) { return bounds[a].min !== undefined || bounds[a].max !== undefined; });
    return function (j) {
      var r = rows[j];
      if (type) {
        if (type.charAt(0) === "k" && r.k !== type.slice(2)) return false;
        if (type === "c:1" && r.c !== true) return false;
        if (type === "c:0" && r.c !== false) return false;
      }
      if (tag && r.t[tag[0]] !== tag[1]) return false;
      if (verdict && r.v !== verdict) return false;
      for (var a = 0; a < axes.length; a++) {
        var b = bounds[axes[a]], v = r.a ? r.a[axes[a]] : undefined;
        if (v === undefined || v === null) return false;
        if (b.min !== undefined && v < b.min) return false;
        if (b.max !== undefined && v > b.max) return false;
      }
      return !query || haystack[j].indexOf(query) !== -1;
    };
  }

  // -- sorting ------------------------------------------------------------------------------
  var order = rows.map(function (_, j) { return j; });
  var sortColumn = -1, ascending = true;
  function sortBy(c) {
    ascending = sortColumn === c ? !ascending : true;
    sortColumn = c;
    var col = columns[c], keys = rows.map(col.get);
    order = rows.map(function (_, j) { return j; });
    order.sort(function (x, y) {
      var a = keys[x], b = keys[y], d;
      var aNone = a === null || a === undefined || a === "", bNone = b === null || b === undefined || b === "";
      if (aNone || bNone) return aNone === bNone ? x - y : aNone ? 1 : -1; // blanks last
      if (col.num) d = a - b; else { a = String(a).toLowerCase(); b = String(b).toLowerCase(); d = a < b ? -1 : a > b ? 1 : 0; }
      return (ascending ? d : -d) || x - y;
    });
    Array.prototype.forEach.call(head.children, function (cell, i) {
      if (i === c) cell.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      else cell.removeAttribute("aria-sort");
    });
    update();
  }
  columns.forEach(function (col, c) {
    var cell = document.createElement("div");
    cell.className = "vcell" + (col.num ? " n" : "");
    cell.textContent = col.key;
    cell.setAttribute("title", col.key + " (click to sort)");
    cell.setAttribute("role", "columnheader");
    cell.addEventListener("click", function () { sortBy(c); });
    head.appendChild(cell);
  });

  // -- the windowed list -------------------------------------------------------------------
  var shown = order.slice(), selected = -1, pool = [];
  function update() {
    var keep = selected >= 0 ? shown[selected] : -1;
    var match = matcher();
    shown = order.filter(match);
    selected = keep >= 0 ? shown.indexOf(keep) : -1;
    count.textContent = shown.length + " of " + rows.length + " shown";
    space.style.height = shown.length * ROW + "px";
    paint();
  }
  function rowElement(slot) {
    var el = pool[slot];
    if (!el) {
      el = document.createElement("div");
      el.className = "vrow";
      el.setAttribute("role", "row");
      el.style.gridTemplateColumns = template;
      columns.forEach(function (col) {
        var cell = document.createElement("div");
        cell.className = "vcell" + (col.num ? " n" : "");
        el.appendChild(cell);
      });
      el.addEventListener("click", function () { select(+el.getAttribute("data-pos")); open(); });
      space.appendChild(el);
      pool[slot] = el;
    }
    return el;
  }
  function paint() {
    var first = Math.max(0, Math.floor(list.scrollTop / ROW) - 5);
    var last = Math.min(shown.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW) + 5);
    var slot = 0;
    for (var p = first; p < last; p++, slot++) {
      var r = rows[shown[p]], el = rowElement(slot);
      el.hidden = false;
      el.style.top = p * ROW + "px";
      el.setAttribute("data-pos", String(p));
      el.setAttribute("data-id", r.id);
      el.className = "vrow k-" + r.k.replace(" ", "-") + (p === selected ? " sel" : "");
      el.setAttribute("aria-selected", p === selected ? "true" : "false");
      for (var c = 0; c < columns.length; c++) {
        var col = columns[c], v = col.show ? col.show(r) : col.get(r);
        el.children[c].textContent = v === null || v === undefined ? "" : String(v);
      }
    }
    for (; slot < pool.length; slot++) pool[slot].hidden = true;
  }
  list.addEventListener("scroll", function () { window.requestAnimationFrame(paint); });
  window.addEventListener("resize", paint);

  function select(p) {
    if (!shown.length) return;
    selected = Math.max(0, Math.min(shown.length - 1, p));
    var top = selected * ROW;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (top + ROW > list.scrollTop + list.clientHeight) list.scrollTop = top + ROW - list.clientHeight;
    paint();
  }

  // -- the side-by-side view with word differences --------------------------------------------
  function tokens(s) { return (s || "").match(/\s+|[^\s]+/g) || []; }
  function diff(a, b) {
    // marks[0][i] / marks[1][j]: token i of a / j of b is not in the longest common subsequence
    var ma = new Uint8Array(a.length), mb = new Uint8Array(b.length);
    var s = 0, ea = a.length, eb = b.length;
    while (s < ea && s < eb && a[s] === b[s]) s++;
    while (ea > s && eb > s && a[ea - 1] === b[eb - 1]) { ea--; eb--; }
    var n = ea - s, m = eb - s, i, j;
    if (n * m > 4000000) { for (i = s; i < ea; i++) ma[i] = 1; for (j = s; j < eb; j++) mb[j] = 1; return [ma, mb]; }
    var w = m + 1, L = new Int32Array((n + 1) * w);
    for (i = n - 1; i >= 0; i--) for (j = m - 1; j >= 0; j--)
      L[i * w + j] = a[s + i] === b[s + j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    i = 0; j = 0;
    while (i < n && j < m) {
      if (a[s + i] === b[s + j]) { i++; j++; }
      else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) ma[s + i++] = 1;
      else mb[s + j++] = 1;
    }
    for (; i < n; i++) ma[s + i] = 1;
    for (; j < m; j++) mb[s + j] = 1;
    return [ma, mb];
  }
  function fill(node, toks, marks, cls) {
    node.textContent = "";
    var k = 0;
    while (k < toks.length) {
      var mark = marks[k], start = k;
      while (k < toks.length && marks[k] === mark) k++;
      var piece = toks.slice(start, k).join("");
      if (mark) { var span = document.createElement("span"); span.className = cls; span.textContent = piece; node.appendChild(span); }
      else node.appendChild(document.createTextNode(piece));
    }
  }
  var detail = $("vdetail"), openId = null;
  $("vd-old-name").textContent = D.old;
  $("vd-new-name").textContent = D.new;
  var byId = null;
  function show(r) {
    openId = r.id;
    $("vd-id").textContent = r.id;
    $("vd-kind").textContent = [r.k, r.c === true ? "output changed" : r.c === false ? "output unchanged" : "", r.v ? "judge: " + r.v : ""].filter(Boolean).join(" · ");
    var link = $("vd-link");
    link.setAttribute("href", "#ex-" + encodeURIComponent(r.id));
    var tags = $("vd-tags");
    tags.textContent = "";
    Object.keys(r.t).forEach(function (k) {
      var chip = document.createElement("span"); chip.className = "chip"; chip.textContent = k + " = " + r.t[k]; tags.appendChild(chip);
    });
    $("vd-input").textContent = r["in"];
    $("vd-ref-field").hidden = r.ref === undefined;
    $("vd-ref").textContent = r.ref || "";
    $("vd-old-score").textContent = r.os === undefined ? "" : "score " + r.os;
    $("vd-new-score").textContent = r.ns === undefined ? "" : "score " + r.ns;
    $("vd-old-error").hidden = !r.oe; $("vd-old-error").textContent = r.oe ? "error: " + r.oe : "";
    $("vd-new-error").hidden = !r.ne; $("vd-new-error").textContent = r.ne ? "error: " + r.ne : "";
    var a = tokens(r.o), b = tokens(r.n), marks = diff(a, b);
    fill($("vd-old"), a, marks[0], "del");
    fill($("vd-new"), b, marks[1], "ins");
    detail.hidden = false;
  }
  function open() {
    if (selected < 0) return;
    var r = rows[shown[selected]];
    show(r);
    setHash("#ex-" + encodeURIComponent(r.id));
    detail.scrollIntoView({ block: "nearest" });
  }
  function setHash(url) {
    try { history.replaceState(null, "", url); } catch (e) { /* a sandboxed frame (a notebook) has no history */ }
  }
  function close() {
    detail.hidden = true; openId = null;
    if (location.hash.indexOf("#ex-") === 0) setHash(location.pathname + location.search);
    list.focus({ preventScroll: true });
  }
  $("vd-close").addEventListener("click", close);
  function fromHash() {
    if (location.hash.indexOf("#ex-") !== 0) return;
    var id;
    try { id = decodeURIComponent(location.hash.slice(4)); } catch (e) { return; }
    if (!byId) { byId = {}; rows.forEach(function (r, j) { if (!(r.id in byId)) byId[r.id] = j; }); }
    var j = byId[id];
    if (j === undefined) return;
    var p = shown.indexOf(j);
    if (p >= 0) select(p);
    show(rows[j]);
    detail.scrollIntoView({ block: "start" });
  }
  window.addEventListener("hashchange", fromHash);

  // -- keys ---------------------------------------------------------------------------------
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target, typing = t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA");
    if (e.key === "Escape") {
      if (typing) { t.blur(); list.focus({ preventScroll: true }); }
      else if (!detail.hidden) close();
      return;
    }
    if (typing || (e.key === "Enter" && t && (t.tagName === "A" || t.tagName === "BUTTON"))) return;
    if (e.key === "j" || e.key === "ArrowDown") { select(selected + 1); if (openId !== null) open(); e.preventDefault(); }
    else if (e.key === "k" || e.key === "ArrowUp") { select(selected - 1); if (openId !== null) open(); e.preventDefault(); }
    else if (e.key === "Enter") { if (selected < 0) select(0); open(); e.preventDefault(); }
    else if (e.key === "/") { q.focus(); e.preventDefault(); }
  });
  [q].forEach(function (el) { el.addEventListener("input", update); });
  [typeSel, tagSel, verdictSel].forEach(function (el) { el.addEventListener("change", update); });
  update();
  fromHash();
  mark("deltaeval-viewer-ready");
  setTimeout(indexSlice, 0);
})();
