"use strict";
// The explorer. Every name from the data is written with textContent (never as markup).
(function () {
  const DATA = JSON.parse(document.getElementById("sksplice-data").textContent);
  const concepts = DATA.concepts;
  const conceptIndex = new Map(concepts.map((name, i) => [name, i]));
  const images = DATA.images;
  // what one result is called: an image, or a row of embeddings computed already
  const UNIT = DATA.unit, UNITS = DATA.units;
  const counted = (n) => n + " " + (n === 1 ? UNIT : UNITS);
  // the ranking table's rows, told apart from rows of embeddings on a page of them
  const TROW = UNIT === "row" ? "table row" : "row";
  const PAGE_ROWS = 500;
  const PAGE_IMAGES = 120;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (key === "class") node.className = value;
        else if (key === "style") node.style.cssText = value;
        else node.setAttribute(key, value);
      }
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  // a percentage to 0.1, with the decimals it needs (up to 4) where a share that is
  // neither none nor all (or a difference that is neither 0 nor 100 points) would read
  // as one: 1 of 30,000 images is "0.003%", not "0.0%"
  const percent = (v) => {
    const away = (t) =>
      (v !== 0 && Number(t) === 0) || (Math.abs(v) < 1 && Math.abs(Number(t)) >= 100);
    let digits = 1;
    let text = fixed(100 * v, digits);
    while (away(text) && digits < 4) {
      digits += 1;
      text = fixed(100 * v, digits);
    }
    return text;
  };
  // x.toFixed(d), but a value exactly halfway rounded to an even last digit, as Python's
  // format (the command line's tables) rounds it: toFixed rounds 6.25 (1 of 16) to "6.3",
  // the command line to "6.2". toFixed(100) writes the double's exact decimals.
  function fixed(x, d) {
    const text = x.toFixed(d);
    if (!(Math.abs(x) < 1e21)) return text;
    const exact = x.toFixed(100);
    const cut = exact.indexOf(".") + 1 + d;
    if (!/^50*$/.test(exact.slice(cut))) return text;
    const down = exact.slice(0, cut);  // (halfway: toFixed went up, away from zero)
    return Number(down.charAt(down.length - 1)) % 2 === 0 ? down : text;
  }
  // a share of a ranking's row: from its counts where the page has them (the command
  // line's tables round count / size; the share in the data is rounded already, and
  // rounding it again read 46.0% beside 34/74, 45.946%, where the table reads 45.9%)
  const shareOf = (share, count, size) =>
    count !== null && size !== null && size > 0 ? count / size : share;
  const pct = (v) => (v === null ? "" : percent(v) + "%");
  // an end of an exact interval as a percentage rounded away from the inside (the low
  // end down, the high end up), so that the interval shown holds the exact one (rounded
  // to the nearest, 1 of 40 read "0.1% to 13.2%" for 0.06% to 13.16%): to a tenth, with
  // more digits where a tenth would write an end that is neither 0 nor 1 as 0% or 100%
  // (1 of 1,000's 0.0025%: "0.002%"), as the class cards' tooltips write them
  const bound = (v, up) => {
    for (let digits = 1; digits <= 4; digits++) {
      const scaled = 100 * v * 10 ** digits + (up ? -1e-9 : 1e-9);
      const p = (up ? Math.ceil(scaled) : Math.floor(scaled)) / 10 ** digits;
      if (!((v > 0 && p === 0) || (v < 1 && p >= 100))) return String(p) + "%";
    }
    return up ? ">99.9999%" : "<0.0001%";
  };
  const pts = (v) => (v === null ? "" : (v > 0 ? "+" : "") + percent(v) + " pp");
  // a p-value to 2 significant digits, and more where a significant row's (below the
  // level) would read as the level: 0.0496 as "0.0496", not "0.050" (a p-value below
  // about 5e-324 underflowed to 0 in float64: shown as a bound)
  const pfmt = (v, below) => {
    if (v === null) return "";
    if (v === 0) return "<1e-300";
    const show = (d) => (v < 0.001 ? v.toExponential(d - 1) : v.toPrecision(d));
    let digits = 2;
    let text = show(digits);
    while (below !== undefined && v < below && Number(text) >= below && digits < 17) {
      digits += 1;
      text = show(digits);
    }
    return text;
  };
  // a weight: 3 decimals, or 2 significant digits below 0.001 (never a non-zero "0.000")
  const wfmt = (v) => (v !== 0 && Math.abs(v) < 0.001 ? v.toExponential(1) : v.toFixed(3));
  // (a backslash separates folders only on Windows: elsewhere it is part of a name, as in
  // the \xNN the outputs write for bytes that are not UTF-8)
  const separators = DATA.windowsPaths ? /[\\/]/ : /\//;
  const baseName = (p) => p.split(separators).pop();
  // The file name with its folder (the class folder, for labelled folders), and more of
  // its folders where another image's would read the same: "A/sub/nested.jpg" beside
  // "B/sub/nested.jpg", which were both "sub/nested.jpg".
  const shortNames = new Map();
  {
    const parts = images.map((img) => img.p.split(separators).filter((s) => s !== ""));
    const depth = parts.map((p) => Math.min(2, p.length));
    for (let grown = true; grown; ) {
      grown = false;
      const alike = new Map();
      parts.forEach((p, i) => {
        const key = p.slice(-depth[i]).join("/");
        if (!alike.has(key)) alike.set(key, []);
        alike.get(key).push(i);
      });
      for (const group of alike.values()) {
        if (group.length < 2) continue;
        for (const i of group) {
          if (depth[i] < parts[i].length) { depth[i] += 1; grown = true; }
        }
      }
    }
    images.forEach((img, i) => shortNames.set(img.p, parts[i].slice(-depth[i]).join("/")));
  }
  const shortName = (p) => shortNames.get(p) ??
    p.split(separators).filter((s) => s !== "").slice(-2).join("/");
  const className = (c) => (c < 0 ? "" : DATA.classes[c]);

  // Where names shown together differ: for each name, the range of characters (code
  // points, [from, to)) that tells it from the others, found from the longest beginning
  // and the longest ending it shares with any other name (its neighbours in sorted
  // order), widened to whole words. Names that share nothing get none (their last word
  // is kept). "car (training split, 2024 collection)" beside "cat (...)" keeps "car";
  // "class_0_with_..." beside "class_1_with_..." keeps "0".
  const SEPARATOR = /[\s_\-/.,:;()[\]{}\u2013\u2014|]/u;
  function apart(names) {
    const list = Array.from(new Set(Array.from(names, String)));
    const chars = new Map(list.map((n) => [n, Array.from(n)]));
    const backwards = new Map(list.map((n) => [n, chars.get(n).slice().reverse()]));
    const common = (a, b) => {
      let i = 0;
      while (i < a.length && i < b.length && a[i] === b[i]) i += 1;
      return i;
    };
    const shared = (key) => {
      const most = new Map(list.map((n) => [n, 0]));
      const sorted = list.slice().sort((a, b) => {
        const x = key(a).join(""), y = key(b).join("");
        return x < y ? -1 : x > y ? 1 : 0;
      });
      for (let i = 0; i + 1 < sorted.length; i += 1) {
        const c = common(key(sorted[i]), key(sorted[i + 1]));
        for (const n of [sorted[i], sorted[i + 1]]) if (c > most.get(n)) most.set(n, c);
      }
      return most;
    };
    const begin = shared((n) => chars.get(n)), end = shared((n) => backwards.get(n));
    const ranges = new Map();
    const WORDLIKE = /[\p{L}\p{N}]/u;  // (a shared "/" or " (" alone is no shared part)
    for (const name of list) {
      const c = chars.get(name), n = c.length;
      let pre = begin.get(name), suf = end.get(name);
      if (!c.slice(0, pre).some((x) => WORDLIKE.test(x))) pre = 0;
      if (!c.slice(n - suf).some((x) => WORDLIKE.test(x))) suf = 0;
      if (pre === 0 && suf === 0) continue;  // (nothing shared)
      // (where the shared beginning and ending overlap, "car (...)" beside "cart (...)"
      // and "cat (...)", the name differs where they meet)
      let from = Math.min(pre, n - suf), to = Math.max(pre, n - suf);
      while (from > 0 && !SEPARATOR.test(c[from - 1])) from -= 1;
      while (to < n && !SEPARATOR.test(c[to])) to += 1;
      if (to === from) to = Math.min(n, from + 1);
      if (to - from > 24) {  // (a long part that differs: the word where it starts to)
        to = pre + 1;
        while (to < n && !SEPARATOR.test(c[to])) to += 1;
        to = Math.min(to, from + 24);
      }
      if (from === 0 && to === n) continue;
      ranges.set(name, [from, to]);
    }
    return ranges;
  }

  // A name that may be cut where it is shown, in three parts: its beginning, cut with an
  // ellipsis where there is no room; the part that tells it from the others (``keep``,
  // from apart(); by default its last word, or last 12 characters), always shown; and
  // the rest, cut first. Names alike but for their end ("... of temples", "... of
  // flowers") or for their beginning ("car (training split, 2024 collection)", "cat
  // (...)") read apart. The name's text is the parts' text, whole.
  function cutName(text, keep) {
    const chars = Array.from(String(text));  // (by code point: an emoji is not split)
    if (chars.length <= 18) return el("span", null, text);  // (short: cut at its end)
    let from, to;
    if (keep && keep[1] <= chars.length) {
      [from, to] = keep;
      if (from > 0 && chars[from - 1] === " ") from -= 1;  // ("… temples", spaced)
    } else {
      const space = chars.lastIndexOf(" ", chars.length - 2);
      from = space > 0 && chars.length - space <= 17 ? space : chars.length - 12;
      to = chars.length;
    }
    // (inline boxes, not flex items: the text copied, or read as innerText, is the name
    // without a line break between the parts; the widths are estimated in characters,
    // then measured: fitCuts)
    const rest = chars.slice(to).join("");
    const span = el("span", { class: "cutname", style: "--head:" + from + "ch;--keep:" +
                              (to - from + 1) + "ch;--rmin:" + (rest ? "1.2em" : "0px") });
    span.append(el("span", { class: "head" }, chars.slice(0, from).join("")),
                el("span", { class: "keep" }, chars.slice(from, to).join("")));
    if (rest) span.append(el("span", { class: "rest" }, rest));
    return span;
  }
  // The parts' widths as drawn, in place of the estimate in characters (short for wide
  // letters, "MMMWWW"): all read first, then all written (one layout).
  function fitCuts(root) {
    const spans = Array.from(root.querySelectorAll(".cutname"));
    const widths = spans.map((s) => [s.firstElementChild.scrollWidth,
                                     s.children[1].getBoundingClientRect().width]);
    spans.forEach((s, i) => {
      if (widths[i][1] > 0) {
        s.style.setProperty("--head", widths[i][0] + "px");
        s.style.setProperty("--keep", Math.ceil(widths[i][1]) + 1 + "px");
      }
    });
  }
  // what tells each name apart from the others of its kind on the page
  const conceptKeep = apart(concepts.concat(
    Array.from(document.querySelectorAll(".bar-row > a.concept"), (a) => a.textContent)));
  const classKeep = apart(DATA.classes.concat(DATA.rankClasses || [],
                                              (DATA.groups || []).filter((g) => g !== "all")));
  const folderOf = (p) => {
    const parts = shortName(p).split("/");
    return parts.length > 1 ? parts.slice(0, -1).join("/") + "/" : null;
  };
  const folderKeep = apart(images.map((img) => folderOf(img.p)).filter((f) => f !== null));

  // a concept's link; ``cut``: in a column of its own width (a bar's label, the ranking
  // table's column of concepts), where a long name is cut in its middle
  function conceptLink(name, cut) {
    if (!cut) return el("a", { class: "concept", href: "#", "data-concept": name, title: name },
                        name);
    const a = el("a", { class: "concept", href: "#", "data-concept": name, title: name });
    a.append(cutName(name, conceptKeep.get(name)));
    return a;
  }
  function weightRow(name, weight, label) {
    const row = el("div", { class: "bar-row" });
    row.append(conceptLink(name, true));
    const track = el("span", { class: "track" });
    const width = Math.max(0, Math.min(100, (100 * weight) / DATA.scale));
    track.append(el("span", { class: "fill", style: "width:" + width.toFixed(1) + "%" }));
    row.append(track, el("span", { class: "val" }, label === undefined ? wfmt(weight) : label));
    return row;
  }
  function thumb(i, extra) {
    const img = images[i];
    // one accessible name: the folder and file name (and the weight), not the file name
    // of the picture's alt text followed by the caption that repeats it
    const button = el("button", { class: "thumb", type: "button", "data-image": String(i),
                                  title: img.p, "aria-label": shortName(img.p) +
                                  (extra !== undefined ? ", weight " + extra : "") });
    // (not loaded lazily: the thumbnails are in the page already, 120 shown at a time,
    // and a printed or captured page shows them all)
    if (img.t) button.append(el("img", { src: img.t, alt: "" }));
    // (a row of embeddings whose name is no image to read is shown by its name alone: a
    // grey "no preview" box for each of 200 rows said nothing; an image that could not
    // be read keeps its box, which says so)
    else if (UNIT === "row") button.classList.add("bare");
    else button.append(el("span", { class: "noimg" }, "no preview"));
    // the folder and the file name on a line each, each cut on its own: a long folder
    // name no longer hides the file names (they differ where the folders do not)
    const parts = shortName(img.p).split("/");
    const cap = el("span", { class: "cap" });
    const folder = folderOf(img.p);
    if (folder !== null) {
      const dir = el("span", { class: "dir" });
      // (class folders alike but for their end, or their beginning)
      dir.append(cutName(folder, folderKeep.get(folder)));
      cap.append(dir);
    }
    cap.append(el("span", { class: "file" }, parts[parts.length - 1]));
    button.append(cap);
    if (extra !== undefined) button.append(el("span", { class: "w" }, extra));
    return button;
  }

  // ------------------------------------------------------------------ ranking table
  const table = document.getElementById("ranking-table");
  if (table) {
    // (the page is written with the level; filled here only if it is not)
    const alpha = document.getElementById("alpha");
    if (!alpha.textContent) alpha.textContent = String(DATA.alpha);
    const tbody = table.querySelector("tbody");
    const search = document.getElementById("ranking-search");
    const sigOnly = document.getElementById("ranking-significant");
    const count = document.getElementById("ranking-count");
    const more = document.getElementById("ranking-more");
    const state = { col: null, dir: 1, limit: PAGE_ROWS };
    // a comparison has one group (A vs B): its table has no column repeating it
    const oneGroup = table.classList.contains("one-group");
    // every p-value of one test, named above the table: no column repeating it
    const oneTest = table.classList.contains("one-test");
    // rows arrive as indices (class, concept, test); decode them once
    const TESTS = ["z", "fisher"];
    const RANK = DATA.ranking.map((r) => [DATA.rankClasses[r[0]], concepts[r[1]], r[2], r[3], r[4],
                                          TESTS[r[5]], r[6], r[7] === 1,
                                          r[8] ?? null, r[9] ?? null, r[10] ?? null, r[11] ?? null,
                                          r[0]]);
    // a share with the counts behind it ("100.0% 2/2"): a share alone hides whether
    // it is 2 of 2 images or 200 of 200
    function shareCell(share, count, size) {
      const td = el("td", { class: "num" }, pct(shareOf(share, count, size)));
      if (count !== null) {
        // (a space, not a margin: copied from the page, the cell reads "100.0% 2/2")
        td.append(" ", el("span", { class: "count" }, size !== null ? count + "/" + size : count));
      }
      return td;
    }
    // The order the table opens in: the significant rows first, by p-value and then by
    // difference, and the rows of classes in which no concept can be significant (too
    // small, or not differing from the rest as a whole: named above the table) last. In
    // label order, the first rows were all of the first class (of one image, at 100%,
    // where it was the first), and another class's significant rows hundreds down.
    const last = new Set(DATA.rankLast || []);
    const pOf = (r) => (r[6] === null ? Infinity : r[6]);
    const diffOf = (r) => (r[4] === null ? -Infinity : r[4]);
    const order = RANK.map((_, i) => i).sort((a, b) => {
      const x = RANK[a], y = RANK[b];
      return (y[7] - x[7]) || (last.has(x[12]) - last.has(y[12])) ||
        (pOf(x) - pOf(y)) || (diffOf(y) - diffOf(x)) || a - b;
    });
    // On a narrow screen the p-value and the verdict come right after the names (they
    // lay beyond the box's right edge, behind a sideways scroll)
    const narrow = window.matchMedia("(max-width: 600px)");
    const headRow = table.querySelector("thead tr");
    const columnOrder = () => (narrow.matches ? [0, 1, 6, 7, 4, 2, 3, 5]
                                              : [0, 1, 2, 3, 4, 5, 6, 7]);
    function orderHeader() {
      for (const col of columnOrder()) {
        const th = headRow.querySelector('th[data-col="' + col + '"]');
        if (th) headRow.append(th);
      }
    }
    orderHeader();
    // The columns of names take the width the box has before being cut: their natural
    // widths where the table fits, else shared out, each at least 8em (9em for concepts;
    // less on a narrow screen), the longer cut first.
    function fitColumns() {
      const wrap = table.parentElement;
      const cols = [["--cls-max", 0, 8], ["--con-max", 1, 9]]
        .map(([v, col, em]) => [v, table.querySelector('th[data-col="' + col + '"]'), em])
        .filter(([, th]) => th);
      for (const [v] of cols) table.style.setProperty(v, "none");
      const room = wrap.clientWidth;
      const natural = table.offsetWidth;
      if (natural <= room || !room) return;
      const font = parseFloat(getComputedStyle(table).fontSize) || 14;
      const widths = cols.map(([, th]) => th.offsetWidth);
      const cell = table.querySelector("tbody td");
      const style = cell ? getComputedStyle(cell) : null;
      const pad = style ? parseFloat(style.paddingLeft) + parseFloat(style.paddingRight) : 16;
      // (2 px to spare: widths are rounded)
      let left = room - 2 - (natural - widths.reduce((a, b) => a + b, 0)) - pad * cols.length;
      const wants = widths.map((w) => w - pad);
      // (the shorter column whole where the longer can take the rest, else half each)
      const caps = wants.slice();
      const sorted = wants.map((w, i) => [w, i]).sort((a, b) => a[0] - b[0]);
      sorted.forEach(([w, i], k) => {
        const share = left / (sorted.length - k);
        caps[i] = Math.min(w, share);
        left -= caps[i];
      });
      cols.forEach(([v, , em], i) => {
        const floor = Math.min(em * font, 0.22 * room);  // (a phone: 75 px of 342)
        table.style.setProperty(v, Math.floor(Math.max(floor, caps[i])) + "px");
      });
    }
    const printNote = document.getElementById("ranking-print-note");

    function visibleRows() {
      const q = search.value.trim().toLowerCase();
      let rows = order.map((i) => RANK[i]);
      if (sigOnly.checked) rows = rows.filter((r) => r[7]);
      // (one group: only the concept is searched, as the box says; its hidden group
      // name, "A vs B", would match every row)
      const text = (r) => (oneGroup ? r[1] : r[0] + "\u0000" + r[1]).toLowerCase();
      if (q) rows = rows.filter((r) => text(r).includes(q));
      return rows;
    }
    function render() {
      const rows = visibleRows();
      tbody.replaceChildren();
      const frag = document.createDocumentFragment();
      const columns = columnOrder();
      for (const r of rows.slice(0, state.limit)) {
        const tr = el("tr", r[7] ? { class: "sig" } : null);
        const cells = {};
        if (!oneGroup) {
          cells[0] = el("td", { class: "cls", title: r[0] });
          // (cut where the classes differ, when there is no room for the whole)
          cells[0].append(cutName(r[0], classKeep.get(r[0])));
        }
        cells[1] = el("td", { class: "con" });
        cells[1].append(conceptLink(r[1], true));  // (a long phrase cut in its middle)
        // (the difference from the counts too, as the analysis computes it: one division
        // of the exact difference of the counts, c1 n2 - c2 n1, by n1 n2)
        const counted = r[8] !== null && r[9] !== null && r[10] !== null && r[11] !== null &&
          r[9] > 0 && r[11] > 0;
        const diff = counted ? (r[8] * r[11] - r[10] * r[9]) / (r[9] * r[11]) : r[4];
        cells[2] = shareCell(r[2], r[8], r[9]);
        cells[3] = shareCell(r[3], r[10], r[11]);
        cells[4] = el("td", { class: "num" }, pts(diff));
        if (!oneTest) cells[5] = el("td", null, r[5]);
        cells[6] = el("td", { class: "num" }, pfmt(r[6], r[7] ? DATA.alpha : undefined));
        cells[7] = el("td", null, r[7] ? "yes" : "no");
        for (const col of columns) if (cells[col]) tr.append(cells[col]);
        frag.append(tr);
      }
      const nSig = RANK.filter((r) => r[7]).length;
      if (!rows.length) {
        // (an empty table said nothing of why: say what filtered every row out)
        const why = sigOnly.checked && !nSig
          ? "No " + TROW + " is significant"
          : "No " + TROW + " matches" + (search.value.trim() ? " \u201c" + search.value.trim() + "\u201d" : "") +
            (sigOnly.checked ? " among the significant ones" : "");
        const columns = table.querySelectorAll("thead th").length;
        const cell = el("td", { class: "empty muted", colspan: String(columns) }, why);
        const tr = el("tr");
        tr.append(cell);
        frag.append(tr);
      }
      tbody.append(frag);
      fitCuts(tbody);
      fitColumns();
      count.textContent = rows.length + " of " + RANK.length + " " + TROW + "s, " + nSig +
        " significant";
      more.hidden = rows.length <= state.limit;
      // (printed: what the printed table leaves out, which the page shows on a click)
      const drawn = Math.min(rows.length, state.limit);
      const notes = [];
      if (drawn < rows.length) {
        const sigDrawn = rows.slice(0, drawn).filter((r) => r[7]).length;
        const sigAll = rows.filter((r) => r[7]).length;
        notes.push("Printed: the first " + drawn + " of these " + rows.length + " " + TROW +
          "s (" + (!sigAll ? "none is significant" : sigDrawn === sigAll
            ? (sigAll === 1 ? "the significant one" : "all " + sigAll + " significant ones")
            : sigDrawn + " of the " + sigAll + " significant ones") + "); the other " + (rows.length - drawn) + " are not printed.");
      }
      if (rows.length < RANK.length) {
        notes.push((RANK.length - rows.length) + " " + TROW + (RANK.length - rows.length === 1
          ? " is" : "s are") + " filtered out (the search or \u201csignificant only\u201d) " +
          "and not printed.");
      }
      printNote.textContent = notes.join(" ");
    }
    narrow.addEventListener("change", () => { orderHeader(); render(); });
    let resizing = 0;
    window.addEventListener("resize", () => {
      cancelAnimationFrame(resizing);
      resizing = requestAnimationFrame(fitColumns);
    });
    function sortBy(col, numeric) {
      state.dir = state.col === col ? -state.dir : 1;
      state.col = col;
      const dir = state.dir;
      order.sort((a, b) => {
        let x = RANK[a][col], y = RANK[b][col];
        if (numeric) {
          x = x === null ? Infinity : x;
          y = y === null ? Infinity : y;
          return x === y ? a - b : (x < y ? -dir : dir);
        }
        const c = String(x).localeCompare(String(y));
        return c === 0 ? a - b : c * dir;
      });
      for (const th of table.querySelectorAll("th")) th.removeAttribute("aria-sort");
      table.querySelector('th[data-col="' + col + '"]').setAttribute(
        "aria-sort", dir > 0 ? "ascending" : "descending");
      render();
    }
    // Each column title becomes a button: reachable with Tab, sorted with Enter or Space,
    // and its column's aria-sort says the order to a screen reader.
    for (const th of table.querySelectorAll("th")) {
      const button = el("button", { type: "button", class: "sort" }, th.textContent.trim());
      button.addEventListener("click", () => sortBy(Number(th.dataset.col),
                                                    th.dataset.type === "num"));
      th.replaceChildren(button);
    }
    // The long class names in full, below the table (a cut one is whole in its tooltip,
    // which a touch screen or a print does not show): the part that tells each apart in
    // bold, as the table keeps it.
    const legend = document.getElementById("ranking-names");
    const long = oneGroup ? [] : DATA.rankClasses.filter((c) => Array.from(c).length > 18);
    if (legend && long.length) {
      legend.append(el("span", null, "In full: "));
      long.forEach((name, k) => {
        const chars = Array.from(name);
        const [from, to] = classKeep.get(name) || [0, 0];
        const item = el("span", { class: "name" }, chars.slice(0, from).join(""));
        if (to > from) item.append(el("b", null, chars.slice(from, to).join("")));
        item.append(chars.slice(to).join(""));
        legend.append(item, k + 1 < long.length ? "; " : ".");
      });
      legend.hidden = false;
    }
    search.addEventListener("input", () => { state.limit = PAGE_ROWS; render(); });
    sigOnly.addEventListener("change", () => { state.limit = PAGE_ROWS; render(); });
    more.addEventListener("click", () => { state.limit += PAGE_ROWS; render(); });
    render();
  }

  // ------------------------------------------------------------------ gallery
  const gallery = document.getElementById("gallery");
  const imageSearch = document.getElementById("image-search");
  const imageClass = document.getElementById("image-class");
  const imageCount = document.getElementById("image-count");
  const galleryMore = document.getElementById("gallery-more");
  let galleryLimit = PAGE_IMAGES;
  DATA.classes.forEach((name, c) => imageClass.append(el("option", { value: String(c), title: name },
                                                         name)));
  if (!DATA.classes.length) imageClass.hidden = true;
  // the list is no wider than the page: a long class name is cut there, whole in the tooltip
  const classTitle = () => { imageClass.title = imageClass.selectedOptions[0]?.text ?? ""; };
  classTitle();

  function renderGallery() {
    const q = imageSearch.value.trim().toLowerCase();
    const c = imageClass.value === "" ? null : Number(imageClass.value);
    const shown = [];
    images.forEach((img, i) => {
      if (c !== null && img.c !== c) return;
      if (q && !img.p.toLowerCase().includes(q)) return;
      shown.push(i);
    });
    gallery.replaceChildren();
    const frag = document.createDocumentFragment();
    for (const i of shown.slice(0, galleryLimit)) frag.append(thumb(i));
    gallery.append(frag);
    fitCuts(gallery);
    const n = Math.min(shown.length, galleryLimit);
    imageCount.textContent = (n === shown.length
      ? counted(shown.length)
      : "showing " + n + " of " + counted(shown.length)) +
      (shown.length !== images.length ? " (" + images.length + " in all)" : "");
    galleryMore.hidden = shown.length <= galleryLimit;
    const notes = [];
    if (n < shown.length) notes.push("Printed: " + n + " of these " + counted(shown.length) +
      "; the other " + (shown.length - n) + " are not printed.");
    if (shown.length < images.length) notes.push((images.length - shown.length) + " " +
      (images.length - shown.length === 1 ? UNIT + " is" : UNITS + " are") +
      " filtered out and not printed.");
    document.getElementById("gallery-print-note").textContent = notes.join(" ");
  }
  imageSearch.addEventListener("input", () => { galleryLimit = PAGE_IMAGES; renderGallery(); });
  imageClass.addEventListener("change", () => {
    classTitle();
    galleryLimit = PAGE_IMAGES;
    renderGallery();
  });
  galleryMore.addEventListener("click", () => { galleryLimit += 2 * PAGE_IMAGES; renderGallery(); });
  renderGallery();

  // ------------------------------------------------------------------ detail panel
  const detail = document.getElementById("detail-body");
  const detailEmpty = document.getElementById("detail-empty");
  const scaleNote = document.getElementById("scale");
  if (scaleNote) scaleNote.textContent = DATA.scale.toFixed(3);

  const status = document.getElementById("detail-status");
  // the link or thumbnail that opened the panel (not one in the panel), for "Back to ..."
  let opener = null;
  let openerSection = null;
  const PLACES = { ranking: "the ranking table", classes: "the " + DATA.labelsWord, images: "the " + UNITS,
                   summary: "the summary" };

  // Fill the panel. The panel itself is not a live region (a screen reader would read it
  // all); a short status is announced instead. Opened by a user (from a link or a
  // thumbnail), the focus moves to the panel's heading and a button leads back.
  function showDetail(nodes, message, from) {
    detailEmpty.hidden = true;
    if (from && !from.closest("#detail")) {
      opener = from;
      openerSection = from.closest("section");
    }
    const heading = nodes[0];
    heading.setAttribute("tabindex", "-1");
    if (from && openerSection) {
      const back = el("button", { type: "button", class: "back" },
                      "Back to " + (PLACES[openerSection.id] || "the page"));
      back.addEventListener("click", goBack);
      nodes.splice(1, 0, back);
    }
    detail.replaceChildren(...nodes);
    fitCuts(detail);
    status.textContent = message;
    const aside = document.getElementById("detail");
    aside.scrollTop = 0;
    if (window.matchMedia("(max-width: 1100px)").matches) aside.scrollIntoView();
    if (from) heading.focus({ preventScroll: true });
  }

  // Back to the link or thumbnail that opened the panel; if a search or filter has
  // redrawn it since, to the same concept or image in its section, or to the section.
  function goBack() {
    if (!opener) return;
    let target = opener;
    if (!target.isConnected) {
      const section = openerSection;
      const key = opener.hasAttribute("data-concept") ? "data-concept" : "data-image";
      const value = opener.getAttribute(key);
      target = section && [...section.querySelectorAll("[" + key + "]")]
        .find((e) => e.getAttribute(key) === value);
      if (!target && section) {
        target = section.querySelector("h2");
        target.setAttribute("tabindex", "-1");
      }
    }
    if (target) {
      target.focus({ preventScroll: true });
      target.scrollIntoView({ block: "nearest" });
    }
  }
  document.getElementById("detail").addEventListener("keydown", (event) => {
    if (event.key === "Escape" && opener) {
      event.preventDefault();
      goBack();
    }
  });

  function showConcept(name, from) {
    const nodes = [el("h2", { id: "detail-title", "data-kind": "concept" }, name)];
    const ci = conceptIndex.get(name);
    const hits = [];
    if (ci !== undefined) {
      images.forEach((img, i) => {
        for (const [j, w] of img.w) if (j === ci) { hits.push([i, w]); break; }
      });
    }
    hits.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    nodes.push(el("p", { class: "meta" }, "non-zero in " + hits.length + " of " +
      counted(images.length)));
    const prev = DATA.prevalence[name];
    if (prev) {
      const box = el("div", { class: "prevalence" });
      box.append(el("h3", null, "Prevalence per " + DATA.labelWord));
      const intervals = (DATA.prevalenceInterval || {})[name];
      // the whole dataset first, then the groups by prevalence (in label order, the one
      // group holding a concept could be 40 rows down); of many groups the top few, with
      // a button for the others, so that the images below stay near
      const groups = DATA.groups.map((g, k) => k);
      const whole = groups.filter((k) => DATA.groups[k] === "all");
      const rest = groups.filter((k) => DATA.groups[k] !== "all")
        .sort((a, b) => (prev[b] ?? -1) - (prev[a] ?? -1) || a - b);
      const TOP = 8;
      const folded = rest.length > TOP + 2;
      const rows = [];
      whole.concat(rest).forEach((k, at) => {
        const g = DATA.groups[k];
        const shown = DATA.groupNames[k] || g;  // (with its number of images or rows)
        // (a group of one image holding the concept is at 100%: the whisker, its 95%
        // interval, says how little that is)
        const ci = intervals ? intervals[k] : null;
        const row = el("div", { class: "bar-row", title: ci ? shown + ": " +
          ci[2].toLocaleString("en-US") + " of " + DATA.groupSizes[k].toLocaleString("en-US") +
          " " + (DATA.groupSizes[k] === 1 ? UNIT : UNITS) +
          ", 95% interval " + bound(ci[0], false) + " to " + bound(ci[1], true) : shown });
        // (one line, cut where the groups' names differ: whole in the tooltip)
        const label = el("span", { class: "cls" });
        label.append(cutName(shown, classKeep.get(g)));
        row.append(label);
        const track = el("span", { class: "track" });
        track.append(el("span", { class: "fill alt",
                                  style: "width:" + (100 * (prev[k] || 0)).toFixed(1) + "%" }));
        if (ci) {
          track.append(el("span", { class: "ci", style: "left:" + (100 * ci[0]).toFixed(1) +
            "%;width:" + (100 * (ci[1] - ci[0])).toFixed(1) + "%" }));
        }
        row.append(track, el("span", { class: "val" },
                             pct(ci ? shareOf(prev[k], ci[2], DATA.groupSizes[k]) : prev[k])));
        if (folded && at >= whole.length + TOP) row.hidden = true;
        rows.push(row);
        box.append(row);
      });
      if (folded) {
        const n = rest.length - TOP;
        const all = el("button", { type: "button", class: "show-all", "aria-expanded": "false" },
                       "Show all " + rest.length + " " + DATA.labelsWord + " (" + n + " more)");
        all.addEventListener("click", () => {
          const open = all.getAttribute("aria-expanded") !== "true";
          rows.slice(whole.length + TOP).forEach((r) => { r.hidden = !open; });
          all.setAttribute("aria-expanded", String(open));
          all.textContent = open ? "Show the top " + TOP + " only"
                                 : "Show all " + rest.length + " " + DATA.labelsWord + " (" + n + " more)";
          fitCuts(box);
        });
        box.append(all);
      }
      if (intervals && intervals.some((ci) => ci)) {
        box.append(el("p", { class: "muted" }, "Whiskers: exact 95% intervals (Clopper-Pearson), each bar's own."));
      }
      nodes.push(box);
    }
    const top = hits.slice(0, 30);
    nodes.push(el("h3", null, top.length ? UNITS.charAt(0).toUpperCase() + UNITS.slice(1) +
      " where it is strongest" + (hits.length > top.length ? " (top " + top.length + ")" : "")
      : "No " + UNIT + " has it"));
    const grid = el("div", { class: "gallery", id: "concept-images" });
    for (const [i, w] of top) grid.append(thumb(i, wfmt(w)));
    nodes.push(grid);
    showDetail(nodes, "Showing concept \u201c" + name + "\u201d: " + counted(hits.length),
      from);
  }

  function showImage(i, from) {
    const img = images[i];
    const nodes = [el("h2", { id: "detail-title", "data-kind": "image" }, shortName(img.p))];
    if (img.t) nodes.push(el("img", { class: "big", src: img.t, alt: baseName(img.p) }));
    nodes.push(el("div", { class: "path" }, img.p));
    const meta = [];
    if (img.c >= 0) meta.push(DATA.labelWord + " " + className(img.c));
    meta.push(img.l0 + (img.l0 === 1 ? " concept" : " concepts"),
              "cosine " + (img.cos === null ? "-" : img.cos.toFixed(3)) +
              (img.base === null ? "" : " (centre alone " + img.base.toFixed(3) + ")"));
    nodes.push(el("p", { class: "meta" }, meta.join(" \u00b7 ")));
    const bars = el("div", { id: "image-concepts" });
    const ws = img.w.slice().sort((a, b) => b[1] - a[1]);
    for (const [j, w] of ws) bars.append(weightRow(concepts[j], w));
    if (!ws.length) bars.append(el("p", { class: "muted" }, "no non-zero concept"));
    nodes.push(bars);
    if (ws.length < img.l0) {
      nodes.push(el("p", { class: "muted" }, "the report holds " + ws.length + " of its " +
        img.l0 + " non-zero concepts"));
    }
    showDetail(nodes, "Showing " + UNIT + " \u201c" + shortName(img.p) + "\u201d: " + img.l0 +
      (img.l0 === 1 ? " concept" : " concepts"), from);
    for (const t of document.querySelectorAll(".thumb.active")) t.classList.remove("active");
    for (const t of document.querySelectorAll('.thumb[data-image="' + i + '"]')) {
      t.classList.add("active");
    }
  }

  document.addEventListener("click", (event) => {
    // A link to a section of the page: in a frame of a notebook (an iframe's srcdoc, of
    // the host page's address) "#ranking" loaded the host page into the frame, so the
    // section is scrolled to here, and the address keeps its fragment where it can.
    const link = event.target.closest('a[href^="#"]:not([data-concept])');
    if (link && link.getAttribute("href").length > 1) {
      const section = document.getElementById(link.getAttribute("href").slice(1));
      if (section) {
        event.preventDefault();
        section.scrollIntoView();
        if (location.protocol !== "about:") history.replaceState(null, "", link.getAttribute("href"));
      }
      return;
    }
    const target = event.target.closest("[data-concept], [data-image]");
    if (!target) return;
    event.preventDefault();
    if (target.hasAttribute("data-concept")) {
      showConcept(target.getAttribute("data-concept"), target);
    } else {
      showImage(Number(target.getAttribute("data-image")), target);
    }
  });

  // the bars of the page (frequent concepts, class cards): their long names cut in the
  // middle, as the bars this script draws
  for (const a of document.querySelectorAll(".bar-row > a.concept")) {
    a.replaceChildren(cutName(a.textContent, conceptKeep.get(a.textContent)));
  }
  fitCuts(document);

  window.__skspliceReadyMs = performance.now();
  document.body.setAttribute("data-ready", "1");
})();
