// Fairwheel dashboard: wallet login (EIP-4361), consent, voucher and revocation signing (EIP-712).
// Signing happens in the browser wallet (window.ethereum, EIP-1193). In dev mode the built-in
// TEST KEY wallets sign on the server instead; the server refuses to sign for any other key.
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("fw-data").textContent);
  const $ = (sel, root = document) => root.querySelector(sel);
  const CHOICE = "fairwheel.wallet";

  function say(text, error = false) {
    const box = $("#status");
    box.innerHTML = "";
    const div = document.createElement("div");
    div.className = error ? "msg error" : "msg";
    div.textContent = text;
    box.appendChild(div);
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function api(method, path, body, headers = {}) {
    const h = { "X-Fairwheel-CSRF": "1", ...headers };
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(path, {
      method, headers: h, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
    if (!res.ok) throw new Error(json && json.code ? `${json.code}: ${json.message}` : `HTTP ${res.status}`);
    return json;
  }

  const wallet = {
    kind: null,
    address: null,
    async connect(choice) {
      if (choice === "injected") {
        if (!window.ethereum) {
          throw new Error("no browser wallet (window.ethereum) found" +
            (data.dev ? "; pick one of the TEST KEY wallets" : ""));
        }
        const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
        this.kind = "injected";
        this.address = accounts[0];
      } else {
        this.kind = "dev";
        this.address = choice;
      }
      localStorage.setItem(CHOICE, choice);
      return this.address;
    },
    restore() {
      if (!data.session) return;
      const choice = localStorage.getItem(CHOICE) || "injected";
      this.address = data.session.address;
      const isDev = data.devWallets.some((w) => w.address.toLowerCase() === this.address.toLowerCase());
      this.kind = isDev && choice !== "injected" ? "dev" : "injected";
    },
    async signPersonal(message) {
      if (this.kind === "dev") {
        return (await api("POST", `/v1/dev/wallets/${this.address}/signature`, { kind: "personal", message })).signature;
      }
      const hex = "0x" + Array.from(new TextEncoder().encode(message), (b) => b.toString(16).padStart(2, "0")).join("");
      return window.ethereum.request({ method: "personal_sign", params: [hex, this.address] });
    },
    async signTyped(typed) {
      if (this.kind === "dev") {
        return (await api("POST", `/v1/dev/wallets/${this.address}/signature`, { kind: "typed_data", typed_data: typed })).signature;
      }
      // The API serves typed data as ethers/viem take it: no EIP712Domain in `types`. A JSON-RPC
      // wallet (MetaMask's eth-sig-util) needs it listed, or it signs an empty domain.
      const order = [["name", "string"], ["version", "string"], ["chainId", "uint256"],
        ["verifyingContract", "address"], ["salt", "bytes32"]];
      const EIP712Domain = order.filter(([n]) => n in typed.domain).map(([name, type]) => ({ name, type }));
      const full = { ...typed, types: { EIP712Domain, ...typed.types } };
      return window.ethereum.request({ method: "eth_signTypedData_v4", params: [this.address, JSON.stringify(full)] });
    },
  };

  // ------------------------------------------------------------------ parsing records
  function parseCsv(text) {
    const rows = [];
    let row = [], field = "", quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
        else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { row.push(field); field = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(field); rows.push(row); row = []; field = "";
      } else field += c;
    }
    if (field || row.length) { row.push(field); rows.push(row); }
    const header = (rows.shift() || []).map((h) => h.trim().toLowerCase());
    const t = header.indexOf("text"), l = header.indexOf("label");
    if (t < 0) throw new Error("the CSV needs a 'text' column");
    return rows.filter((r) => r[t] && r[t].trim())
      .map((r) => ({ text: r[t], label: l >= 0 && r[l] ? r[l] : null }));
  }

  function parseLines(text) {
    return text.split(/\r?\n/).filter((line) => line.trim()).map((line) => {
      const [body, label] = line.split("\t");
      return { text: body, label: label ? label.trim() : null };
    });
  }

  // ----------------------------------------------------------------------- amounts
  function toUnits(decimal, decimals = 18) {
    const [whole, frac = ""] = String(decimal).trim().split(".");
    if (!/^\d+$/.test(whole || "0") || !/^\d*$/.test(frac)) throw new Error("not an amount");
    return BigInt(whole || "0") * 10n ** BigInt(decimals) + BigInt((frac + "0".repeat(decimals)).slice(0, decimals) || "0");
  }
  const word = (hex) => hex.replace(/^0x/, "").padStart(64, "0");
  const fmtUnits = (units) => (Number(BigInt(units) / 10n ** 12n) / 1e6).toString();

  // --------------------------------------------------- this browser's own records
  function stored(store, key, fallback) {
    try { const v = JSON.parse(store.getItem(key)); return v === null ? fallback : v; } catch (e) { return fallback; }
  }
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  // Transactions this tab sent: pending until mined, then confirmed (or failed). Kept for the
  // tab's session, so a reload after a deposit still shows how it ended.
  const TXLOG = "fairwheel.txlog";
  const txlog = {
    entries() { return stored(sessionStorage, TXLOG, []); },
    save(list) { sessionStorage.setItem(TXLOG, JSON.stringify(list.slice(-20))); this.render(); },
    add(label) {
      const entry = { id: uuid(), label, state: "pending", at: Date.now() };
      this.save([...this.entries(), entry]);
      return entry.id;
    },
    update(id, fields) { this.save(this.entries().map((e) => (e.id === id ? { ...e, ...fields } : e))); },
    render() {
      const box = $("#tx-log");
      if (!box) return;
      const list = this.entries();
      if (!list.length) return;
      box.innerHTML = "";
      for (const e of list.slice().reverse()) {
        const li = el("li", `tx tx-${e.state}`);
        li.dataset.state = e.state;
        li.appendChild(el("strong", "", e.label));
        const where = e.block !== undefined ? ` in block ${e.block}` : "";
        const what = { pending: "pending…", confirmed: `confirmed${where}`, failed: `failed${e.error ? ": " + e.error : ""}` }[e.state];
        li.appendChild(el("span", "tx-state", ` — ${what}`));
        if (e.hash) li.appendChild(el("code", "small", ` ${e.hash.slice(0, 18)}…`));
        box.appendChild(li);
      }
    },
  };

  // Run one on-chain step and log it: `send` resolves to {tx_hash, status, block_number}.
  async function logged(label, send) {
    const id = txlog.add(label);
    try {
      const tx = await send((hash) => txlog.update(id, { hash }));
      const ok = tx === null || tx.status === undefined || Number(tx.status) === 1;
      txlog.update(id, { state: ok ? "confirmed" : "failed", hash: tx && tx.tx_hash, block: tx ? tx.block_number : undefined,
                         error: ok ? undefined : "reverted" });
      if (!ok) throw new Error(`${label}: the transaction reverted`);
      return tx;
    } catch (err) {
      if (txlog.entries().some((e) => e.id === id && e.state === "pending")) txlog.update(id, { state: "failed", error: err.message || String(err) });
      throw err;
    }
  }

  // A transaction sent by the browser wallet: its hash at once, then its receipt when mined.
  async function walletTx(params, onHash) {
    const hash = await window.ethereum.request({ method: "eth_sendTransaction", params: [params] });
    onHash(hash);
    for (let i = 0; i < 600; i++) {
      const receipt = await window.ethereum.request({ method: "eth_getTransactionReceipt", params: [hash] });
      if (receipt) return { tx_hash: hash, status: Number(receipt.status), block_number: Number(receipt.blockNumber) };
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`transaction ${hash} not mined after 10 minutes`);
  }

  // The query and the answer of each paid call made from this browser (the node keeps only
  // the query's hash and the records served).
  const callsKey = () => `fairwheel.calls.${data.chain.chainId}.${(wallet.address || "").toLowerCase()}`;
  function rememberCall(seq, entry) {
    const all = stored(localStorage, callsKey(), {});
    all[seq] = entry;
    const keep = Object.keys(all).map(Number).sort((a, b) => b - a).slice(0, 500);
    localStorage.setItem(callsKey(), JSON.stringify(Object.fromEntries(keep.map((k) => [k, all[k]]))));
  }
  function showCalls() {
    const all = stored(localStorage, callsKey(), {});
    for (const cell of document.querySelectorAll("td.qa[data-seq]")) {
      const known = all[cell.dataset.seq];
      if (!known) continue;
      cell.innerHTML = "";
      cell.appendChild(el("div", "q", `“${known.query}”`));
      cell.appendChild(el("div", "a", `→ ${known.answer}`));
      cell.title = "kept by this browser";
    }
  }

  // ------------------------------------------------------------------------ actions
  async function login() {
    const sel = $("#wallet-choice");
    const address = await wallet.connect(sel ? sel.value : "injected");
    say("Sign the login message in your wallet…");
    const nonce = await api("POST", "/v1/auth/nonce", { address });
    const signature = await wallet.signPersonal(nonce.message);
    await api("POST", "/v1/auth/login", { message: nonce.message, signature });
    location.reload();
  }

  // The code of what decided a result (as fairwheel.node.queries.reason_code): "accepted", or
  // the first word of the deciding reason.
  function resultCode(result) {
    const first = ((result.reasons || [])[0] || "").split(" ")[0].replace(/:$/, "");
    if (first === "review") return "review";
    if (result.status === "accepted") return "accepted";
    return first === "label_issue_score" ? "label_issue" : (first || result.status);
  }

  function showUpload(upload) {
    const out = $("#submit-result");
    if (!out || !upload) return;
    const terms = (data.pools || {})[String(upload.pool)] || { fixes: {} };
    const groups = new Map();
    for (const r of upload.results) {
      const code = resultCode(r);
      if (!groups.has(code)) groups.set(code, []);
      groups.get(code).push(r);
    }
    out.innerHTML = "";
    const counts = Object.entries(upload.counts).map(([k, v]) => `${v} ${k}`).join(", ");
    out.appendChild(el("p", "upload-summary", `Upload to pool #${upload.pool}: ${counts}.`));
    const order = [...groups.keys()].sort((x, y) => (x === "accepted") - (y === "accepted") || groups.get(y).length - groups.get(x).length);
    for (const code of order) {
      const rows = groups.get(code);
      const info = terms.fixes[code] || { title: code, fix: "See the reasons; docs/quality.md explains each check." };
      const box = el("div", `reason-group ${code === "accepted" ? "good" : "bad"}`);
      box.dataset.reason = code;
      box.appendChild(el("h3", "", `${info.title} — ${rows.length} record${rows.length === 1 ? "" : "s"}`));
      box.appendChild(el("p", "fix", info.fix));
      const list = el("ul", "small");
      for (const r of rows.slice(0, 20)) {
        const text = (upload.texts[r.index] || "").slice(0, 60);
        const id = r.record_id ? ` → record ${r.record_id}` : "";
        list.appendChild(el("li", "", `#${r.index + 1} “${text}”${id}: ${(r.reasons || []).join("; ")}`));
      }
      if (rows.length > 20) list.appendChild(el("li", "muted", `… and ${rows.length - 20} more`));
      box.appendChild(list);
      out.appendChild(box);
    }
    const again = el("button", "secondary", "Show them in your records");
    again.dataset.action = "reload";
    out.appendChild(again);
  }

  // ------------------------------------------------------------- long operations
  // A status line with a spinner and the time elapsed while `run` works; the buttons are
  // disabled meanwhile (and after a success too with `keep`, when the page reloads next).
  // `run(update)` may call `update(text, done, total)` to say how far it got (a progress bar
  // when `total` is given) and resolves to the text shown at the end.
  const LASTOP = "fairwheel.lastOp";
  const seconds = (t0) => ((performance.now() - t0) / 1000).toFixed(1);
  const count = (n) => Number(n).toLocaleString("en-US");
  async function longRun(box, buttons, first, run, keep = false) {
    const was = buttons.map((b) => b.disabled);
    for (const b of buttons) { b.disabled = true; b.setAttribute("aria-busy", "true"); }
    if (buttons[0]) buttons[0].dataset.state = "running";
    const t0 = performance.now();
    box.innerHTML = "";
    const line = el("div", "op running");
    line.dataset.state = "running";
    const text = el("span", "op-text", first);
    const bar = el("progress", "op-progress");
    bar.hidden = true;
    const took = el("span", "op-elapsed muted", " 0.0 s");
    line.append(el("span", "spinner"), text, " ", bar, took);
    box.appendChild(line);
    const timer = setInterval(() => { took.textContent = ` ${seconds(t0)} s`; }, 100);
    const update = (what, done, total) => {
      text.textContent = what;
      if (total !== undefined) { bar.hidden = false; bar.max = total; bar.value = done; }
    };
    const finish = (state, what) => {
      clearInterval(timer);
      line.className = `op ${state}`;
      line.dataset.state = state;
      line.innerHTML = "";
      line.appendChild(el("span", "op-text", `${state === "done" ? "✔" : "✘"} ${what} (${seconds(t0)} s)`));
      for (const [i, b] of buttons.entries()) { b.removeAttribute("aria-busy"); if (state !== "done" || !keep) b.disabled = was[i]; }
      if (buttons[0]) buttons[0].dataset.state = state;
    };
    try {
      const result = await run(update);
      finish("done", result);
      return { text: line.textContent, took: seconds(t0) };
    } catch (err) {
      finish("failed", err.message || String(err));
      throw err;
    }
  }

  // An operator's action on a pool: its status line under the pool's buttons, kept across the
  // reload that shows the new state.
  async function poolOp(btn, first, run) {
    const pool = btn.dataset.pool;
    const box = document.querySelector(`.op-status[data-pool="${pool}"]`) || $("#status");
    const row = btn.closest(".pool-actions");
    const buttons = [btn, ...(row ? [...row.querySelectorAll("button")].filter((b) => b !== btn) : [])];
    const out = await longRun(box, buttons, first, run, true);
    sessionStorage.setItem(LASTOP, JSON.stringify({ pool, text: out.text }));
    say(out.text);
    reloadSoon(1200);
  }

  function showLastOp() {
    const last = stored(sessionStorage, LASTOP, null);
    if (!last) return;
    sessionStorage.removeItem(LASTOP);
    const box = document.querySelector(`.op-status[data-pool="${last.pool}"]`);
    if (!box) return;
    const line = el("div", "op done", last.text);
    line.dataset.state = "done";
    box.appendChild(line);
  }

  // ------------------------------------------------------------------- the upload
  // Sent in chunks, each under one BatchConsent the wallet signs once; the status line says how
  // many records are in after each chunk.
  const UPLOAD_CHUNK = 250;
  async function submitRecords(form) {
    const file = form.csv.files[0];
    const records = file ? parseCsv(await file.text()) : parseLines(form.text.value);
    if (!records.length) throw new Error("nothing to submit");
    const pool = form.pool.value, total = records.length;
    const size = Math.max(1, Math.min(1000, Number(form.dataset.chunk) || UPLOAD_CHUNK));
    const results = [], counts = {};
    const box = $("#upload-status") || $("#status");
    const keep = () => {
      const upload = { pool, counts, results, texts: records.map((r) => r.text) };
      sessionStorage.setItem("fairwheel.lastUpload", JSON.stringify(upload));
      showUpload(upload);
    };
    const summary = () => Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ");
    try {
      await longRun(box, [...form.querySelectorAll("button")], `Uploading 0 of ${count(total)}…`, async (update) => {
        for (let start = 0; start < total; start += size) {
          const chunk = records.slice(start, start + size);
          const range = chunk.length === 1 ? `record ${count(start + 1)}` : `records ${count(start + 1)}–${count(start + chunk.length)}`;
          update(`Sign the consent for ${range} of ${count(total)} in your wallet…`, start, total);
          const draft = await api("POST", `/v1/pools/${pool}/consents/batch`, { records: chunk, purposes: Number(form.purposes.value) });
          const signature = await wallet.signTyped(draft.typed_data);
          update(`Uploading ${count(start)} of ${count(total)}…`, start, total);
          const batch = { consent: draft.consent, signature,
            records: chunk.map((r, i) => ({ text: r.text, label: r.label, proof: draft.records[i].proof })) };
          const out = await api("POST", `/v1/pools/${pool}/contributions`, { batches: [batch] }, { "Idempotency-Key": uuid() });
          for (const r of out.results) results.push({ ...r, index: start + r.index });
          for (const [k, v] of Object.entries(out.counts)) counts[k] = (counts[k] || 0) + v;
          update(`Uploading ${count(start + chunk.length)} of ${count(total)}…`, start + chunk.length, total);
        }
        return `Submitted ${count(total)} record${total === 1 ? "" : "s"}: ${summary()}`;
      });
    } catch (err) {
      if (results.length) keep();
      throw new Error(results.length
        ? `Stopped after ${count(results.length)} of ${count(total)} records (those are in; send the rest again): ${err.message}`
        : err.message);
    }
    keep();
    say(`Submitted ${count(total)} record${total === 1 ? "" : "s"}: ${summary()}.`);
  }

  async function revoke(recordId) {
    if (!confirm(`Revoke record ${recordId}? It will never be served or paid again and its content is destroyed.`)) return;
    const typed = await api("GET", `/v1/contributions/${recordId}/revocation`);
    const signature = await wallet.signTyped(typed);
    const out = await api("POST", `/v1/contributions/${recordId}/revocation`, { signature }, { "Idempotency-Key": uuid() });
    say(`Record ${recordId} revoked${out.tx_hash ? ` (tx ${out.tx_hash.slice(0, 12)}…)` : ""}.`);
    setTimeout(() => location.reload(), 700);
  }

  const reloadSoon = (ms = 700) => setTimeout(() => location.reload(), ms);

  async function deposit(form) {
    const pool = Number(form.dataset.pool);
    const units = toUnits(form.amount.value);
    if (units <= 0n) throw new Error("deposit a positive amount");
    const label = `deposit ${fmtUnits(units)} FAIR into pool #${pool}`;
    if (wallet.kind === "dev") {
      await logged(label, () => api("POST", `/v1/dev/wallets/${wallet.address}/deposit`, { pool_id: pool, amount: units.toString() }));
    } else if (data.chain.embedded) {
      throw new Error("the embedded chain lives inside the server: browser wallets cannot send to it; use a TEST KEY wallet (--dev) or run the node on an http:// chain");
    } else {
      const token = data.chain.contracts.FairToken, escrow = data.chain.contracts.UsageEscrow;
      const amount = word(units.toString(16));
      say("Approve the escrow in your wallet…");
      await logged(`approve ${fmtUnits(units)} FAIR for the escrow`, (onHash) =>
        walletTx({ from: wallet.address, to: token, data: data.selectors.approve + word(escrow) + amount }, onHash));
      say("Confirm the deposit in your wallet…");
      await logged(label, (onHash) =>
        walletTx({ from: wallet.address, to: escrow, data: data.selectors.deposit + word(BigInt(pool).toString(16)) + amount }, onHash));
    }
    say("Deposited. Reloading…");
    reloadSoon();
  }

  // Withdrawing is two transactions: request (the amount starts to thaw), then complete.
  async function escrowCall(pool, step, units) {
    const label = step === "request" ? `request a withdrawal of ${fmtUnits(units)} FAIR from pool #${pool}` : `complete the withdrawal from pool #${pool}`;
    if (wallet.kind === "dev") {
      const path = `/v1/dev/wallets/${wallet.address}/withdrawal${step === "request" ? "" : "/complete"}`;
      const body = step === "request" ? { pool_id: pool, amount: units.toString() } : { pool_id: pool };
      return logged(label, () => api("POST", path, body));
    }
    if (data.chain.embedded) throw new Error("browser wallets cannot reach the embedded chain; use a TEST KEY wallet (--dev)");
    const escrow = data.chain.contracts.UsageEscrow;
    const call = step === "request"
      ? data.selectors.requestWithdraw + word(BigInt(pool).toString(16)) + word(units.toString(16))
      : data.selectors.withdraw + word(BigInt(pool).toString(16));
    say("Confirm in your wallet…");
    return logged(label, (onHash) => walletTx({ from: wallet.address, to: escrow, data: call }, onHash));
  }

  async function requestWithdrawal(form) {
    const units = toUnits(form.amount.value);
    if (units <= 0n) throw new Error("withdraw a positive amount");
    await escrowCall(Number(form.dataset.pool), "request", units);
    say("Withdrawal requested: it thaws, then you complete it. Reloading…");
    reloadSoon();
  }

  async function tryCall(form) {
    const pool = Number(form.pool.value), kind = form.kind.value, payer = wallet.address;
    const quote = await api("GET", `/v1/pools/${pool}/quote?kind=${kind}&payer=${payer}`);
    // Never sign more than this browser knows it has spent plus the price.
    const key = `fairwheel.spent.${data.chain.chainId}.${pool}.${payer.toLowerCase()}`;
    const known = localStorage.getItem(key);
    if (known !== null && BigInt(quote.spent) > BigInt(known) &&
        !confirm(`The node says you spent ${fmtUnits(quote.spent)} FAIR, this browser knows of ${fmtUnits(known)}. Sign anyway?`)) return;
    say(`Sign a voucher for ${fmtUnits(quote.price)} FAIR (cumulative ${fmtUnits(quote.next_cumulative)})…`);
    const signature = await wallet.signTyped(quote.typed_data);
    const voucher = JSON.stringify({ payer: quote.payer, pool_id: pool, cumulative_amount: quote.next_cumulative });
    const body = kind === "search" ? { query: form.query.value, k: Number(form.k.value) } : { text: form.query.value };
    const res = await api("POST", `/v1/pools/${pool}/${kind}`, body,
      { "X-Fairwheel-Voucher": voucher, "X-Fairwheel-Signature": signature, "Idempotency-Key": uuid() });
    localStorage.setItem(key, quote.next_cumulative);
    const answer = res.prediction !== null
      ? `${res.prediction} (confidence ${res.confidence.toFixed(2)})`
      : (res.hits.length ? res.hits.map((h) => `${h.label || "—"}: ${h.text.slice(0, 40)}`).join(" | ") : "no hits");
    rememberCall(res.seq, { kind, query: form.query.value, answer });
    const out = $("#try-result");
    out.innerHTML = "";
    const head = document.createElement("p");
    head.textContent = `Call #${res.seq}: paid ${fmtUnits(res.price)} FAIR — operator ${fmtUnits(res.operator_fee)}, builder ${fmtUnits(res.builder_amount)}, ${res.attribution.length} contributor(s).`;
    out.appendChild(head);
    if (res.prediction !== null) {
      const p = document.createElement("p");
      p.textContent = `Prediction: ${res.prediction} (confidence ${res.confidence.toFixed(2)}, model ${res.model_hash.slice(0, 10)}…)`;
      out.appendChild(p);
    }
    for (const hit of res.hits) {
      const div = document.createElement("div");
      div.className = "hit";
      div.textContent = `${hit.score.toFixed(3)} · ${hit.text} [${hit.label || "—"}] · record ${hit.record_id} by ${hit.contributor.slice(0, 8)}…`;
      out.appendChild(div);
    }
    const link = el("a", "", "See it in your usage");
    link.href = "/consumer?page=1#usage";
    out.appendChild(link);
    say("Done.");
  }

  const actions = {
    login, 
    async logout() { await api("POST", "/v1/auth/logout"); localStorage.removeItem(CHOICE); location.reload(); },
    async revoke(el) { await revoke(el.dataset.record); },
    async claim(el) {
      const out = await api("POST", `/v1/pools/${el.dataset.pool}/claims/${wallet.address}`, undefined, { "Idempotency-Key": uuid() });
      say(`Claimed ${fmtUnits(out.paid)} FAIR.`); setTimeout(() => location.reload(), 700);
    },
    async anchor(btn) {
      await poolOp(btn, `Anchoring pool #${btn.dataset.pool}'s pending records on-chain…`, async () => {
        const o = await api("POST", `/v1/pools/${btn.dataset.pool}/anchor`);
        return o.anchored ? `Anchored ${count(o.anchored)} records in batch ${o.batch_id}` : "Nothing to anchor";
      });
    },
    async train(btn) {
      await poolOp(btn, `Training a new model for pool #${btn.dataset.pool}…`, async () => {
        const o = await api("POST", `/v1/pools/${btn.dataset.pool}/models`, {});
        const acc = o.metrics && o.metrics.accuracy !== undefined ? `, held-out accuracy ${Number(o.metrics.accuracy).toFixed(3)}` : "";
        return `Model v${o.version} registered${acc}`;
      });
    },
    async rollback(btn) {
      await poolOp(btn, `Rolling pool #${btn.dataset.pool} back…`, async () => {
        const o = await api("POST", `/v1/pools/${btn.dataset.pool}/versions/rollback`);
        return `Version ${o.version} serves again`;
      });
    },
    async "close-epoch"(btn) {
      await poolOp(btn, `Closing pool #${btn.dataset.pool}'s epoch: redeeming vouchers and posting the root…`, async () => {
        const o = await api("POST", `/v1/pools/${btn.dataset.pool}/epochs`, undefined, { "Idempotency-Key": uuid() });
        if (!o.posted) return `Nothing to post yet: ${(o.warnings || []).slice(-1)[0] || "no voucher collected"}`;
        return `Epoch ${o.epoch} closed: ${fmtUnits(o.paid)} FAIR paid, root ${o.root.slice(0, 12)}…`;
      });
    },
    async "advance-time"(btn) {
      const seconds = Number(btn.dataset.seconds || 3601);
      await api("POST", `/v1/dev/advance-time?seconds=${seconds}`);
      say("Chain time advanced."); setTimeout(() => location.reload(), 500);
    },
    async rate(btn) {
      const rating = Number(btn.dataset.rating), seq = btn.dataset.seq;
      await api("POST", `/v1/calls/${seq}/feedback`, { rating });
      const cell = btn.closest("td") || btn.parentElement;
      cell.innerHTML = "";
      const stars = el("span", "stars", "★".repeat(rating));
      stars.title = `${rating} of 5`;
      cell.appendChild(stars);
      say(`Call #${seq} rated ${rating} of 5.`);
    },
    async faucet() {
      await logged("faucet: 1000 test FAIR and 1 test ETH", async () => {
        await api("POST", "/v1/dev/faucet", { address: wallet.address });
        return null;
      });
      say("Test tokens received. Reloading…");
      reloadSoon();
    },
    async withdraw(btn) { await escrowCall(Number(btn.dataset.pool), "complete", 0n); say("Withdrawn. Reloading…"); reloadSoon(); },
    async review(btn) {
      const o = await api("POST", `/v1/records/${btn.dataset.record}/review`, { decision: btn.dataset.decision });
      say(`Record ${o.record_id}: ${o.before} → ${o.after}.`); reloadSoon();
    },
    async reload() {
      sessionStorage.removeItem("fairwheel.lastUpload");
      sessionStorage.setItem("fairwheel.scrollTo", "records");
      location.reload();
    },
  };

  function guard(fn) {
    return async (...args) => {
      try { await fn(...args); } catch (err) { say(err.message || String(err), true); }
    };
  }

  document.addEventListener("DOMContentLoaded", () => {
    wallet.restore();
    const group = $("#dev-wallets");
    if (group) {
      for (const w of data.devWallets) {
        const opt = document.createElement("option");
        opt.value = w.address;
        opt.textContent = `TEST KEY · ${w.name} (${w.role}) ${w.address.slice(0, 8)}…`;
        group.appendChild(opt);
      }
      const last = localStorage.getItem(CHOICE);
      if (last) $("#wallet-choice").value = last;
    }
    document.body.addEventListener("click", (ev) => {
      const el = ev.target.closest("[data-action]");
      if (el && actions[el.dataset.action]) { ev.preventDefault(); guard(actions[el.dataset.action])(el); }
    });
    const submitForm = $("#submit-form");
    if (submitForm) submitForm.addEventListener("submit", (ev) => { ev.preventDefault(); guard(submitRecords)(submitForm); });
    const tryForm = $("#try-form");
    if (tryForm) tryForm.addEventListener("submit", (ev) => { ev.preventDefault(); guard(tryCall)(tryForm); });
    for (const form of document.querySelectorAll(".deposit-form")) {
      form.addEventListener("submit", (ev) => { ev.preventDefault(); guard(deposit)(form); });
    }
    for (const form of document.querySelectorAll(".withdraw-form")) {
      form.addEventListener("submit", (ev) => { ev.preventDefault(); guard(requestWithdrawal)(form); });
    }
    const poolChoice = $("#submit-pool");
    const showTerms = () => {
      for (const box of document.querySelectorAll("#submit-form [data-pool-terms]")) box.hidden = box.dataset.poolTerms !== poolChoice.value;
    };
    if (poolChoice) { poolChoice.addEventListener("change", showTerms); showTerms(); }
    txlog.render();
    if (data.session) showCalls();
    showUpload(stored(sessionStorage, "fairwheel.lastUpload", null));
    showLastOp();
    const target = sessionStorage.getItem("fairwheel.scrollTo");
    if (target) { sessionStorage.removeItem("fairwheel.scrollTo"); const box = document.getElementById(target); if (box) box.scrollIntoView(); }
  });
})();
